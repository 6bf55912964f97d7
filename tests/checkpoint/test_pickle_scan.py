"""The opcode scan: its regular-expression runs give exactly what the opcode loop gives,
and the memo guard bounds what the C unpickler may allocate."""

from __future__ import annotations

import argparse
import io
import pickle
import random
import re
import tracemalloc
import zipfile
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from weightmatch.checkpoint import CheckpointError, pickle_scan, read_checkpoint
from weightmatch.checkpoint.pickle_scan import (
    PickleInvalid,
    PickleTruncated,
    scan_pickle,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _outcome(data: bytes, pos: int = 0):
    try:
        r = scan_pickle(data, pos)
    except (PickleInvalid, PickleTruncated) as e:
        return type(e).__name__, str(e)
    return r.end, sorted(r.globals), sorted(r.refused_opcodes)


def _loop_only(data: bytes, pos: int = 0):
    """The scan with the regular expression disabled: every opcode goes through the loop."""
    real = pickle_scan._fast_run
    pickle_scan._fast_run = lambda: re.compile(b"")
    try:
        return _outcome(data, pos)
    finally:
        pickle_scan._fast_run = real


def _pickles() -> list[bytes]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    objs = [
        model.state_dict(),
        {"epoch": 3, "model": model.state_dict(), "args": argparse.Namespace(lr=0.1), "f": 0.5},
        OrderedDict((f"blocks.{i}.weight", torch.zeros(2, 3)) for i in range(300)),  # LONG_BINPUT
        {"k" * 200: torch.zeros(1), "ü" * 70: torch.zeros(2), "": 1, "big": 2**70, "huge": 10**700},
        model,
        [b"bytes", bytearray(b"x"), {1, 2}, frozenset({3}), 1j, None, True, -5, 70000, 2**40],
    ]
    out = []
    for obj in objs:
        for protocol in (2, 4, 5):
            buf = io.BytesIO()
            torch.save(obj, buf, pickle_protocol=protocol)
            with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
                out.append(zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl"))))
    return out


PICKLES = _pickles()


def test_runs_match_the_loop_on_real_pickles():
    for data in PICKLES:
        assert _outcome(data) == _loop_only(data)
        assert _outcome(data)[0] == len(data)


def test_runs_match_the_loop_on_mutations():
    rnd = random.Random(1234)
    interesting = [0, 1, 127, 128, 255, 256, 2**15, 2**16 - 1, 2**16, 2**31 - 1, 2**32 - 1]
    for i in range(3000):
        data = bytearray(rnd.choice(PICKLES))
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(len(data) + 1)
            op = rnd.randrange(4)
            if op == 0 and pos < len(data):
                data[pos] = rnd.randrange(256)
            elif op == 1:
                del data[pos:]
            elif op == 2:
                data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 6)))
            else:
                value = rnd.choice(interesting)
                width = rnd.choice([1, 2, 4])
                data[pos:pos + width] = (value % (1 << 8 * width)).to_bytes(width, "little")
        data = bytes(data)
        start = rnd.choice([0, 0, rnd.randrange(len(data) + 1)])
        assert _outcome(data, start) == _loop_only(data, start), (i, start)


def test_bytearray_and_offset():
    # the legacy reader scans a growing bytearray from an offset
    data = PICKLES[0]
    buf = bytearray(b"junk" + data + b"more")
    assert _outcome(buf, 4) == (len(data) + 4, *_outcome(data)[1:])
    with pytest.raises(PickleTruncated):
        scan_pickle(bytearray(b"junk" + data[:-1]), 4)


@pytest.mark.parametrize("index, offset_pad, ok", [
    (255, 0, True), (65535, 0, True),  # small indices: at most 1 MiB of memo, always accepted
    (65536, 0, False), (4_000_000_000, 0, False),  # large ones need a large pickle before them
    (70_000, 3 * 70_000, True), (150_000, 3 * 150_000, False),  # and never above the cap
])
def test_memo_guard(monkeypatch, index, offset_pad, ok):
    monkeypatch.setattr(pickle_scan, "MAX_MEMO_INDEX", 100_000)  # 10**7 in use; smaller to test
    body = b"N0" * (offset_pad // 2)  # NONE, POP: filler that moves the PUT's offset
    data = b"\x80\x02" + body + b"Nr" + index.to_bytes(4, "little") + b"."
    if ok:
        assert _outcome(data)[0] == len(data)
    else:
        with pytest.raises(PickleInvalid, match="memo index"):
            scan_pickle(data)
    assert _outcome(data) == _loop_only(data)


def _zip_with(tmp_path, data_pkl: bytes):
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", b"3\n")
    return path


@pytest.mark.parametrize("index", [65536, 2**31, 4_000_000_000])
def test_memo_bomb_in_a_zip_is_refused(tmp_path, index):
    path = _zip_with(tmp_path, b"\x80\x02Nr" + index.to_bytes(4, "little") + b".")
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="memo index"):
        read_checkpoint(str(path))
    assert tracemalloc.get_traced_memory()[1] < 2 << 20
    tracemalloc.stop()


def test_largest_accepted_memo_index_costs_at_most_a_mebibyte(tmp_path):
    path = _zip_with(tmp_path, b"\x80\x02}r" + (65535).to_bytes(4, "little") + b".")
    tracemalloc.start()
    ckpt = read_checkpoint(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert ckpt.obj == {}
    assert peak < 2 << 20, peak


def test_huge_frame_length_allocates_nothing(tmp_path):
    # FRAME's length is not checked by the scan (torch refuses FRAME anyway); the unpickler's
    # input must not allocate what it claims.
    path = _zip_with(tmp_path, b"\x80\x04\x95" + (2**40).to_bytes(8, "little") + b"N.")
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="truncated|pickle"):
        read_checkpoint(str(path))
    assert tracemalloc.get_traced_memory()[1] < 2 << 20
    tracemalloc.stop()


def test_long_strings_and_integers_take_the_loop():
    # strings of 128 bytes or more and LONG1 of more than 8 bytes are handled by the loop
    data = pickle.dumps({"a" * 127: 1, "b" * 128: 2**64, "c" * 5000: 2**2000}, protocol=2)
    assert _outcome(data) == _loop_only(data) == (len(data), [], [])
    big = pickle.dumps(10**700, protocol=2)  # LONG4: torch refuses it
    assert _outcome(big) == _loop_only(big) == (len(big), [], ["LONG4"])
