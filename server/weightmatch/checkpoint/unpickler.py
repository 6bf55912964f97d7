"""An unpickler that builds the shape of a torch pickle and runs none of its code.

`find_class` never imports anything: it hands back inert factories of our own. torch's
rebuild functions become placeholders holding shape and dtype, OrderedDict becomes a
dict that keeps `_metadata`, and every other global becomes a stub class that accepts
any arguments and any state and remembers only its name. `persistent_load` returns a
placeholder storage (dtype and element count from the persistent id) and never touches
storage bytes. After loading, `to_engine` turns the result into the engine's types.

The stubs must be classes, not functions: protocol 2 pickles most objects with NEWOBJ,
which the C unpickler only accepts for a type.

Speed (a state dict has one rebuild call, one storage and one empty OrderedDict per
tensor): the C unpickler reads through `_Feed`, whose `peek` lets it take the whole
pickle at once (through a bare BytesIO it calls `read` for every opcode, which was most
of its time); a tensor placeholder is shared by all tensors of the same shape and dtype
and carries its engine value, so `to_engine` does no per-tensor construction.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Callable

from ..types import NAMESPACE_GLOBALS, Opaque, SavedModule, SavedNamespace, StateDict, TensorInfo
from .allowlist import is_allowed, torch_global_name

# Element type of each legacy storage class, as in torch.storage._dtype_to_storage_type_map.
STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "BFloat16Storage": "bfloat16", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64", "QInt8Storage": "qint8", "QInt32Storage": "qint32",
    "QUInt8Storage": "quint8", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
}

DTYPE_NAMES = frozenset({
    "float64", "float32", "float16", "bfloat16", "complex128", "complex64", "complex32",
    "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool",
    "qint8", "qint32", "quint8", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2",
    "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
    *(f"uint{i}" for i in range(1, 8)), *(f"int{i}" for i in range(1, 8)),
    # aliases an old pickle may name
    "float", "double", "half", "long", "int", "short", "cfloat", "cdouble",
})
_DTYPE_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16", "long": "int64",
    "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128",
}

MAX_STUB_CLASSES = 10_000  # distinct globals in one pickle; real checkpoints use < 100
MAX_DEPTH = 300  # container nesting; real checkpoints nest < 20 deep
_SAFE_ENCODINGS = frozenset({"latin1", "latin-1", "iso-8859-1", "utf-8", "utf8", "ascii"})


class _Storage:
    """A storage placeholder: its element type only (the element count is never needed).

    Inert like _Tensor (BUILD is ignored), so one per storage type serves every tensor.
    """

    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        pass


class _StorageType:
    """A storage class (`torch.FloatStorage`) named by a pickle; BUILD on it is ignored."""

    __slots__ = ("dtype", "name", "storage")

    def __init__(self, name: str, dtype: str) -> None:
        self.name = name
        self.dtype = dtype
        self.storage = _Storage(dtype)

    def __setstate__(self, state: Any) -> None:
        pass


class _DType:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = _DTYPE_ALIASES.get(name, name)


class _Tensor:
    """A tensor's placeholder; BUILD on it (legacy `set_` state, Parameter state) is ignored.

    Nothing a pickle can do changes one (no __dict__, BUILD ignored, no item methods),
    which is what makes sharing them between tensors (`_tensor`) safe. `info` is its
    engine value: a TensorInfo, or an Opaque for a tensor whose size could not be read.
    """

    __slots__ = ("bad", "dtype", "info", "shape")

    def __init__(self, shape: tuple[int, ...] | None, dtype: str, bad: str = "") -> None:
        self.shape = shape
        self.dtype = dtype
        self.bad = bad
        self.info = Opaque("torch.Tensor", bad) if bad else TensorInfo(shape, dtype)

    def __setstate__(self, state: Any) -> None:
        pass


# Shared placeholders by (shape, dtype): a checkpoint has few distinct ones. Bounded, and
# only ever holds immutable values, so threads reading checkpoints at once may share it.
_SHARED: dict[tuple[tuple[int, ...], str], _Tensor] = {}
_SHARED_MAX = 4096


def _tensor(shape: tuple[int, ...], dtype: str) -> _Tensor:
    """The placeholder of a tensor whose `shape` is a tuple of ints >= 0 (checked by the caller)."""
    key = (shape, dtype)
    tensor = _SHARED.get(key)
    if tensor is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        tensor = _SHARED[key] = _Tensor(shape, dtype)
    return tensor


class _Dict(dict):
    """A plain dict or Counter from the pickle."""

    def __setstate__(self, state: Any) -> None:
        pass


class _ODict(dict):
    """collections.OrderedDict; BUILD sets its attributes, of which only `_metadata` matters."""

    wm_metadata: Any = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:
            state = state[0]
        if isinstance(state, dict) and "_metadata" in state:
            self.wm_metadata = state["_metadata"]


class _Stub:
    """An instance of a global we do not rebuild; keeps its name and, for TorchScript, its state."""

    wm_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Stub":
        self = object.__new__(cls)
        self.wm_state = None
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.wm_state = state

    def __call__(self, *args: Any, **kwargs: Any) -> "_Stub":
        return _Stub()

    # APPEND(S), SETITEM(S) and ADDITEMS on an object that is not a list/dict/set call these.
    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _shape(size: Any) -> tuple[int, ...] | None:
    if isinstance(size, (tuple, list)) and all(type(d) is int and d >= 0 for d in size):
        return tuple(size)
    return None


def _dtype_of(value: Any, fallback: str = "unknown") -> str:
    if isinstance(value, _DType):
        return value.name
    if isinstance(value, (_Storage, _StorageType, _Tensor)):
        return value.dtype
    return fallback


def _from_storage(storage: Any, size: Any, dtype: str | None = None) -> _Tensor:
    dt = dtype or (storage.dtype if type(storage) is _Storage else _dtype_of(storage))
    if type(size) is tuple:
        for d in size:
            if type(d) is not int or d < 0:
                break
        else:
            return _tensor(size, dt)  # the usual case: one loop, no allocation
    shape = _shape(size)
    if shape is None:
        return _Tensor(None, dt, bad="tensor with an unreadable size")
    return _tensor(shape, dt)


def _rebuild_tensor(storage: Any = None, offset: Any = 0, size: Any = (), stride: Any = (),
                    requires_grad: Any = None, hooks: Any = None, *rest: Any) -> _Tensor:
    # Called once per tensor: the shared placeholder is looked up here, without further calls.
    if type(storage) is _Storage and type(size) is tuple:
        for d in size:
            if type(d) is not int or d < 0:
                break
        else:
            tensor = _SHARED.get((size, storage.dtype))
            if tensor is not None:
                return tensor
    return _from_storage(storage, size)


def _rebuild_tensor_v3(storage: Any = None, offset: Any = 0, size: Any = (), stride: Any = (),
                       requires_grad: Any = False, hooks: Any = None, dtype: Any = None, *rest: Any) -> _Tensor:
    return _from_storage(storage, size, _dtype_of(dtype, "") or None)


def _rebuild_parameter(data: Any = None, *rest: Any) -> Any:
    return data if isinstance(data, _Tensor) else _Tensor(None, "unknown", bad="parameter without data")


def _rebuild_sparse_tensor(layout: Any = None, data: Any = (), *rest: Any) -> _Tensor:
    # COO: (indices, values, size[, coalesced]); compressed: (compressed, plain, values, size)
    if isinstance(data, tuple) and len(data) >= 3:
        values, size = (data[1], data[2]) if not isinstance(data[2], _Tensor) else (data[2], data[3] if len(data) > 3 else None)
        return _from_storage(values, size)
    return _Tensor(None, "unknown", bad="sparse tensor")


def _rebuild_nested_tensor(buffer: Any = None, *rest: Any) -> _Tensor:
    return _Tensor(None, _dtype_of(buffer), bad="nested tensor")


def _rebuild_device_tensor(data: Any = None, dtype: Any = None, *rest: Any) -> _Tensor:
    shape = data.shape if isinstance(data, _Tensor) else None
    if shape is None and isinstance(data, _Stub) and isinstance(data.wm_state, tuple) and len(data.wm_state) > 1:
        shape = _shape(data.wm_state[1])  # numpy.ndarray's state: (version, shape, dtype, ...)
    if shape is None:
        return _Tensor(None, _dtype_of(dtype), bad="device tensor with an unreadable size")
    return _Tensor(shape, _dtype_of(dtype, _dtype_of(data)))


def _rebuild_meta_tensor_no_storage(dtype: Any = None, size: Any = (), *rest: Any) -> _Tensor:
    return _from_storage(None, size, _dtype_of(dtype))


def _rebuild_wrapper_subclass(cls: Any = None, dtype: Any = None, size: Any = (), *rest: Any) -> _Tensor:
    return _from_storage(None, size, _dtype_of(dtype))


def _rebuild_from_type_v2(func: Any = None, new_type: Any = None, args: Any = (), state: Any = None, *rest: Any) -> Any:
    # `func` came from find_class, so calling it runs one of our factories or a stub.
    if func in _FACTORIES_SET or _is_stub_class(func):
        return func(*args) if isinstance(args, tuple) else func()
    return _Stub()


def _size(dims: Any = (), *rest: Any) -> Any:
    return tuple(dims) if isinstance(dims, (tuple, list)) else ()


def _encode(obj: Any = "", encoding: Any = "latin1", *rest: Any) -> Any:
    # `_codecs.encode(str, "latin1")` is how protocol 2 spells bytes.
    if isinstance(obj, str) and isinstance(encoding, str) and encoding.lower() in _SAFE_ENCODINGS:
        return obj.encode(encoding, "surrogatepass" if encoding.lower().startswith("utf") else "strict")
    return _Stub()


def _bytearray(obj: Any = b"", *rest: Any) -> Any:
    # bytearray(n) would allocate n bytes: only copy what the pickle itself holds.
    return bytearray(obj) if isinstance(obj, (bytes, bytearray)) else _Stub()


def _set(items: Any = (), *rest: Any) -> Any:
    return set(items) if isinstance(items, (list, tuple, set)) else set()


def _complex(real: Any = 0, imag: Any = 0, *rest: Any) -> Any:
    if all(type(x) in (int, float) for x in (real, imag)):
        return complex(real, imag)
    return _Stub()


class _Parameter:
    """torch.nn.Parameter called directly (NEWOBJ or REDUCE): stands for its data."""

    def __new__(cls, data: Any = None, *rest: Any) -> Any:  # type: ignore[misc]
        return _rebuild_parameter(data)


class _Uninitialized:
    """A lazy module's UninitializedParameter/Buffer: a tensor whose shape is not known yet."""

    def __new__(cls, *rest: Any) -> Any:  # type: ignore[misc]
        return _Tensor(None, "float32")


