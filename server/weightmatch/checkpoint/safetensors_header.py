"""safetensors: an 8-byte little-endian header length, a JSON header, then raw bytes.

Parsed by hand rather than with the `safetensors` package for two reasons: the
language server runs in the user's interpreter with only pure-Python vendored
libraries (safetensors is a compiled extension that may be missing or mismatched
there), and the speed target is to read < 1 MB of a multi-GB file, which the header
alone gives us. The `safetensors` package is used only by the tests, to write files.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from ..types import DTYPE_SIZES, Checkpoint, StateDict, TensorInfo
from .errors import unreadable

# The safetensors library refuses headers above 100 MB; we stop at 32 MB (~200,000
# tensors), and at 2 million JSON values (a tensor takes ~6), so that what the header
# describes costs no more than the header: a shape of 10 million dimensions is refused
# before it is parsed. torch tensors have at most 64 dimensions.
MAX_HEADER_BYTES = 32_000_000
MAX_JSON_VALUES = 2_000_000
MAX_DIMS = 64

DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
    "C64": "complex64", "C128": "complex128",
}


def looks_like_safetensors(head: bytes) -> bool:
    return len(head) >= 9 and head[8:9] == b"{"


def read_safetensors(f: BinaryIO, path: str, size: int) -> Checkpoint:
    prefix = f.read(8)
    if len(prefix) < 8:
        raise unreadable(path, "too short for a safetensors header")
    length = int.from_bytes(prefix, "little")
    if length > size - 8:
        raise unreadable(path, f"safetensors header length {length} is larger than the file ({size} bytes)")
    if length > MAX_HEADER_BYTES:
        raise unreadable(path, f"safetensors header of {length} bytes exceeds the {MAX_HEADER_BYTES // 1_000_000} MB limit")
    raw = f.read(length)
    if len(raw) < length:
        raise unreadable(path, "the safetensors header is truncated")
    values = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if values > MAX_JSON_VALUES:
        raise unreadable(path, f"the safetensors header holds more than {MAX_JSON_VALUES:,} values "
                         "(a checkpoint reader's limit)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise unreadable(path, f"the safetensors header is not valid JSON ({_one_line(e)})") from None
    if not isinstance(header, dict):
        raise unreadable(path, "the safetensors header is not a JSON object")
    data_size = size - 8 - length
    out = StateDict()  # metadata stays None: safetensors keeps no module versions
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        out[name] = _tensor(entry, name, data_size, path)
    return Checkpoint(path=path, format="safetensors", size=size, obj=out)


def _tensor(entry: Any, name: str, data_size: int, path: str) -> TensorInfo:
    if not isinstance(entry, dict):
        raise unreadable(path, f"safetensors entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise unreadable(path, f"safetensors entry {name!r} has no dtype")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(d) is int and d >= 0 for d in shape):
        raise unreadable(path, f"safetensors entry {name!r} has an invalid shape")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise unreadable(path, f"safetensors entry {name!r} has invalid data_offsets")
    if offsets[1] > data_size:
        raise unreadable(path, f"tensor {name!r} lies past the end of the file (truncated download?)")
    info = TensorInfo(tuple(shape), DTYPES.get(dtype, dtype.lower()))
    if info.dtype in DTYPE_SIZES and info.nbytes != offsets[1] - offsets[0]:
        raise unreadable(path, f"tensor {name!r}: shape {info.shape_text()} does not match its {offsets[1] - offsets[0]} bytes")
    return info


def _one_line(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
