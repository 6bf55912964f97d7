"""What running user code makes, below the interpreter that makes it: frames, the user's
classes and functions (a class body is evaluated lazily, through the interpreter's
`Evaluator` interface), bound functions, `super()` proxies, workspace modules, the
control-flow signals of `return`/`break`/`continue`, the work limits, and the guard that
stops before an unknown call could change what is read later."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import sources
from .values import BoundMethod, Module, Namespace, Ref, StaticUnsupported, Unknown

MAX_STEPS = 200_000
MAX_DEPTH = 40


class Evaluator(Protocol):
    """The interpreter (interp.Interp) as the modules below it call it back."""

    def eval(self, node: ast.expr, frame: Frame) -> Any: ...

    def eval_safe(self, node: ast.expr, frame: Frame) -> Any: ...

    def iterate(self, value: Any, node: ast.AST | None = None) -> list[Any]: ...

    def getattr(self, obj: Any, name: str) -> Any: ...

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], frame: Frame | None = None,
             node: ast.AST | None = None) -> Any: ...

    def call_function(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any],
                      self_obj: Any = None) -> Any: ...


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class UserClass:
    file: sources.SourceFile
    node: ast.ClassDef
    interp: Evaluator
    _bases: list[Any] | None = None
    _body: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def qualname(self) -> str:
        return f"{self.file.modname}.{self.node.name}"

    def bases(self) -> list[Any]:
        if self._bases is None:
            if self.node.keywords or self.node.decorator_list:
                raise StaticUnsupported(f"class `{self.name}` uses a decorator or class keywords")
            self._bases = [self.interp.eval(b, Frame(self.file)) for b in self.node.bases]
            if len(self._bases) != 1:
                raise StaticUnsupported(f"class `{self.name}` does not have exactly one base class")
        return self._bases

    def base(self) -> Any:
        return self.bases()[0]

    def body(self) -> dict[str, Any]:
        """Class attributes: functions as nodes, simple assignments evaluated."""
        if self._body is None:
            self._body = {}
            frame = Frame(self.file)
            for stmt in self.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._body[stmt.name] = UserFunc(self.file, stmt, None, owner=self)
                elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
                    value = self.interp.eval_safe(stmt.value, frame)
                    for t in stmt.targets:
                        self._body[t.id] = value
                        frame.locals[t.id] = value
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    if stmt.value is not None:
                        value = self.interp.eval_safe(stmt.value, frame)
                        self._body[stmt.target.id] = frame.locals[stmt.target.id] = value
                elif isinstance(stmt, (ast.Pass, ast.Expr)):
                    continue
                else:
                    for name in sources._bound_names(stmt):
                        self._body[name] = Unknown(f"class attribute `{name}` is set conditionally")
        return self._body

    def chain(self) -> list["UserClass"]:
        out, cls = [], self
        while isinstance(cls, UserClass):
            if cls in out:
                raise StaticUnsupported(f"class `{self.name}` inherits from itself")
            out.append(cls)
            cls = cls.base()
        return out

    def torch_base(self) -> Ref:
        base = self.chain()[-1].base()
        if not isinstance(base, Ref) or not base.name.startswith("torch.nn."):
            what = base.reason if isinstance(base, Unknown) else "is not an nn.Module"
            raise StaticUnsupported(f"class `{self.name}`: its base class {what}")
        return base

    def lookup(self, name: str) -> Any:
        for cls in self.chain():
            body = cls.body()
            if name in body:
                return body[name]
        return None


@dataclass
class UserFunc:
    file: sources.SourceFile
    node: ast.FunctionDef | ast.Lambda
    closure: "Frame | None"
    owner: UserClass | None = None  # the class whose body defines it (for super())

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")

    def decorator(self) -> str | None:
        decorators = getattr(self.node, "decorator_list", [])
        if not decorators:
            return None
        if len(decorators) == 1 and isinstance(decorators[0], ast.Name):
            return decorators[0].id
        return "?"


@dataclass
class BoundFunc:
    func: UserFunc
    self_obj: Any


@dataclass
class SuperProxy:
    cls: UserClass
    obj: Module


@dataclass
class WorkspaceModule:
    file: sources.SourceFile


@dataclass
class Frame:
    file: sources.SourceFile
    locals: dict[str, Any] = field(default_factory=dict)
    parent: "Frame | None" = None  # enclosing function (closures)
    func: UserFunc | None = None
    self_obj: Any = None
    is_module: bool = False  # the recipe's top level (steps)


def guard(what: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """An unknown callable that receives a module could add layers to it, and one that
    receives a list, dict or set could change values read later: stop, rather than guess."""
    for value in [*args, *kwargs.values()]:
        if _holds_module(value):
            raise StaticUnsupported(f"passes a module to a call not known statically: {what}")
        if _holds_mutable(value):
            raise StaticUnsupported(f"passes a {_mutable_kind(value)} to a call not known statically "
                                    f"(it could change it): {what}")


def _holds_module(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (Module, SuperProxy)):
        return True
    if depth < 4 and isinstance(value, (list, tuple)):
        return any(_holds_module(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return any(_holds_module(v, depth + 1) for v in value.values())
    return False


# What an unknown callable could change, or call back into to change what is read later.
_MUTABLE = (list, dict, set, bytearray, WorkspaceModule, UserFunc, BoundFunc, UserClass, Namespace)


def _holds_mutable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _MUTABLE):
        return True
    if isinstance(value, BoundMethod):
        return _holds_mutable(value.obj, depth + 1) or _holds_module(value.obj)
    return depth < 4 and isinstance(value, tuple) and any(_holds_mutable(v, depth + 1) for v in value)


def _mutable_kind(value: Any) -> str:
    if isinstance(value, tuple):
        return _mutable_kind(next(v for v in value if _holds_mutable(v)))
    if isinstance(value, WorkspaceModule):
        return "module of the workspace"
    if isinstance(value, (UserFunc, BoundFunc, BoundMethod)):
        return "function"
    return "class" if isinstance(value, UserClass) else f"`{type(value).__name__}`"