_REBUILD: dict[str, Callable[..., Any]] = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_qtensor": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._utils._rebuild_sparse_tensor": _rebuild_sparse_tensor,
    "torch._utils._rebuild_nested_tensor": _rebuild_nested_tensor,
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": _rebuild_device_tensor,
    "torch._utils._rebuild_device_tensor_from_numpy": _rebuild_device_tensor,
    "torch._utils._rebuild_xla_tensor": _rebuild_device_tensor,
    "torch._utils._rebuild_mps_tensor": _rebuild_device_tensor,
    "torch._utils._rebuild_meta_tensor_no_storage": _rebuild_meta_tensor_no_storage,
    "torch._utils._rebuild_wrapper_subclass": _rebuild_wrapper_subclass,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch._tensor._rebuild_from_type": _rebuild_from_type_v2,
    "torch.Size": _size,
    "_codecs.encode": _encode,
    "builtins.bytearray": _bytearray,
    "builtins.set": _set,
    "builtins.complex": _complex,
    "collections.OrderedDict": _ODict,
    "collections.Counter": _Dict,
    "torch.nn.parameter.Parameter": _Parameter,
    "torch.nn.parameter.UninitializedParameter": _Uninitialized,
    "torch.nn.parameter.UninitializedBuffer": _Uninitialized,
}
_FACTORIES_SET = frozenset(_REBUILD.values())


