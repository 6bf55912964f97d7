"""`copy.deepcopy` and `copy.copy` over abstract values, as Python's copy module treats them:
classes, functions and modules are atomic; containers, modules (`_get_clones`), tensors,
config objects and partials are copied; a class that customizes copying stops the inference."""

from __future__ import annotations

from typing import Any

from .userdefs import UserClass, UserFunc, WorkspaceModule
from .values import Dtype, Instance, Module, Namespace, Partial, Ref, StaticUnsupported, Tensor, Unknown

_ATOMIC = (type(None), bool, int, float, complex, str, bytes, range, slice, Ref, Dtype, UserClass, UserFunc,
           WorkspaceModule)
_CUSTOM = ("__deepcopy__", "__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__")


def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    memo = {} if memo is None else memo
    if isinstance(value, _ATOMIC):
        return value
    if isinstance(value, Unknown):
        return Unknown(value.reason, plain=value.plain)
    if id(value) in memo:
        return memo[id(value)]
    if isinstance(value, list):
        out: Any = []
        memo[id(value)] = out
        out.extend(deepcopy(v, memo) for v in value)
        return out
    if isinstance(value, tuple):
        return tuple(deepcopy(v, memo) for v in value)
    if isinstance(value, dict):
        out = {}
        memo[id(value)] = out
        out.update((k, deepcopy(v, memo)) for k, v in value.items())
        return out
    if isinstance(value, Tensor):
        return memo.setdefault(id(value), Tensor(value.shape, value.dtype, value.param, value.origin, value.values))
    if isinstance(value, Module):
        return _module(value, memo)
    if isinstance(value, Instance):
        _check(value.cls)
        out = Instance(value.cls, {}, value.frozen, value.partial, dict(value.unknown))
        memo[id(value)] = out
        out.attrs.update((k, deepcopy(v, memo)) for k, v in value.attrs.items())
        return out
    if isinstance(value, Namespace):
        return Namespace({k: deepcopy(v, memo) for k, v in value.attrs.items()}, dict(value.unknown), value.argparse)
    if isinstance(value, Partial):
        return Partial(value.func, deepcopy(value.args, memo), deepcopy(value.kwargs, memo))
    raise StaticUnsupported(f"`copy.deepcopy` of a `{type(value).__name__}` value is not followed statically")


def shallow(value: Any) -> Any:
    """`copy.copy`: a new container (or object) holding the same items."""
    if isinstance(value, _ATOMIC) or isinstance(value, tuple):
        return value
    if isinstance(value, Unknown):
        return Unknown(value.reason, plain=value.plain)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, Instance):
        _check(value.cls)
        return Instance(value.cls, dict(value.attrs), value.frozen, value.partial, dict(value.unknown))
    if isinstance(value, Namespace):
        return Namespace(dict(value.attrs), dict(value.unknown), value.argparse)
    raise StaticUnsupported(f"`copy.copy` of {'a module' if isinstance(value, Module) else 'this value'} "
                            "is not followed statically")


def _module(m: Module, memo: dict[int, Any]) -> Module:
    if m.cls is not None:
        _check(m.cls)
    new = Module(m.type, m.name, version=m.version, norm_fixup=m.norm_fixup, extra_state=m.extra_state,
                 custom_load=m.custom_load, kind=m.kind, cls=m.cls, initialized=m.initialized, origin=m.origin)
    new.overrides_load = m.overrides_load
    memo[id(m)] = new
    new.params = {k: deepcopy(t, memo) for k, t in m.params.items()}
    new.buffers = {k: deepcopy(t, memo) for k, t in m.buffers.items()}
    new.non_persistent = set(m.non_persistent)
    new.modules = {k: deepcopy(c, memo) for k, c in m.modules.items()}
    new.attrs = {k: deepcopy(v, memo) for k, v in m.attrs.items()}
    return new


def _check(cls: UserClass) -> None:
    for c in cls.mro():
        for name in _CUSTOM:
            if name in c.body():
                raise StaticUnsupported(f"class `{c.name}` defines `{name}`: copying it is not followed statically")
