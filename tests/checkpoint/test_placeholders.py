"""Placeholders shared between tensors stay inert, sharing never mixes up two tensors, and
the tensor count equals the full walk's."""

from __future__ import annotations

import zipfile

import pytest
from weightmatch.checkpoint import read_checkpoint, tensor_entries, unpickler
from weightmatch.checkpoint.walk import count_tensors
from weightmatch.types import Opaque, StateDict, TensorInfo

REBUILD = b"ctorch._utils\n_rebuild_tensor_v2\n"
FLOAT_STORAGE = b"ctorch\nFloatStorage\n"
HOOKS = b"ccollections\nOrderedDict\n)R"


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _tensor(size_ops: bytes, after_storage: bytes = b"", after_type: bytes = b"") -> bytes:
    """The opcodes torch.save writes for one float tensor, `size_ops` building its size tuple."""
    pid = b"((" + _str("storage") + FLOAT_STORAGE + after_type + _str("0") + _str("cpu") + b"K\x06tQ" + after_storage
    return REBUILD + pid + b"K\x00" + size_ops + b"K\x03K\x01\x86\x89" + HOOKS + b"tR"


def _read(tmp_path, items: list[tuple[str, bytes]], name="crafted.pt"):
    body = b"".join(_str(k) + v for k, v in items)
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}(" + body + b"u.")
        zf.writestr("archive/version", b"3\n")
    return read_checkpoint(str(path))


SIZE_2_3 = b"K\x02K\x03\x86"
# BUILD with (None, {"shape": (9,), "dtype": "evil", "info": "evil"}): dict state and slot state
EVIL_STATE = b"N}(" + _str("shape") + b"K\t\x85" + _str("dtype") + _str("evil") + _str("info") + _str("evil") + b"u\x86b"


def test_build_cannot_change_a_shared_placeholder(tmp_path):
    ckpt = _read(tmp_path, [
        ("a", _tensor(SIZE_2_3)),
        ("b", _tensor(SIZE_2_3) + EVIL_STATE),  # BUILD on the (shared) tensor placeholder
        ("c", _tensor(SIZE_2_3, after_storage=EVIL_STATE)),  # on the storage placeholder
        ("d", _tensor(SIZE_2_3, after_type=EVIL_STATE)),  # on the storage type
        ("e", _tensor(SIZE_2_3)),
    ])
    assert all(ckpt.obj[k] == TensorInfo((2, 3), "float32") for k in "abcde"), ckpt.obj
    assert ckpt.unsafe_globals == []
    again = _read(tmp_path, [("x", _tensor(SIZE_2_3))], "again.pt")  # and nothing leaks into the next read
    assert again.obj["x"] == TensorInfo((2, 3), "float32")


@pytest.mark.parametrize("size_ops", [
    b"G?\xf0\x00\x00\x00\x00\x00\x00K\x03\x86",  # (1.0, 3): equal to (1, 3), not a shape
    b"\x88K\x03\x86",  # (True, 3)
    b"J\xff\xff\xff\xffK\x03\x86",  # (-1, 3)
    b"K\x01X\x01\x00\x00\x003\x86",  # (1, "3")
])
def test_sizes_equal_to_a_shape_do_not_share_its_placeholder(tmp_path, size_ops):
    ckpt = _read(tmp_path, [("good", _tensor(b"K\x01K\x03\x86")), ("odd", _tensor(size_ops)),
                            ("good2", _tensor(b"K\x01K\x03\x86"))])
    assert ckpt.obj["good"] == ckpt.obj["good2"] == TensorInfo((1, 3), "float32")
    assert ckpt.obj["odd"] == Opaque("torch.Tensor", "tensor with an unreadable size")


def test_many_distinct_shapes(tmp_path, monkeypatch):
    monkeypatch.setattr(unpickler, "_SHARED_MAX", 16)  # the cache empties itself when full
    items = [(f"t{i}", _tensor(b"M" + i.to_bytes(2, "little") + b"K\x03\x86")) for i in range(100)]
    ckpt = _read(tmp_path, items * 2)
    assert [v.shape for v in ckpt.obj.values()] == [(i, 3) for i in range(100)]
    assert len(unpickler._SHARED) <= 16


def _trees():
    t = TensorInfo((2,), "float32")
    shared = StateDict(w=t, b=t)
    cyclic: list = [t]
    cyclic.append(cyclic)
    deep: object = t
    for _ in range(400):
        deep = [deep, t]
    wide = {f"k{i}": [t, (t, {"x": t})] for i in range(50)}
    return [t, {}, [], StateDict(a=t, b=1, c="x", d=None), {"m": shared, "e": shared, "n": [shared, (shared,)]},
            cyclic, deep, wide, (t, [t, {"a": t}]), {1: t, (1, 2): [t]}, Opaque("x")]


@pytest.mark.parametrize("tree", _trees(), ids=lambda t: type(t).__name__)
def test_count_equals_the_walk(tree):
    assert count_tensors(tree) == len(tensor_entries(tree))


def test_count_respects_the_visit_limit(monkeypatch):
    from weightmatch.checkpoint import walk

    monkeypatch.setattr(walk, "MAX_VISITS", 7)
    tree = {f"k{i}": {"a": TensorInfo((1,)), "b": [TensorInfo((2,))]} for i in range(10)}
    assert count_tensors(tree) == len(tensor_entries(tree)) < 20
