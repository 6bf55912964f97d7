"""Reading never runs pickle code, and the weights_only verdict matches real torch.load."""

from __future__ import annotations

import argparse
import os
import pickle
import pickletools
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
import torch.nn as nn

from weightmatch.checkpoint import CheckpointError, read_checkpoint
from weightmatch.checkpoint.allowlist import ALLOWED_GLOBALS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _payloads(canary):
    target = str(canary)
    return {
        "os.system": (os.system, (f"touch '{target}'",)),
        "builtins.exec": (exec, (f"open({target!r}, 'w').close()",)),
        "builtins.eval": (eval, (f"open({target!r}, 'w').close()",)),
        "subprocess.call": (subprocess.call, (["touch", target],)),
    }


class Evil:
    def __init__(self, reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


@pytest.fixture(params=["os.system", "builtins.exec", "builtins.eval", "subprocess.call"])
def evil(request, canary):
    payload = _payloads(canary)[request.param]
    # Prove the payload is live: unpickled for real, it creates the canary.
    pickle.loads(pickle.dumps(Evil(payload), protocol=2))
    assert canary.exists()
    canary.unlink()
    return Evil(payload)


def _assert_inert(path, canary):
    try:
        ckpt = read_checkpoint(str(path))
    except CheckpointError:
        ckpt = None
    assert not canary.exists()
    return ckpt


def test_zip_data_pkl(tmp_path, evil, canary):
    path = tmp_path / "evil.pt"
    torch.save(evil, path)
    ckpt = _assert_inert(path, canary)
    assert ckpt.unsafe_globals


def test_legacy(tmp_path, evil, canary):
    path = tmp_path / "evil_legacy.pt"
    torch.save(evil, path, _use_new_zipfile_serialization=False)
    ckpt = _assert_inert(path, canary)
    assert ckpt.unsafe_globals


def test_nested_in_training_checkpoint(tmp_path, evil, canary):
    path = tmp_path / "train.pt"
    torch.save({"epoch": 1, "model_state_dict": nn.Linear(2, 2).state_dict(), "extra": [evil]}, path)
    ckpt = _assert_inert(path, canary)
    assert ckpt.unsafe_globals and "model_state_dict" in ckpt.obj


def test_plain_pickle(tmp_path, evil, canary):
    # A plain pickle starts like a legacy checkpoint; its first pickle is the payload.
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(evil, protocol=4))
    with pytest.raises(CheckpointError):
        read_checkpoint(str(path))
    assert not canary.exists()


def test_torchscript_archive(tmp_path, evil, canary):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(path))
    rewritten = tmp_path / "evil_scripted.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl") or info.filename.endswith("/constants.pkl"):
                data = pickle.dumps(evil, protocol=2)
            dst.writestr(info, data)
    ckpt = _assert_inert(rewritten, canary)
    assert ckpt.torchscript


def test_safetensors_header_is_data(tmp_path, canary):
    # JSON cannot carry code, but make sure nothing in the path evaluates strings.
    path = tmp_path / "x.safetensors"
    header = b'{"__import__(\'os\').system(\'touch %s\')": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}' % str(canary).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    ckpt = _assert_inert(path, canary)
    # a valid file (one empty tensor): the reader gives the key safetensors itself reads, as text
    from safetensors.torch import load_file

    real = load_file(str(path))
    assert ckpt is not None and list(ckpt.obj) == list(real)
    assert [info.shape for info in ckpt.obj.values()] == [tuple(t.shape) for t in real.values()]


def test_allowlist_matches_torch():
    from torch._weights_only_unpickler import _get_allowed_globals

    assert ALLOWED_GLOBALS == set(_get_allowed_globals())


def test_opcode_list_matches_torch():
    import inspect

    from torch import _weights_only_unpickler as wou

    from weightmatch.checkpoint.allowlist import TORCH_OPCODES

    source = inspect.getsource(wou.Unpickler.load)
    handled = {name for name in dir(pickle) if name.isupper() and re.search(rf"(?<![A-Z_]){name}\[0\]", source)}
    assert handled == TORCH_OPCODES


class Custom:
    def __init__(self):
        self.x = 1