class _Feed(io.BytesIO):
    """BytesIO plus `peek`, which the C unpickler uses to take all the data in one piece.

    Not io.BufferedReader, which has a peek too: its read(n) allocates n bytes up front,
    and a FRAME opcode (whose length the scan does not check) could ask for 2**62.
    BytesIO's read never returns or allocates more than is there.
    """

    def peek(self, size: int = 0) -> bytes:
        return self.getvalue()[self.tell():]  # no copy at offset 0: BytesIO shares its bytes


class SafeUnpickler(pickle.Unpickler):
    """The C unpickler with every global replaced by an inert factory."""

    def __init__(self, data: bytes) -> None:
        super().__init__(_Feed(data), encoding="utf-8")
        self.globals_seen: set[str] = set()
        self.reasons: set[str] = set()
        self._stub_classes: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        # Python writes protocol 2 for Python 2 readers ("__builtin__ set"); the stock
        # find_class maps names back, and so does torch's check, with its own table.
        full = torch_global_name(module, name)
        module, name = full.rsplit(".", 1)
        self.globals_seen.add(full)
        factory = _REBUILD.get(full)
        if factory is not None:
            return factory
        if module in ("torch", "torch.cuda") and name in STORAGE_DTYPES:
            return _StorageType(full, STORAGE_DTYPES[name])
        if full in ("torch.storage.UntypedStorage", "torch.UntypedStorage"):
            return _StorageType(full, "uint8")
        if module == "torch" and name in DTYPE_NAMES:
            return _DType(name)
        return self._stub_class(full)

    def _stub_class(self, full: str) -> type:
        cls = self._stub_classes.get(full)
        if cls is None:
            if len(self._stub_classes) >= MAX_STUB_CLASSES:
                raise pickle.UnpicklingError(f"more than {MAX_STUB_CLASSES} distinct globals")
            cls = type("Stub", (_Stub,), {"wm_name": full, "__slots__": ()})
            self._stub_classes[full] = cls
        return cls

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is tuple and len(pid) >= 5 and pid[0] == "storage" and type(pid[1]) is _StorageType:
            return pid[1].storage  # what torch.save writes, decided in one test
        kind = pid[0] if type(pid) is tuple and pid else pid
        if isinstance(kind, bytes):
            kind = kind.decode("ascii", "replace")
        if kind == "storage" and len(pid) >= 5:
            storage_type = pid[1]
            if type(storage_type) is _StorageType:
                return storage_type.storage
            return _Storage(_dtype_of(storage_type))
        # torch's weights_only unpickler accepts only ("storage", ...) persistent ids.
        self.reasons.add(f"persistent id {str(kind)[:40]!r}")
        if kind == "module" and len(pid) >= 2 and isinstance(pid[1], type) and issubclass(pid[1], _Stub):
            return pid[1]  # a legacy whole-module save names the module's class here
        return _Stub()

    def unsafe(self) -> set[str]:
        return {g for g in self.globals_seen if not is_allowed(g)} | self.reasons


