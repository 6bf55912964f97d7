"""Tensors without data: torch's factories (`torch.zeros(3, 4)`), a tensor's attributes
and methods, and arithmetic on tensors, over shapes and dtypes."""

from __future__ import annotations

import math
import struct
from typing import Any

from .values import BoundMethod, Dtype, FLOAT_DTYPES, Ref, StaticUnsupported, Tensor, Unknown, int_like

DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32",
    "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
    "complex64": "complex64", "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
}
_FACTORIES = {"zeros", "ones", "empty", "randn", "rand"}
_LIKE = {"zeros_like", "ones_like", "empty_like", "randn_like", "rand_like"}


def _dtype_kw(kwargs: dict, default: str) -> str:
    d = kwargs.get("dtype")
    if d is None:
        return default
    if isinstance(d, Dtype):
        return d.name
    raise StaticUnsupported("a tensor's `dtype` is not known statically")


def _size(args: list, what: str) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = list(args[0])
    for a in args:
        if not int_like(a) or a < 0:
            reason = f": {a.reason}" if isinstance(a, Unknown) else ""
            raise StaticUnsupported(f"the size of `{what}` is not known statically{reason}")
    return tuple(args)


def factory(fn: str, args: list, kwargs: dict) -> Any:
    if fn in _FACTORIES:
        if "size" in kwargs:
            args = [kwargs["size"]]
        return Tensor(_size(args, "torch." + fn), _dtype_kw(kwargs, "float32"))
    if fn in _LIKE:
        src = args[0] if args else kwargs.get("input")
        if not isinstance(src, Tensor):
            raise StaticUnsupported(f"`torch.{fn}` of a value not known statically")
        return Tensor(src.shape, _dtype_kw(kwargs, src.dtype))
    if fn == "full":
        size = args[0] if args else kwargs.get("size")
        fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
        default = "bool" if isinstance(fill, bool) else "int64" if int_like(fill) else "float32" if isinstance(fill, float) else None
        if default is None and "dtype" not in kwargs:
            raise StaticUnsupported("the dtype of `torch.full` is not known statically")
        return Tensor(_size([size], "torch.full"), _dtype_kw(kwargs, default or "float32"))
    if fn == "tensor":
        data = args[0] if args else kwargs.get("data")
        shape, kinds = _literal_shape(data)
        default = "float32" if "float" in kinds else "int64" if "int" in kinds else "bool" if "bool" in kinds else "float32"
        return Tensor(shape, _dtype_kw(kwargs, default))
    if fn == "arange":
        nums = list(args)
        if not nums or len(nums) > 3 or not all(isinstance(n, (int, float)) for n in nums):
            raise StaticUnsupported("`torch.arange` with arguments not known statically")
        start, end, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) == 3 else 1)
        length = max(0, math.ceil((end - start) / step))
        default = "int64" if all(int_like(n) for n in nums) else "float32"
        made = Tensor((length,), _dtype_kw(kwargs, default))
        if made.dtype == "int64" and default == "int64" and length <= 4096:
            made.values = tuple(range(int(start), int(end), int(step)))
        return made
    if fn == "eye":
        n = args[0]
        m = args[1] if len(args) > 1 else kwargs.get("m", n)
        return Tensor(_size([n, m], "torch.eye"), _dtype_kw(kwargs, "float32"))
    if fn in ("linspace", "logspace"):
        steps = args[2] if len(args) > 2 else kwargs.get("steps")
        made = Tensor(_size([steps], "torch." + fn), _dtype_kw(kwargs, "float32"))
        if fn == "linspace" and made.dtype == "float32" and len(args) >= 2 and all(
                isinstance(a, (int, float)) and not isinstance(a, bool) for a in args[:2]) and made.shape[0] <= 4096:
            made.values = _linspace(float(args[0]), float(args[1]), made.shape[0])
        return made
    if fn in ("tril", "triu"):  # nanoGPT's causal mask: `torch.tril(torch.ones(n, n))`
        src = args[0] if args else kwargs.get("input")
        if not isinstance(src, Tensor) or src.shape is None or len(src.shape) < 2:
            raise StaticUnsupported(f"`torch.{fn}` of a value not known statically")
        return Tensor(src.shape, src.dtype)
    if fn == "randint":
        size = kwargs.get("size", args[-1] if args else None)
        return Tensor(_size([size], "torch.randint"), _dtype_kw(kwargs, "int64"))
    return None


def _literal_shape(data: Any) -> tuple[tuple[int, ...], set[str]]:
    if isinstance(data, bool):
        return (), {"bool"}
    if int_like(data):
        return (), {"int"}
    if isinstance(data, float):
        return (), {"float"}
    if isinstance(data, (list, tuple)):
        if not data:
            return (0,), set()
        shapes, kinds = set(), set()
        for item in data:
            s, k = _literal_shape(item)
            shapes.add(s)
            kinds |= k
        if len(shapes) != 1:
            raise StaticUnsupported("`torch.tensor` of a ragged list")
        return (len(data), *shapes.pop()), kinds
    raise StaticUnsupported("`torch.tensor` of data not known statically")


