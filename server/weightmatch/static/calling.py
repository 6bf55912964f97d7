"""Calls: evaluating a call's arguments, dispatching on what is called (a user class or
function, a torch reference, a method), a function's frame, and binding arguments to
parameters the way Python does. Mixed into interp.Interp."""

from __future__ import annotations

import ast
from typing import Any

from .. import binding
from . import instances
from .userdefs import MAX_DEPTH, BoundFunc, Frame, UserClass, UserFunc, _Break, _Continue, _Return, guard
from .values import BoundMethod, Instance, Module, Partial, Ref, StaticUnsupported, Tensor, Unknown, describe


class Calls:
    def _eval_Call(self, node: ast.Call, frame: Frame) -> Any:
        func = self.eval(node.func, frame)
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                value = self.eval(a.value, frame)
                if isinstance(value, Unknown):
                    raise StaticUnsupported(f"`*{frame.file.segment(a.value)}` is not known statically: {value.reason}")
                args.extend(self.iterate(value, a))
            else:
                args.append(self.eval(a, frame))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = self.eval(kw.value, frame)
            if kw.arg is None:
                if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                    raise StaticUnsupported(f"`**{frame.file.segment(kw.value)}` is not known statically")
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        if isinstance(func, Unknown):
            what = frame.file.segment(node.func, 50)
            guard(f"`{what}`", args, kwargs)
            return Unknown(f"calls `{what}`, whose result is not known statically")
        made = self.call(func, args, kwargs, frame, node)
        if isinstance(made, (Module, Tensor)) and made.origin is None and frame.file.origin is None \
                and (isinstance(made, Module) or made.param) and not _passed_in(made, args, kwargs) \
                and not _in_place(node):
            made.origin = (frame.file.path, node)  # where the layer is made: the squiggle's line
        return made

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], frame: Frame | None = None,
             node: ast.AST | None = None) -> Any:
        if isinstance(func, UserClass):
            return self.ops.instantiate(func, args, kwargs)
        if isinstance(func, UserFunc):
            if func.owner is not None and func.decorator() not in (None, "staticmethod"):
                raise StaticUnsupported(f"`{func.name}` is a decorated method")
            return self.call_function(func, args, kwargs)
        if isinstance(func, BoundFunc):
            return self.call_function(func.func, [func.self_obj, *args], kwargs)
        if isinstance(func, Ref) and func.name == "functools.partial":
            if not args:
                raise StaticUnsupported("`functools.partial` without a function")
            return Partial(args[0], tuple(args[1:]), dict(kwargs))
        if isinstance(func, Partial):  # later keywords override the bound ones, as partial does
            return self.call(func.func, [*func.args, *args], {**func.kwargs, **kwargs}, frame, node)
        if isinstance(func, Ref):
            return self.ops.call_ref(func, args, kwargs, frame)
        if isinstance(func, BoundMethod) and func.name == "save_hyperparameters":
            return self.ops.save_hyperparameters(func.obj, args, kwargs, frame)
        if isinstance(func, BoundMethod):
            return self.ops.call_method(func.obj, func.name, args, kwargs)
        if isinstance(func, Instance):
            method = instances.special(func, "__call__")
            if method is None:
                raise StaticUnsupported(f"a `{func.cls.name}` object is not callable (Python raises TypeError)")
            return self.call_function(method, [func, *args], kwargs)
        if isinstance(func, Module):
            guard(f"calls the module `{func.name}` (its forward)", args, kwargs)
            return Unknown(f"calls the module `{func.name}`: its output is not known statically")
        what = func.reason if isinstance(func, Unknown) else f"{describe(func)} is not callable statically"
        guard(what, args, kwargs)
        return Unknown(f"calls a function whose result is not known statically ({what})")

    def call_function(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any],
                      self_obj: Any = None) -> Any:
        if isinstance(func.node, (ast.AsyncFunctionDef,)):
            raise StaticUnsupported(f"`{func.name}` is async")
        if self.depth >= MAX_DEPTH:
            raise StaticUnsupported("calls nest too deeply to follow statically")
        parent = func.closure
        frame = Frame(func.file, {}, parent, func, args[0] if args and func.owner is not None else None)
        self.bind_args(func, args, kwargs, frame)
        self.depth += 1
        try:
            if isinstance(func.node, ast.Lambda):
                return self.eval(func.node.body, frame)
            try:
                self.exec_body(func.node.body, frame)
            except _Return as r:
                return r.value
            except (_Break, _Continue):
                raise StaticUnsupported("`break` outside a loop") from None
            return None
        finally:
            self.depth -= 1

    def bind_args(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any], frame: Frame) -> None:
        defaults_frame = func.closure or Frame(func.file)

        def problem(message: str, param: str | None) -> Any:
            raise StaticUnsupported(message)

        policy = binding.Policy(default=lambda node: self.eval(node, defaults_frame), problem=problem)
        frame.locals.update(binding.bind(func.node.args, func.name, args, kwargs, policy))

def _passed_in(made: Any, args: list[Any], kwargs: dict[str, Any]) -> bool:
    """Whether a call gave back one of its own arguments (`nn.init.normal_(m.weight)` returns the
    tensor it filled): such a call did not make the layer, so its line is not the layer's line."""
    return any(made is a for a in args) or any(made is v for v in kwargs.values())


def _in_place(node: ast.AST | None) -> bool:
    """`m.bias.data.zero_()`, `m.weight.data.normal_(0, 0.01)` in an init loop: an in-place method
    gives back the tensor it changed, which it did not make (its layer's line is the squiggle's)."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_") \
        and not node.func.attr.startswith("_")
