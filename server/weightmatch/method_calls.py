"""A method called on a value the source interpreter tracks: `Path(p).joinpath(...)`,
`json.load(f).get(...)`, in-place changes of known data, a checkpoint's `.get` / `.pop` /
`.copy()`, a tensor's `.size()`, `model.state_dict()`, `model.to(device)`. None when the
method is not one of these (the caller goes on with its other rules)."""

from __future__ import annotations

import ast
import re
import functools
import posixpath
from typing import Any

from weightmatch import accelerate_calls, config_data, const_mutation, file_paths, plain, saved_modules
from weightmatch.values import (
    ClassVal, Const, FuncVal, JsonFile, ModelAttr, ModelPart, ModelVal, Op, PathStr, SourceVal, Unknown, model_state,
)

# Methods that return the module itself and change nothing load_state_dict looks at.
SELF_RETURNING = {"to", "cuda", "cpu", "eval", "train", "float", "half", "double", "bfloat16",
                  "requires_grad_", "share_memory", "type", "xpu", "mps", "zero_grad", "to_empty"}


def call(ev, func: ast.Attribute, node: ast.Call, env: dict) -> Any:
    """`func(...)` where `func` is `owner.attr`; None when no rule here applies."""
    args = node.args
    owner = ev.ev(func.value, env)
    made = file_paths.method(ev, owner, func.attr, args, env)
    if made is not None:
        return made
    if isinstance(owner, JsonFile):
        owner = config_data.read_data(ev, owner)  # `json.load(f).get("depth", 3)`
    listed = const_mutation.module_list(ev, owner, node, env)
    if listed is not None:
        return listed
    data = const_mutation.known_data(ev, owner, func.attr)
    if data is not None:
        return const_mutation.call(ev, data, node, env, direct=data is owner)
    if isinstance(owner, Const):
        made = plain.re_method(ev, owner, node, env) if isinstance(owner.value, (re.Pattern, re.Match)) else \
            plain.const_method(ev, owner, node, env)
        if made is not None:
            return made
    if accelerate_calls.is_accelerator(owner):
        made = accelerate_calls.method(ev, func.attr, node, env)
        if made is not None:
            return made
    if isinstance(owner, (ModelVal, ModelAttr)):
        return _model_method(ev, owner, func.attr, node, env)
    if isinstance(owner, SourceVal):
        return _checkpoint_method(ev, owner, func.attr, node, env)
    if isinstance(owner, Const) and isinstance(owner.value, str):
        return _path_method(ev, owner, func.attr, args, env)
    return None


def _model_method(ev, owner: ModelVal | ModelAttr, attr: str, node: ast.Call, env: dict) -> Any:
    """A method of a tracked model (or a part of one) that gives a value; None for others."""
    args = node.args
    if isinstance(owner, ModelVal) and attr in SELF_RETURNING:
        return owner
    if attr == "get_submodule" and len(args) == 1:
        return _submodule(ev, owner, ev.ev(args[0], env), node)
    if attr == "state_dict" and not args:
        return model_state(owner)
    if isinstance(owner, ModelVal) and not args and not node.keywords:
        return _getter(ev, owner, attr)
    if isinstance(owner, ModelAttr) and attr in ("size", "dim") and not node.keywords:
        return ev.tensor_fact(ev.model_tensor(owner, node), attr, [ev.ev(a, env) for a in args])
    return None


def _getter(ev, owner: ModelVal, name: str) -> Any:
    """`model.get_model()` of a workspace class whose method only returns one of its attributes
    (LLaVA's `def get_model(self): return self.model`): that attribute, as `model.model` reads."""
    fn = ev.class_attr(owner.cls, name) if isinstance(owner.cls, ClassVal) else None
    if not isinstance(fn, FuncVal) or not isinstance(fn.node, ast.FunctionDef) or len(fn.node.args.args) != 1 \
            or fn.node.decorator_list:
        return None
    body = [s for s in fn.node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    ret = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
    this = fn.node.args.args[0].arg
    if not (isinstance(ret, ast.Attribute) and isinstance(ret.value, ast.Name) and ret.value.id == this):
        return None
    return owner.attribute(ret.attr)


def _submodule(ev, owner: ModelVal | ModelAttr, name: Any, node: ast.Call) -> Any:
    """`model.get_submodule("blocks.0.attn")`: that part; with a name known only at run time, some
    part of the model (values.ModelPart)."""
    model, path = (owner, []) if isinstance(owner, ModelVal) else (owner.model, owner.path)
    if isinstance(name, Const) and isinstance(name.value, str):
        parts = [*path, *(name.value.split(".") if name.value else [])]
        return ModelAttr(model, parts) if parts else model
    return ModelPart(f"`{ev.pf.segment(node)}` is a part of the model known only at run time", model)


def _path_method(ev, owner: Const, attr: str, args: list[ast.expr], env: dict) -> Any:
    """`Path(p).resolve()`, `.joinpath(...)` of a known path (kept as its text)."""
    if attr in ("resolve", "absolute", "expanduser") and not args:
        return owner
    if attr == "joinpath":
        parts = [ev.ev(a, env) for a in args]
        if all(isinstance(p, Const) for p in parts):
            joined = posixpath.join(owner.value, *[str(p.value) for p in parts])
            return Const(PathStr(joined) if isinstance(owner.value, PathStr) else joined)
    return None


def _checkpoint_method(ev, owner: SourceVal, attr: str, node: ast.Call, env: dict) -> Any:
    """A method of a value read from a checkpoint (or a state dict the program tracks)."""
    args = node.args
    if attr in ("size", "dim") and not node.keywords:
        return ev.tensor_fact(owner, attr, [ev.ev(a, env) for a in args])
    if attr == "copy" and not args:
        return owner.derive(Op("copy", "shallow", node))
    if attr == "get_tensor" and len(args) == 1 and not node.keywords:  # a safe_open file's
        return owner.derive(Op("subscript", ev.ev(args[0], env), node))
    if attr == "state_dict" and not args and not node.keywords:  # of a module pickled whole
        return owner.derive(Op("module-state", functools.partial(saved_modules.class_version, ev), node))
    if attr in SELF_RETURNING:
        return owner.derive(Op("module-self", attr, node))
    if attr in ("get", "pop") and args:
        key = ev.ev(args[0], env)
        entry = plain.program_dict_get(owner, key)
        if entry is not None and attr == "pop":  # HF's `config = kwargs.pop("config", None)` of `**kwargs`
            if entry is plain.ABSENT:
                return ev.ev(args[1], env) if len(args) > 1 else Unknown(f"`{ev.pf.segment(node)}` raises KeyError")
            owner.ops.append(Op("pop", key, node))
            return entry
        if entry is not None:  # `self._modules.get(name)`: a registry's class itself
            return entry if entry is not plain.ABSENT else \
                ev.ev(args[1], env) if len(args) > 1 else Const(None)
        if attr == "get" or len(args) > 1:
            # not frozen: `.get(k, d)` returns `d` itself, later changes to it show
            default = ev.ev(args[1], env) if len(args) > 1 else Const(None)
            op = Op("get", (key, default), node)
        else:
            op = Op("subscript", key, node)
        result = owner.derive(op)
        if attr == "pop":
            owner.ops.append(Op("pop", key, node))
        return result
    return Unknown(f"`{ev.pf.segment(node)}` is not known")