def _is_stub_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, _Stub)


class _TooDeep(Exception):
    pass


class _TooBig(Exception):
    pass


class OverBudget(pickle.UnpicklingError):
    """A pickle that would cost the reader more than it may spend."""


_LEAVES = frozenset({str, int, float, bool, bytes, type(None), complex})
# What the converted tree may hold counted as a tree: every container and item, a shared
# container as often as it is reached. The engine's walks and copies see the checkpoint
# as a tree, so a pickle that shares each level twice (40 levels: 2**40 paths) must be
# refused here, not followed there. A state dict of 100,000 tensors counts 100,001.
MAX_EXPANDED = 1_000_000


def to_engine(root: Any) -> Any:
    """Turn the unpickler's placeholders into engine types (StateDict, TensorInfo, Opaque).

    Each container is converted once (shared ones stay shared), and the tree the result
    spells out is bounded by MAX_EXPANDED; over it, or nested past MAX_DEPTH, raises
    UnpicklingError with the reason.
    """
    memo: dict[int, Any] = {}
    weight: dict[int, int] = {}  # id of a converted container -> its size as a tree
    leaves = _LEAVES
    total = 0

    def shared(key: int) -> Any:
        nonlocal total
        total += weight.get(key, 1)
        if total > MAX_EXPANDED:
            raise _TooBig
        return memo[key]

    def spend(n: int) -> None:
        nonlocal total
        total += n
        if total > MAX_EXPANDED:
            raise _TooBig

    def conv(value: Any, depth: int) -> Any:
        nonlocal total
        if depth > MAX_DEPTH:
            raise _TooDeep
        vtype = type(value)
        if vtype in leaves:
            return value
        if vtype is _Tensor:
            return value.info
        key = id(value)
        if key in memo:
            return shared(key)
        before = total
        if vtype in (dict, _Dict, _ODict) or isinstance(value, dict):
            total += 1 + len(value)
            if total > MAX_EXPANDED:
                raise _TooBig
            out = StateDict()
            memo[key] = out
            if vtype is _ODict:
                out.ordered = True
                if value.wm_metadata is not None:
                    out.metadata = _metadata(value.wm_metadata)
            if value and depth >= MAX_DEPTH:
                raise _TooDeep
            # conv(k), conv(v) inlined for leaves and tensors: most of a state dict
            for k, v in value.items():
                item_type = type(v)
                if item_type is _Tensor:
                    v = v.info
                elif item_type not in leaves:
                    v = conv(v, depth + 1)
                if type(k) not in leaves:
                    k = conv(k, depth + 1)
                out[k] = v
            weight[key] = total - before
            return out
        if vtype is list or vtype is tuple or vtype is set or vtype is frozenset:
            total += 1 + len(value)
            if total > MAX_EXPANDED:
                raise _TooBig
            if vtype is list:
                out_list: list = []
                memo[key] = out_list
                out_list.extend(conv(v, depth + 1) for v in value)
                result: Any = out_list
            else:
                result = vtype(conv(v, depth + 1) for v in value)
                memo[key] = result
            weight[key] = total - before
            return result
        if vtype is bytearray:
            return bytes(value)
        if isinstance(value, _Stub):
            if vtype.wm_name in NAMESPACE_GLOBALS and isinstance(value.wm_state, dict):
                attrs = conv(value.wm_state, depth + 1)  # `torch.save({"args": args})`: its attributes as data
                return SavedNamespace(vtype.wm_name, "", dict(attrs))
            if _module_state(value) is not None:  # `torch.save(model, p)`: what its state_dict() gives
                memo[key] = _saved_module(value, depth, spend)
                return memo[key]
            return Opaque(vtype.wm_name)
        if _is_stub_class(value):
            return Opaque(value.wm_name, "class")
        if vtype is _DType:
            return Opaque("torch." + value.name, "dtype")
        if vtype is _StorageType:
            return Opaque(value.name, "storage type")
        if vtype is _Storage:
            return Opaque("torch.storage", f"{value.dtype} storage")
        return Opaque(getattr(value, "__qualname__", vtype.__name__), "factory")

    try:
        return conv(root, 0)
    except (_TooDeep, RecursionError):
        raise pickle.UnpicklingError(f"objects nested more than {MAX_DEPTH} levels deep") from None
    except _TooBig:
        raise OverBudget(
            f"its objects, shared ones counted each time they are reached, come to more than "
            f"{MAX_EXPANDED:,} (a checkpoint reader's limit)") from None


