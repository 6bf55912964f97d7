"""What `model.load_state_dict(saved, strict=..., assign=...)` will do, by PyTorch's rules.

This mirrors torch 2.13's `Module.load_state_dict` / `Module._load_from_state_dict`
(plus the overrides of `_NormBase`, `_InstanceNorm` and the lazy-module pre-hook) over
an `ExpectedState`, without torch. PyTorch hands every module a filtered copy of the
state dict and rescans it; here each checkpoint key is routed once to the single module
whose filtered dict would hold it and be the one to judge it, which gives the same
answer (module names never contain dots) in time linear in the number of keys.

Orders follow PyTorch's: modules depth-first in `_modules` order; within a module,
parameters then persistent buffers then `_extra_state` for missing keys and errors,
and the checkpoint's own order for unexpected keys.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import ExpectedState, KeyRow, ModuleSpec, Opaque, RuntimeValue, StateDict, TensorInfo

EXTRA_STATE = "_extra_state"
_INSTANCE_NORM_MODULE = "torch.nn.modules.instancenorm."
_GRAD_DTYPES = ("float", "bfloat16", "complex")


@dataclass
class Comparison:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    # (key, saved, model) in PyTorch's error order
    mismatched: list[tuple[str, TensorInfo, TensorInfo]] = field(default_factory=list)
    # (key, Python type of the value as PyTorch prints it): "While copying the parameter named ..."
    not_tensor: list[tuple[str, str]] = field(default_factory=list)
    # any other error PyTorch would raise, as "ExceptionType: message"
    other_errors: list[str] = field(default_factory=list)
    # num_batches_tracked keys that BatchNorm's fix-up for old checkpoints fills in
    filled: list[str] = field(default_factory=list)
    # modules with custom_load: what happens at and below them may differ
    inexact: list[str] = field(default_factory=list)
    # keys whose value is known only at run time (types.RuntimeValue), or a tensor the checkpoint
    # reader could not describe (Opaque "torch.Tensor"): whether they load is not known
    unknown: list[str] = field(default_factory=list)
    # missing keys safetensors' load_model forgives if they share memory with a loaded key (tied
    # weights): among `unknown`, as whether they do is not known (safetensors_load.py)
    twins: list[str] = field(default_factory=list)
    # keys a module in `inexact` judges by its own rules: no verdict on them either
    own_way: list[str] = field(default_factory=list)
    # True: PyTorch raises; False: it does not; None: it depends on values known only at run time
    raises: bool | None = False
    rows: list[KeyRow] = field(default_factory=list)
    loaded: int = 0  # checkpoint tensors copied into the model

    @property
    def ok(self) -> bool:
        return self.raises is False


def type_text(value: Any) -> str:
    """`str(type(value))` of the object the checkpoint held: "<class 'int'>"."""
    if isinstance(value, Opaque):
        name = value.name
    elif isinstance(value, StateDict):
        name = "collections.OrderedDict" if value.ordered else "dict"
    elif isinstance(value, TensorInfo):  # an extra-state object or uninitialized placeholder
        name = "object"
    else:
        cls = type(value)
        name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return f"<class '{name}'>"


def _size_text(info: TensorInfo) -> str:
    return "torch.Size([" + ", ".join(map(str, info.shape or ())) + "])"


def _reachable(expected: ExpectedState) -> list[ModuleSpec]:
    """Modules load() visits, depth-first; None children (absent from `modules`) are skipped."""
    order: list[ModuleSpec] = []
    root = expected.modules.get("")
    if root is None:
        return [ModuleSpec(path="", type="")]
    stack = [root]
    while stack:
        spec = stack.pop()
        order.append(spec)
        prefix = spec.path + "." if spec.path else ""
        kids = [expected.modules[prefix + c] for c in spec.children if prefix + c in expected.modules]
        stack.extend(reversed(kids))
    return order


_SLOT, _EXTRA, _UNEXPECTED, _IGNORED = range(4)


def _route(key: str, specs: dict[str, ModuleSpec]) -> tuple[str, int, str]:
    """The module whose `_load_from_state_dict` judges `key`, how, and the local name.

    _SLOT: a single name under that module (a parameter/buffer, else unexpected);
    _EXTRA: its `_extra_state`; _UNEXPECTED: the first name is not a child;
    _IGNORED: the first name is a child set to None, so no module ever looks at it.
    """
    path, _, name = key.rpartition(".")
    if path in specs and (path or "." not in key):
        return path, (_EXTRA if name == EXTRA_STATE else _SLOT), name
    # Slow path: walk down until the chain breaks.
    path, rest = "", key
    while True:
        if rest == EXTRA_STATE:
            return path, _EXTRA, rest
        head, dot, tail = rest.partition(".")
        if not dot:
            return path, _SLOT, rest
        spec = specs[path]
        if head not in spec.children:
            return path, _UNEXPECTED, rest
        child = f"{path}.{head}" if path else head
        if child not in specs:
            return path, _IGNORED, rest
        path, rest = child, tail


def _local_metadata(metadata: Mapping | None, path: str) -> Mapping:
    local = {} if metadata is None else metadata.get(path, {})
    return local if isinstance(local, Mapping) else {}


def compare(expected: ExpectedState, saved: Mapping | object, strict: bool = True, assign: bool = False) -> Comparison:
    """Predict `model.load_state_dict(saved, strict=strict, assign=assign)`."""
    # One KeyRow per key: with the cyclic GC paused, 100k keys take a third less time.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compare(expected, saved, strict, assign)
    finally:
        if paused:
            gc.enable()


def _compare(expected: ExpectedState, saved: Mapping | object, strict: bool, assign: bool) -> Comparison:
    out = Comparison()
    order = _reachable(expected)
    out.inexact = [s.path for s in order if s.custom_load]

    if isinstance(saved, RuntimeValue):
        out.raises = None
        out.rows = [KeyRow(k, None, info, "unknown") for k, info in expected.keys().items()]
        out.unknown = list(expected.keys())
        return out
    if not isinstance(saved, Mapping):
        out.other_errors.append(f"TypeError: Expected state_dict to be dict-like, got {type_text(saved)}.")
        out.raises = True
        out.rows = [KeyRow(k, None, info, "missing") for k, info in expected.keys().items()]
        return out

    saved = _old_weight_norm_keys(order, saved)
    routed = _Routed(saved, {s.path: s for s in order})
    metadata = saved.metadata if isinstance(saved, StateDict) else getattr(saved, "_metadata", None)
    lazy_errors: list[str] = []
    for spec in order:
        _load_module(spec, saved, metadata, assign, routed, out, lazy_errors)

    rows = out.rows
    for key, status in routed.foreign.items():
        value = saved[key]
        rows.append(KeyRow(key, value if type(value) is TensorInfo else TensorInfo(None, "object"), None, status))
    if lazy_errors:  # raised from the pre-hook, before anything is collected
        out.other_errors.insert(0, lazy_errors[0])
    if routed.bad_key_type is not None:  # `key.startswith(prefix)` in the root module
        out.other_errors.insert(0, f"AttributeError: '{routed.bad_key_type}' object has no attribute 'startswith'")
    if out.inexact:
        _set_aside_inexact(out)
    definite = bool(out.mismatched or out.not_tensor or out.other_errors
                    or (strict and (out.missing or out.unexpected)))
    out.raises = True if definite else (None if out.unknown or out.inexact else False)
    return out


def _old_weight_norm_keys(order: list[ModuleSpec], saved: Mapping) -> Mapping:
    """`saved` as the weight-norm compat hooks leave it (ModuleSpec.old_weight_norm): each
    module's old `weight_g`/`weight_v` pair renamed to its parametrization's `original0`/`original1`."""
    renamed: StateDict | None = None
    for spec in order:
        if not spec.old_weight_norm:
            continue
        prefix = spec.path + "." if spec.path else ""
        g, v = prefix + "weight_g", prefix + "weight_v"
        if g in saved and v in saved:
            if renamed is None:
                renamed = StateDict(saved)
                renamed.metadata = saved.metadata if isinstance(saved, StateDict) else getattr(saved, "_metadata", None)
                renamed.ordered = getattr(saved, "ordered", False)
            renamed[prefix + "parametrizations.weight.original0"] = renamed.pop(g)
            renamed[prefix + "parametrizations.weight.original1"] = renamed.pop(v)
            saved = renamed
    return saved


class _Routed:
    """Every checkpoint key routed once (PyTorch: one filtered copy of the state dict per module)."""

    def __init__(self, saved: Mapping, specs: dict[str, ModuleSpec]):
        self.unexpected_at: dict[str, list[str]] = {}
        self.extra_seen: set[str] = set()
        self.foreign: dict[str, str] = {}  # keys the model does not have, in checkpoint order → status
        self.bad_key_type: str | None = None
        for key in saved:
            if type(key) is not str:
                self.bad_key_type = self.bad_key_type or type(key).__name__
                continue
            path, how, name = _route(key, specs)
            if how == _SLOT:
                spec = specs[path]
                if name not in spec.params and name not in spec.buffers:
                    self.unexpected(path, key)
            elif how == _EXTRA:
                self.extra_seen.add(path)
                if not specs[path].extra_state:
                    self.foreign[key] = "unexpected"
            elif how == _UNEXPECTED:
                self.unexpected(path, key)
            else:
                self.foreign[key] = "ignored"

    def unexpected(self, path: str, key: str) -> None:
        self.unexpected_at.setdefault(path, []).append(key)
        self.foreign[key] = "unexpected"


def _load_module(spec: ModuleSpec, saved: Mapping, metadata: Any, assign: bool, routed: _Routed,
                 out: Comparison, lazy_errors: list[str]) -> None:
    """One module's `_load_from_state_dict`: its parameters and buffers, `_extra_state`, unexpected keys."""
    path = spec.path
    prefix = path + "." if path else ""
    local_metadata = _local_metadata(metadata, path) if metadata else {}
    version = local_metadata.get("version")
    # A state dict once loaded with assign=True keeps the flag in its metadata (PyTorch writes it there).
    assign_here = assign or bool(local_metadata.get("assign_to_params_buffers", False))
    unexpected_here = routed.unexpected_at.get(path, ())
    if spec.drops:  # FrozenBatchNorm2d deletes `num_batches_tracked` before it loads: never unexpected
        unexpected_here = [k for k in unexpected_here if k[len(prefix):] not in spec.drops]
        saved = _DroppedView(saved, {prefix + name for name in spec.drops})

    if (version is None and spec.type.startswith(_INSTANCE_NORM_MODULE)
            and not spec.norm_fixup and "running_mean" not in spec.buffers):
        unexpected_here = _old_instance_norm_stats(spec, prefix, saved, unexpected_here, out, routed.foreign)

    fill_key = None
    if spec.norm_fixup and (version is None or version < 2) and prefix + "num_batches_tracked" not in saved:
        fill_key = prefix + "num_batches_tracked"
        out.filled.append(fill_key)
        if "num_batches_tracked" not in spec.params and "num_batches_tracked" not in spec.buffers:
            unexpected_here = [*unexpected_here, fill_key]

    for name, param in spec.params.items():
        _load_tensor(prefix + name, param, saved.get(prefix + name, _ABSENT), True, assign_here, fill_key, out,
                     lazy_errors)
    for name, buffer in spec.buffers.items():
        _load_tensor(prefix + name, buffer, saved.get(prefix + name, _ABSENT), False, assign_here, fill_key, out,
                     lazy_errors)

    key = prefix + EXTRA_STATE
    if spec.extra_state:
        if path in routed.extra_seen:
            value = saved[key]
            out.rows.append(KeyRow(key, value if type(value) is TensorInfo else TensorInfo(None, "object"),
                                   TensorInfo(None, "object"), "ok"))
        else:
            out.missing.append(key)
            out.rows.append(KeyRow(key, None, TensorInfo(None, "object"), "missing"))
    elif path in routed.extra_seen:
        out.unexpected.append(key)
    out.unexpected.extend(unexpected_here)