def _cases():
    sd = lambda: nn.Linear(2, 2).state_dict()  # noqa: E731
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(3, 2)).sum().backward()
    opt.step()
    return {
        "plain": sd(),
        "training": {"epoch": 2, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict()},
        "namespace": {"model": sd(), "args": argparse.Namespace(lr=0.1)},
        "numpy-scalar": {"model": sd(), "best": np.float64(0.5)},
        "numpy-array": {"model": sd(), "arr": np.zeros(3)},
        "custom": {"model": sd(), "obj": Custom()},
        "module": model,
        "builtins": {"s": {1, 2}, "b": b"xy", "ba": bytearray(b"z"), "c": 1j, "dev": torch.device("cpu"),
                     "dt": torch.bfloat16, "size": torch.Size([2])},
        "frozenset": {"f": frozenset({1})},
        "param": {"p": nn.Parameter(torch.zeros(2))},
        # paths of the faster reader: long strings and integers go through the scan's loop,
        # shared storages and dtypes through the storage placeholders, 4+ dims through MARK
        "long-keys": {"k" * 300: torch.zeros(1), "ü" * 70: torch.zeros(2), "": torch.zeros(3)},
        "big-ints": {"w": torch.zeros(1), "n": 2**70, "m": -(2**100)},
        "huge-int": {"w": torch.zeros(1), "h": 10**700},  # LONG4, which torch refuses
        "tied": {"a": model[0].weight.detach(), "b": model[0].weight.detach(), "c": torch.zeros(2)},
        "dtypes": {str(d): torch.zeros(2, 3, dtype=d) for d in
                   (torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.uint8, torch.complex64)},
        "shapes": {"scalar": torch.tensor(3.0), "5d": torch.zeros(1, 2, 3, 4, 5), "view": torch.arange(9.0)[2:5],
                   "t": torch.zeros(3, 4).t(), "big": torch.zeros(70000, 0)},
    }


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", list(_cases()))
def test_verdict_matches_torch_load(tmp_path, case, legacy, protocol):
    obj = _cases()[case]
    path = tmp_path / f"{case}.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    try:
        torch.load(path)  # weights_only=True is the default since torch 2.6
        torch_refuses = False
    except Exception as e:  # noqa: BLE001 - any refusal counts
        torch_refuses = True
        reason = str(e)
    ckpt = read_checkpoint(str(path))
    assert bool(ckpt.unsafe_globals) == torch_refuses, (ckpt.unsafe_globals, reason if torch_refuses else "")
    if case == "namespace":
        assert "argparse.Namespace" in ckpt.unsafe_globals
    # what torch names as the refusal is among what the reader lists: a global, or (protocol 4+)
    # the first pickle opcode its weights_only unpickler does not support
    for name in re.findall(r"GLOBAL (\S+)", reason if torch_refuses else ""):
        name = name.rstrip(".")
        assert (name if "." in name else f"builtins.{name}") in ckpt.unsafe_globals, (name, ckpt.unsafe_globals)
    operand = re.search(r"Unsupported operand (\d+)", reason if torch_refuses else "")
    if operand:
        opcode = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}[int(operand[1])]
        assert f"pickle opcode {opcode}" in ckpt.unsafe_globals, (opcode, ckpt.unsafe_globals)
    if case == "namespace" and protocol < 4:
        assert ckpt.unsafe_globals == ["argparse.Namespace"]
    if case == "numpy-scalar" and protocol == 2:
        assert any(g.endswith("multiarray.scalar") for g in ckpt.unsafe_globals)
        assert "numpy.dtype" in ckpt.unsafe_globals


@pytest.mark.parametrize("case", ["plain", "training", "namespace", "tied", "long-keys"])
def test_verdict_matches_torch_load_deflated(tmp_path, case):
    # torch reads a data.pkl stored deflated; so does the hand-written zip reader
    path = tmp_path / f"{case}.pt"
    torch.save(_cases()[case], path)
    deflated = tmp_path / f"{case}-deflated.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    try:
        torch.load(deflated)
        torch_refuses = False
    except Exception:  # noqa: BLE001 - any refusal counts
        torch_refuses = True
    ckpt = read_checkpoint(str(deflated))
    assert bool(ckpt.unsafe_globals) == torch_refuses
    assert ckpt.unsafe_globals == read_checkpoint(str(path)).unsafe_globals


def test_protocol4_reason(tmp_path):
    path = tmp_path / "p4.pt"
    torch.save({"w": torch.zeros(1)}, path, pickle_protocol=4)
    ckpt = read_checkpoint(str(path))
    assert any(g.startswith("pickle opcode") for g in ckpt.unsafe_globals)
    with pytest.raises(Exception):
        torch.load(path)


def test_reader_never_imports_torch(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"model": nn.Linear(2, 2).state_dict(), "args": argparse.Namespace(a=1), "n": np.float64(1)}, path)
    code = ("import sys, weightmatch.checkpoint as c; ck = c.read_checkpoint(sys.argv[1]); "
            "bad = [m for m in ('torch', 'numpy', 'safetensors') if m in sys.modules]; "
            "assert not bad, bad; print(ck.tensor_count)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