_MODULE_DICTS = ("_parameters", "_buffers", "_modules")
_STATE_HOOKS = ("_state_dict_hooks", "_state_dict_pre_hooks")


def _module_state(value: Any) -> dict | None:
    """The `__dict__` nn.Module pickles (its `_parameters`, `_buffers`, `_modules`), else None."""
    state = value.wm_state if isinstance(value, _Stub) else None
    if isinstance(state, dict) and all(isinstance(state.get(k), dict) for k in _MODULE_DICTS):
        return state
    return None


def _saved_module(root: _Stub, depth: int, spend: Callable[[int], None]) -> SavedModule:
    """What `state_dict()` gives on a pickled module, as nn.Module.state_dict builds it: each
    module's parameters and persistent buffers that are not None, then its children's under
    `name.` (a child reached twice is saved twice, as PyTorch does). No class is called."""
    state = StateDict()
    state.ordered = True
    classes: dict[str, str] = {}
    todo = [("", root, depth)]
    while todo:
        path, module, level = todo.pop()
        if level > MAX_DEPTH:
            raise _TooDeep
        attrs = _module_state(module)
        name = getattr(type(module), "wm_name", type(module).__name__)
        if attrs is None:
            return SavedModule(type(root).wm_name, "a pickled module", why=f"`{path}` is a pickled `{name}`, "
                               "not a module as nn.Module stores one")
        if any(attrs.get(h) for h in _STATE_HOOKS):
            return SavedModule(type(root).wm_name, "a pickled module",
                               why=f"`{name}` at `{path or 'the root'}` has a state_dict hook")
        classes[path] = name
        prefix = path + "." if path else ""
        kept = attrs.get("_non_persistent_buffers_set") or ()
        tensors = [*attrs["_parameters"].items(), *((k, v) for k, v in attrs["_buffers"].items() if k not in kept)]
        spend(1 + len(tensors) + len(attrs["_modules"]))
        for key, tensor in tensors:
            if tensor is None:
                continue
            if type(tensor) is not _Tensor:
                return SavedModule(type(root).wm_name, "a pickled module",
                                   why=f"`{prefix}{key}` is not a tensor as PyTorch pickles one")
            state[prefix + key] = tensor.info
        children = [(prefix + k, m, level + 1) for k, m in attrs["_modules"].items() if m is not None]
        todo.extend(reversed(children))  # depth first, in `_modules` order
    return SavedModule(type(root).wm_name, "a pickled module", state=state, classes=classes)


def _metadata(raw: Any) -> dict[str, dict[str, Any]] | None:
    if not isinstance(raw, dict):
        return None
    out: dict[str, dict[str, Any]] = {}
    for k, v in raw.items():
        if isinstance(k, str) and isinstance(v, dict):
            out[k] = {str(a): b for a, b in v.items() if type(b) in (int, str, bool, float, type(None))}
    return out


def unpickle(data: bytes) -> tuple[Any, set[str]]:
    """The raw placeholder tree of one pickle and what torch's weights_only mode would refuse in it."""
    unpickler = SafeUnpickler(data)
    raw = unpickler.load()
    return raw, unpickler.unsafe()