class _DroppedView:
    """The state dict as a module that deletes some keys before loading sees it."""

    def __init__(self, saved: Mapping, dropped: set[str]):
        self.saved, self.dropped = saved, dropped

    def get(self, key: str, default: Any = None) -> Any:
        return default if key in self.dropped else self.saved.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key not in self.dropped and key in self.saved

    def __getitem__(self, key: str) -> Any:
        if key in self.dropped:
            raise KeyError(key)
        return self.saved[key]


def _load_tensor(key: str, param: TensorInfo, value: Any, is_param: bool, assign: bool, fill_key: str | None,
                 out: Comparison, lazy_errors: list[str]) -> None:
    """One parameter or buffer: missing, not a tensor, a size mismatch, an assign error, or loaded."""
    rows = out.rows
    if value is _ABSENT:
        if key == fill_key:
            rows.append(KeyRow(key, None, param, "ok"))
        else:
            out.missing.append(key)
            rows.append(KeyRow(key, None, param, "missing"))
        return
    if type(value) is RuntimeValue:
        out.unknown.append(key)
        rows.append(KeyRow(key, None, param, "unknown"))
        return
    if type(value) is Opaque and value.name == "torch.Tensor":
        # a tensor the reader could not describe (sparse, nested, an unreadable size): no verdict
        out.unknown.append(key)
        rows.append(KeyRow(key, TensorInfo(None, "unknown"), param, "unknown"))
        return
    if type(value) is not TensorInfo or value.dtype == "object":
        if param.shape is None and type(value) is not TensorInfo:
            # The lazy pre-hook reads `.shape` before anything else looks.
            lazy_errors.append(f"AttributeError: {type_text(value)[8:-2].rpartition('.')[2]!r} "
                               "object has no attribute 'shape'")
        out.not_tensor.append((key, type_text(value)))
        rows.append(KeyRow(key, TensorInfo(None, "object"), param, "not-a-tensor"))
        return
    shape = value.shape
    if shape is None:
        if param.shape is not None:
            lazy_errors.append("ValueError: Can't access the shape of an uninitialized parameter or buffer.")
    elif (param.shape is not None and shape != param.shape
          and not (len(param.shape) == 0 and len(shape) == 1 and shape[0] == 1)):
        out.mismatched.append((key, value, param))
        rows.append(KeyRow(key, value, param, "size-mismatch"))
        return
    if assign and is_param and not value.dtype.startswith(_GRAD_DTYPES):
        # Parameter(input, requires_grad=True) refuses integer tensors.
        size = _size_text(param if param.shape is not None else value)  # lazy: materialized
        out.other_errors.append(
            f'While copying the parameter named "{key}", whose dimensions in the model are {size} '
            f"and whose dimensions in the checkpoint are {_size_text(value)}, an exception occurred : "
            "('Only Tensors of floating point and complex dtype can require gradients',).")
        rows.append(KeyRow(key, value, param, "error"))
        return
    out.loaded += 1
    rows.append(KeyRow(key, value, param, "ok"))


