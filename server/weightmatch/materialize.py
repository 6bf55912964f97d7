"""Turns a tracked state-dict value (values.SourceVal) into what load_state_dict will
receive: a StateDict of TensorInfo read from the checkpoint or the model, with every
recorded operation applied in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from weightmatch.key_loops import run_key_loop, run_loop
from weightmatch.keyexpr import (ConfigNamespace, Evaluator, Methods, ModuleProxy, Unknowable, Unresolvable, indexed,
                                run_comprehension)
from weightmatch import saved_modules
from weightmatch.types import Checkpoint, ExpectedState, Opaque, RuntimeValue, SavedModule, StateDict, TensorInfo
from weightmatch.values import (
    At, CondVal, Guard, Const, DictLit, EmptyDict, LoadedFile, MethodsOf, ModelAttr, ModelVal, ObjVal, SourceVal, StateDictOf,
    Unknown,
)


class Problem(Exception):
    """A definite outcome found while materializing: the script raises here, or we cannot tell."""

    def __init__(self, code: str, message: str, node: Any = None, file: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.node = node
        self.file = file


class Context(Protocol):
    def checkpoint(self, loaded: LoadedFile) -> Checkpoint: ...

    def expected(self, model: ModelVal | ModelAttr) -> ExpectedState: ...


def state_dict_of(expected: ExpectedState) -> StateDict:
    """What `model.state_dict()` returns: keys, shapes, and `_metadata` versions."""
    sd = StateDict(expected.keys())
    sd.ordered = True
    sd.metadata = {path: {"version": spec.version} if spec.version is not None else {}
                   for path, spec in expected.modules.items()}
    return sd


INF = float("inf")


def materialize(value: Any, ctx: Context, upto: float = INF) -> Any:
    """The concrete object `value` is at program point `upto` (see values.now)."""
    if isinstance(value, At):
        return materialize(value.value, ctx, min(upto, value.upto))
    if isinstance(value, Unknown):
        raise Unresolvable(value.reason)
    if isinstance(value, Const):
        return value.value
    if isinstance(value, ObjVal) and value.cls is None:
        # a namespace (`args`, a SimpleNamespace): its known attributes, for a test like
        # `if args.checkpoint_key in state_dict:`; an unknown one stays unknowable
        return ConfigNamespace({k: _env_value(v, ctx) for k, v in value.attrs.items()})
    if isinstance(value, (ModelVal, ModelAttr)):
        # a call that may build a model: a module only if it builds as one, else known only at run time
        try:
            root = ctx.expected(value).modules.get("")
        except Unresolvable:
            raise Unresolvable(f"`{_call_text(value)}` is known only at run time") from None
        return Opaque(root.type if root is not None else "torch.nn.Module", "a model object")
    if not isinstance(value, SourceVal):
        raise Unresolvable("a value that is not known")
    base_upto = upto if value.base_upto is None else min(upto, value.base_upto)
    obj = _base(value.base, ctx, base_upto)
    for op in value.ops:
        if op.seq < upto and all(guard_holds(g, ctx) for g in op.guards):
            obj = _apply(obj, op, ctx, upto)
    return obj


def guard_holds(guard: Guard, ctx: Context) -> bool:
    """Whether an operation recorded under `guard` runs; Unresolvable when that is known only at run time."""
    if any(guard is g for g in getattr(ctx, "guards", ())):
        return True  # the load call runs under the same condition: when it runs, so did this
    if guard.test is None:
        raise Unresolvable(f"the state dict is changed {guard.reason}")
    import ast

    env = {k: _env_value(v, ctx) for k, v in guard.env.items()}
    try:
        value = bool(Evaluator(env).ev(guard.test))
    except Unresolvable:
        raise Unresolvable(f"`{ast.unparse(guard.test)}` is known only at run time") from None
    except Exception as exc:  # noqa: BLE001 - the test itself would raise at run time
        raise Unresolvable(f"`{ast.unparse(guard.test)}` raises {type(exc).__name__}") from None
    return value == guard.polarity


def _base(base: Any, ctx: Context, upto: float) -> Any:
    if isinstance(base, SourceVal):
        return materialize(base, ctx, upto)
    if isinstance(base, CondVal):
        return materialize(base.then if guard_holds(base.guard, ctx) else base.orelse, ctx, upto)
    if isinstance(base, LoadedFile):
        if base.virtual is not None:
            return materialize(base.virtual, ctx)
        return _copy(ctx.checkpoint(base).obj)
    if isinstance(base, StateDictOf):
        return state_dict_of(ctx.expected(base.model))
    if isinstance(base, EmptyDict):
        sd = StateDict()
        sd.ordered = base.ordered
        return sd
    if isinstance(base, DictLit):
        sd = StateDict()
        for k, v in base.entries.items():
            try:
                sd[k] = materialize(v, ctx)
            except Unresolvable as exc:
                sd[k] = RuntimeValue(str(exc) or RuntimeValue.reason)
        return sd
    raise Unresolvable("a value that is not known")


def _copy(obj: Any) -> Any:
    """Checkpoints are cached and shared: operations work on a copy of the mappings."""
    if isinstance(obj, StateDict):
        out = StateDict((k, _copy(v)) for k, v in obj.items())
        out.metadata = None if obj.metadata is None else {k: dict(v) for k, v in obj.metadata.items()}
        out.ordered = obj.ordered
        return out
    return obj


def _key(op_arg: Any) -> Any:
    if isinstance(op_arg, Const):
        return op_arg.value
    if isinstance(op_arg, Unknown):
        raise Unresolvable(op_arg.reason)
    raise Unresolvable("a key that is not known")


def _apply(obj: Any, op: Any, ctx: Context, upto: float = INF) -> Any:
    kind = op.kind
    if kind == "subscript":
        return _subscript(obj, op)
    if kind == "get":
        key, default = op.arg
        key = _key(key)
        if isinstance(obj, Mapping) and key in obj:
            return obj[key]
        if isinstance(obj, Mapping):
            return materialize(default, ctx, upto)  # the default object itself, as it is at `upto`
        raise Unresolvable("`.get` on something that is not a dict")
    if kind == "unknown":
        raise Unresolvable(f"the state dict is changed by {op.arg}")
    if kind == "module-self":  # `ckpt["model"].float()`: the pickled module itself
        if isinstance(obj, SavedModule):
            return obj
        raise Unresolvable(f"`.{op.arg}()` on {_what(obj)}")
    if kind == "module-state":  # `ckpt["model"].state_dict()`
        state = saved_modules.state_dict(obj, op.arg)
        if isinstance(state, str):
            raise Unresolvable(f"`.state_dict()` of what the checkpoint holds: {state}")
        return state
    if not isinstance(obj, Mapping):
        raise Unresolvable(f"`{kind}` on something that is not a dict")
    if kind == "key-list":  # `list(sd.keys())`, `tuple(sd)`, `sorted(sd)`: the keys then
        keys = list(obj)
        return sorted(keys) if op.arg == "sorted" else tuple(keys) if op.arg == "tuple" else keys
    apply = _MAPPING_OPS.get(kind)
    if apply is None:
        raise Unresolvable(f"operation {kind}")
    return apply(obj, op, ctx)


def _subscript(obj: Any, op: Any) -> Any:
    key = _key(op.arg)
    if isinstance(obj, Mapping):
        if key not in obj:
            raise Problem("key-error", f"KeyError: {key!r} — the object has keys {_keys_text(obj)}", op.node)
        return obj[key]
    if isinstance(obj, (RuntimeValue, Opaque)):
        # known only at run time, or an object of a class we did not rebuild (it may define __getitem__)
        raise Unresolvable(f"`[{key!r}]` on {_what(obj)}")
    if isinstance(obj, TensorInfo):
        return indexed(obj, key)  # `qkv[:dim, :]` of a fused weight: its shape
    if isinstance(obj, (list, tuple, str)) and isinstance(key, int):
        if -len(obj) <= key < len(obj):
            return obj[key]
        raise Problem("key-error", f"IndexError: index {key} is out of range (length {len(obj)})", op.node)
    raise Problem("key-error", f"TypeError: {type(obj).__name__} object is not subscriptable by {key!r}", op.node)


def _pop(obj: Any, op: Any, ctx: Context) -> Any:
    obj.pop(_key(op.arg), None)
    return obj


def _update(obj: Any, op: Any, ctx: Context) -> Any:
    other = materialize(op.arg, ctx)
    if not isinstance(other, Mapping):
        raise Unresolvable("update() with something that is not a dict")
    obj.update(other)
    return obj


def _setitem(obj: Any, op: Any, ctx: Context) -> Any:
    key, value = op.arg
    obj[_key(key)] = _value_or_runtime(value, ctx)
    return obj


def _drop_metadata(obj: Any, op: Any, ctx: Context) -> Any:
    """`del state_dict._metadata`: the same keys, no versions (load_state_dict then takes every
    module's version as None: BatchNorm fills in a missing num_batches_tracked)."""
    out = StateDict(obj)
    out.ordered = getattr(obj, "ordered", False)
    out.metadata = None
    return out


def _shallow_copy(obj: Any, op: Any, ctx: Context) -> Any:
    out = StateDict(obj)
    out.ordered = op.arg is True or getattr(obj, "ordered", False)
    out.metadata = getattr(obj, "metadata", None) if op.arg == "keep-metadata" else None
    return out


def _comprehension(obj: Any, op: Any, ctx: Context) -> Any:
    env = {k: _env_value(v, ctx) for k, v in op.env.items()}
    if op.arg is not None:  # `{k[7:]: sd[k] for k in keys}`: its keys walked, `sd` as it was then
        name, sort = op.arg
        env[name] = obj
        return StateDict(run_comprehension(op.node, obj, env, keys=sorted(obj) if sort else list(obj)))
    return StateDict(run_comprehension(op.node, obj, env))


def _loop(obj: Any, op: Any, ctx: Context) -> Any:
    source = materialize(op.arg, ctx)
    if not isinstance(source, Mapping):
        raise Unresolvable("a loop over something that is not a dict")
    dest_name = next(t.value.id for t in _stores(op.node))
    env = {k: _env_value(v, ctx) for k, v in op.env.items() if k != dest_name}
    env[dest_name] = obj
    obj.update(run_loop(op.node, source, dest_name, env))
    return obj


def _key_loop(obj: Any, op: Any, ctx: Context) -> Any:
    """`for k in list(sd): ... sd[new] = sd.pop(k)`: run over the real keys, in place."""
    env = {k: _loop_value(v, ctx) for k, v in op.env.items() if k != op.arg}
    run_key_loop(op.node, obj, op.arg, env)
    return obj


_MAPPING_OPS = {
    "pop": _pop, "del": _pop, "update": _update, "setitem": _setitem, "copy": _shallow_copy, "drop-metadata": _drop_metadata,
    "comprehension": _comprehension, "loop": _loop, "keyloop": _key_loop,
    "strip-prefix": lambda obj, op, ctx: _consume_prefix(obj, _key(op.arg)),
}


def _stores(node):
    import ast

    return [t for t in ast.walk(node) if isinstance(t, ast.Subscript) and isinstance(t.ctx, ast.Store)
            and isinstance(t.value, ast.Name)]


def _value_or_runtime(value: Any, ctx: Context) -> Any:
    """The value stored by `sd[k] = value`: materialized when it is known, else known only at run time."""
    try:
        return materialize(value, ctx)
    except Unresolvable as exc:
        return RuntimeValue(str(exc) or RuntimeValue.reason)


def _call_text(value: Any) -> str:
    node = getattr(value, "call", None) or getattr(getattr(value, "model", None), "call", None)
    import ast

    return ast.unparse(node) if isinstance(node, ast.AST) else "a call's result"


def _what(obj: Any) -> str:
    if isinstance(obj, RuntimeValue):
        return "a value known only at run time"
    if isinstance(obj, Opaque):
        return f"a `{obj.name}` object"
    return f"a `{type(obj).__name__}`" if not isinstance(obj, Mapping) else "a dict"


def _loop_value(value: Any, ctx: Context) -> Any:
    """A name a key loop reads: a model as its modules (types, tensors, children), an object as
    the methods the loop calls on it; else as any other name."""
    if isinstance(value, MethodsOf):
        return Methods(value.methods)
    if isinstance(value, (ModelVal, ModelAttr)) or isinstance(value, At) and isinstance(value.value, (ModelVal, ModelAttr)):
        try:
            return ModuleProxy(ctx.expected(value), "")
        except Unresolvable as exc:
            return Unknowable(str(exc) or "a model not known statically")
    return _env_value(value, ctx)


def _env_value(value: Any, ctx: Context) -> Any:
    try:
        return materialize(value, ctx)
    except Unresolvable as exc:
        return Unknowable(getattr(value, "reason", None) or str(exc) or "a value not known statically")


def _consume_prefix(sd: Mapping, prefix: str) -> Mapping:
    """torch.nn.modules.utils.consume_prefix_in_state_dict_if_present, on keys and `_metadata`."""
    for key in list(sd.keys()):
        if key.startswith(prefix):
            sd[key[len(prefix):]] = sd.pop(key)
    meta = getattr(sd, "metadata", None)
    if meta is not None:
        for key in list(meta.keys()):
            if len(key) == 0:
                continue
            if key == prefix.replace(".", "") or key.startswith(prefix):
                meta[key[len(prefix):]] = meta.pop(key)
    return sd


def _keys_text(obj: Mapping) -> str:
    keys = [repr(k) for k in list(obj.keys())[:6]]
    more = len(obj) - len(keys)
    return ", ".join(keys) + (f" and {more} more" if more > 0 else "")