def _linspace(start: float, end: float, steps: int) -> tuple:
    """torch.linspace's float32 values: from the start for the first half, from the end for the
    rest (as ATen computes them), each rounded to float32 as `.item()` returns it."""
    start, end = _f32(start), _f32(end)
    if steps == 1:
        return (start,)
    step = _f32(_f32(end - start) / (steps - 1))
    half = steps // 2
    return tuple(_f32(start + i * step if i < half else end - (steps - 1 - i) * step) for i in range(steps))


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def elements(t: Tensor) -> list:
    """`for x in tensor`: its rows (0-d tensors for a 1-D one), with their values when known."""
    if t.shape is None or not t.shape:
        raise StaticUnsupported("iterating over a 0-d or lazy tensor")
    rest = t.shape[1:]
    if t.values is not None and not rest:
        return [Tensor((), t.dtype, values=(v,)) for v in t.values]
    return [Tensor(rest, t.dtype) for _ in range(t.shape[0])]


def attr(t: Tensor, name: str) -> Any:
    if name == "data":
        return t
    if name == "shape":
        return t.shape if t.shape is not None else Unknown("the shape of a lazy parameter")
    if name == "T" and t.shape is not None:
        return Tensor(tuple(reversed(t.shape)), t.dtype)
    if name == "dtype":
        return Dtype(t.dtype)
    if name == "ndim" and t.shape is not None:
        return len(t.shape)
    if name == "device":
        return Ref("torch.device()")
    if name == "requires_grad":
        return Unknown("requires_grad", plain=True)
    return BoundMethod(t, name)


def method(t: Tensor, name: str, args: list, kwargs: dict) -> Any:
    if name in ("resize_", "set_", "unsqueeze_", "squeeze_", "t_", "transpose_", "as_strided_", "resize_as_",
                "swapdims_", "swapaxes_"):
        raise StaticUnsupported(f"`.{name}()` changes a tensor's shape")
    if name.endswith("_") and not name.startswith("_"):
        return t
    if name in ("clone", "detach", "contiguous", "cpu", "cuda", "requires_grad_") or \
            name in ("tril", "triu") and t.shape is not None and len(t.shape) >= 2:
        return Tensor(t.shape, t.dtype)
    if name in ("float", "double", "half", "bfloat16", "long", "int", "bool", "short"):
        return Tensor(t.shape, DTYPES[name])
    if name == "to":
        for a in [*args, kwargs.get("dtype")]:
            if isinstance(a, Dtype):
                return Tensor(t.shape, a.name)
            if isinstance(a, Unknown):
                raise StaticUnsupported("`.to(...)` with an argument not known statically")
        return Tensor(t.shape, t.dtype)
    if t.shape is None:
        return Unknown("a lazy parameter's shape")
    numel = math.prod(t.shape)
    if name in ("view", "reshape"):
        shape = list(_size([a if a != -1 else 0 for a in (args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)], "view"))
        raw = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else list(args)
        if raw.count(-1) == 1:
            known = math.prod(d for d, r in zip(shape, raw) if r != -1)
            if known == 0 or numel % known:
                raise StaticUnsupported("`.view(...)` raises for this shape")
            shape[raw.index(-1)] = numel // known
        if math.prod(shape) != numel:
            raise StaticUnsupported("`.view(...)` raises for this shape")
        return Tensor(tuple(shape), t.dtype)
    if name == "unsqueeze" and args and int_like(args[0]):
        d = args[0] if args[0] >= 0 else args[0] + len(t.shape) + 1
        return Tensor((*t.shape[:d], 1, *t.shape[d:]), t.dtype)
    if name == "flatten" and not args:
        return Tensor((numel,), t.dtype)
    if name == "t" and len(t.shape) <= 2:
        return Tensor(tuple(reversed(t.shape)), t.dtype)
    if name == "size":
        return t.shape if not args else t.shape[args[0]]
    if name == "dim":
        return len(t.shape)
    if name == "numel":
        return numel
    if name == "item" and numel == 1:
        return t.values[0] if t.values is not None else Unknown("a tensor's value", plain=True)
    if name == "tolist" and t.values is not None and len(t.shape) == 1:
        return list(t.values)
    return Unknown(f"`.{name}()` of a tensor is not followed statically")


def binop(left: Any, right: Any) -> Any:
    tensors = [v for v in (left, right) if isinstance(v, Tensor)]
    others = [v for v in (left, right) if not isinstance(v, Tensor)]
    t = tensors[0]
    if t.dtype not in FLOAT_DTYPES or t.shape is None:
        return Unknown("arithmetic on this tensor is not followed statically")
    if len(tensors) == 2 and (tensors[1].shape != t.shape or tensors[1].dtype != t.dtype):
        return Unknown("arithmetic on tensors of different shapes is not followed statically")
    if others and not isinstance(others[0], (int, float)):
        return Unknown("arithmetic on a tensor is not followed statically")
    return Tensor(t.shape, t.dtype)