_ABSENT = object()


def _set_aside_inexact(out: Comparison) -> None:
    """Keys judged by a module that loads its own way (at or below it) get no verdict: its own
    `_load_from_state_dict` or hooks may rename, fill or drop them. They go to `own_way`."""
    roots = tuple(out.inexact)

    def own_way(key: str) -> bool:
        return any(not p or key == p or key.startswith(p + ".") for p in roots)

    undecided = [k for k in out.missing if own_way(k)] + [k for k in out.unexpected if own_way(k)]
    undecided += [k for k, _, _ in out.mismatched if own_way(k)] + [k for k, _ in out.not_tensor if own_way(k)]
    if not undecided:
        return
    gone = set(undecided)
    out.missing = [k for k in out.missing if k not in gone]
    out.unexpected = [k for k in out.unexpected if k not in gone]
    out.mismatched = [m for m in out.mismatched if m[0] not in gone]
    out.not_tensor = [m for m in out.not_tensor if m[0] not in gone]
    out.own_way = list(dict.fromkeys(undecided))
    for row in out.rows:
        if row.key in gone:
            row.status = "unknown"




def _old_instance_norm_stats(spec: ModuleSpec, prefix: str, saved: Mapping, unexpected: Any,
                             out: Comparison, foreign: dict[str, str]) -> Any:
    """_InstanceNorm without running stats pops an old checkpoint's running-stat keys, with an error."""
    stale = [prefix + n for n in ("running_mean", "running_var") if prefix + n in saved]
    if not stale:
        return unexpected
    names = " and ".join(f'"{k}"' for k in stale)
    klass = spec.type.rsplit(".", 1)[-1]
    out.other_errors.append(
        f"Unexpected running stats buffer(s) {names} for {klass} with track_running_stats=False. "
        "If state_dict is a checkpoint saved before 0.4.0, this may be expected because "
        f"{klass} does not track running stats by default since 0.4.0. Please remove these "
        "keys from state_dict. If the running stats are actually needed, instead set "
        f"track_running_stats=True in {klass} to enable them. See the documentation of "
        f"{klass} for details.")
    for k in stale:
        foreign[k] = "ignored"
    return [k for k in unexpected if k not in stale]
