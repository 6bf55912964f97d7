"""Hostile inputs of issue 14, built small in the tests themselves, and one way to run the
CLI on them that measures what each run cost (wall time, peak memory, exit status).

Every builder writes a few KB to a few MB; what the file *describes* is what is large.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable

# -- checkpoints ---------------------------------------------------------------------


def torch_zip(path: Path, pkl: bytes) -> Path:
    """A file laid out as torch.save's zip format holding `pkl` as data.pkl (deflated)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", b"little")
        zf.writestr("archive/version", b"3\n")
    return path


def legacy(path: Path, pkl: bytes) -> Path:
    """torch.save's legacy format: magic number, protocol version, sys_info, then `pkl`."""
    head = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2))
    path.write_bytes(head + pkl + pickle.dumps([], protocol=2))
    return path


def deep_tuple_key(depth: int = 1_000_000) -> bytes:
    """A dict whose key is a tuple nested `depth` deep: hashing it recursed in C (SIGSEGV)."""
    return b"\x80\x02}N" + b"\x85" * depth + b"Ns."


def deep_tuple_in_set(depth: int = 1_000_000) -> bytes:
    """builtins.set([deep tuple]): the set hashes it."""
    return b"\x80\x02c__builtin__\nset\n(N" + b"\x85" * depth + b"l\x85R."


def deep_tuple_frozenset(depth: int = 1_000_000) -> bytes:
    """The FROZENSET opcode over a deep tuple (protocol 4)."""
    return b"\x80\x04(N" + b"\x85" * depth + b"\x91."


def _binget(i: int) -> bytes:
    return b"h" + bytes([i])


def _binput(i: int) -> bytes:
    return b"q" + bytes([i])


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def frozenset_dag(levels: int = 40) -> bytes:
    """Each level a frozenset holding the previous level twice (in two tuples)."""
    out = [b"\x80\x04N", _binput(0)]
    for i in range(1, levels + 1):
        out += [b"(", _binget(i - 1), b"K\x00\x86", _binget(i - 1), b"K\x01\x86", b"\x91", _binput(i), b"0"]
    out += [_binget(levels), b"."]
    return b"".join(out)


def dict_dag(levels: int = 30) -> bytes:
    """Each level a dict holding the previous level under two keys."""
    out = [b"\x80\x02}", _binput(0)]
    for i in range(1, levels + 1):
        out += [b"}", _binput(i), b"(", _str("a"), _binget(i - 1), _str("b"), _binget(i - 1), b"u0"]
    out += [_binget(levels), b"."]
    return b"".join(out)


def list_dag(levels: int = 40) -> bytes:
    out = [b"\x80\x02]", _binput(0)]
    for i in range(1, levels + 1):
        out += [b"]", _binput(i), b"(", _binget(i - 1), _binget(i - 1), b"e0"]
    out += [_binget(levels), b"."]
    return b"".join(out)


def empty_dicts(n: int = 12_000_000) -> bytes:
    """n EMPTY_DICT opcodes in one list: 12 MB that deflates to ~12 KB."""
    return b"\x80\x02(" + b"}" * n + b"l."


def nones(n: int) -> bytes:
    return b"\x80\x02(" + b"N" * n + b"l."


def state_dict_pickle(tensors: int) -> bytes:
    """A data.pkl as torch.save writes it for `tensors` float tensors of shape [2, 2]
    (only the globals memoized)."""
    parts = [b"\x80\x02}("]
    rebuild, storage, odict = (b"ctorch._utils\n_rebuild_tensor_v2\nq\x01", b"ctorch\nFloatStorage\nq\x02",
                               b"ccollections\nOrderedDict\nq\x03")  # memoized on first use, as torch does
    for i in range(tensors):
        parts += [_str(f"layers.{i}.weight"), rebuild, b"((", _str("storage"), storage,
                  _str(str(i)), _str("cpu"), b"K\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89",
                  odict, b")RtR"]
        rebuild, storage, odict = b"h\x01", b"h\x02", b"h\x03"
    parts.append(b"u.")
    return b"".join(parts)


def safetensors_dims(path: Path, dims: int = 10_000_000) -> Path:
    """A safetensors header whose one tensor has `dims` dimensions of size 1."""
    shape = "[" + ",".join(["1"] * dims) + "]"
    header = ('{"w":{"dtype":"F32","shape":' + shape + ',"data_offsets":[0,4]}}').encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    return path


def safetensors(path: Path, tensors: dict[str, list[int]]) -> Path:
    header, offset = {}, 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * offset)
    return path


# -- scripts -------------------------------------------------------------------------
LOAD_SCRIPT = """import torch
from torch import nn

model = nn.Linear(2, 2)
model.load_state_dict(torch.load({path!r}))
"""


def load_script(folder: Path, checkpoint: str, name: str = "main.py") -> Path:
    path = folder / name
    path.write_text(LOAD_SCRIPT.format(path=checkpoint))
    return path


# -- running the CLI -----------------------------------------------------------------
@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the child's peak resident memory

    def ok(self, *, seconds: float = 2.0, peak_mb: float = 500.0) -> None:
        """The hostile-run contract: exit 0/1, no traceback, within time and memory."""
        assert self.code in (0, 1), (self.code, self.stderr[-2000:])
        assert "Traceback" not in self.stderr and "Traceback" not in self.stdout, self.stderr[-2000:]
        assert self.seconds <= seconds, f"took {self.seconds:.2f} s"
        assert self.peak_mb <= peak_mb, f"peak {self.peak_mb:.0f} MB"

    def diagnostics(self) -> list[dict]:
        return json.loads(self.stdout)["diagnostics"]


# Runs the CLI and, at its exit, writes the process's own peak resident memory (VmHWM of the
# address space it built after exec). wait4's ru_maxrss would not do: Linux carries the
# parent's high-water mark across fork and exec, and this test process may hold torch.
_PEAK_WRAPPER = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as f:
        kb = next((line.split()[1] for line in f if line.startswith("VmHWM:")), "0")
    with open(os.environ["WM_PEAK_FILE"], "w") as out:
        out.write(kb)
atexit.register(_peak)
from weightmatch.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_cli(cwd: Path, *args: str, timeout: float = 60.0, stdin=None) -> Run:
    """`weightmatch check ARGS` in `cwd` with this worktree's code, and its own peak memory."""
    import tempfile
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        env = {**os.environ, "PYTHONPATH": str(REPO / "server"), "WM_PEAK_FILE": peak.name}
        start = time.monotonic()
        proc = subprocess.Popen([PYTHON, "-c", _PEAK_WRAPPER, "check", *args], cwd=cwd, env=env,
                                stdout=out, stderr=err, stdin=stdin or subprocess.DEVNULL)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            proc.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        text = open(peak.name).read().strip()
    assert seconds < timeout, f"weightmatch check {args} was killed after {timeout} s"
    assert text, f"weightmatch check {args} did not report its peak memory: {stderr[-500:]}"
    return Run(proc.returncode, stdout, stderr, seconds, int(text) / 1024)
