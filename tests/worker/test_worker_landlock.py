"""Issue 14, item 11: where the kernel has Landlock, the worker writes only beneath its private
temporary folder (and /dev/null), opens no TCP connection and signals nothing outside its
sandbox, whatever the model code does. Canary files must never appear."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from weightmatch.worker import landlock
from weightmatch.worker.client import WorkerClient

REPO = Path(__file__).resolve().parents[2]
needs_landlock = pytest.mark.skipif(landlock.abi_version() < 1, reason="no Landlock on this kernel")

WRITER = """
import os, tempfile
import torch.nn as nn


class Writer(nn.Module):
    def __init__(self):
        super().__init__()
        try:
            with open({canary!r}, "w") as f:
                f.write("escaped")
            self.escaped = nn.Linear(1, 1)
        except OSError:
            self.denied = nn.Linear(2, 2)
        with open(os.path.join(tempfile.gettempdir(), "scratch.txt"), "w") as f:  # its own folder works
            f.write("ok")
        self.scratch = nn.Linear(3, 3)
"""


@needs_landlock
def test_model_code_in_the_worker_cannot_write_outside_its_folder(make_recipe, tmp_path, monkeypatch):
    monkeypatch.delenv("WEIGHTMATCH_WORKER_WRITABLE", raising=False)  # tests/conftest.py opens the test folders
    logs: list[tuple[str, str]] = []
    client = WorkerClient(timeout=30.0, log=lambda level, message: logs.append((level, message)))
    client.start()
    try:
        canary = tmp_path / "canary.txt"
        state = client.build(make_recipe(WRITER.format(canary=str(canary)), "Writer()"))
    finally:
        client.close()
    keys = set(state.keys())
    assert "denied.weight" in keys and "scratch.weight" in keys and "escaped.weight" not in keys, keys
    assert not canary.exists()
    assert any("Landlock ABI" in message for _, message in logs), logs


@needs_landlock
def test_confine_unit(tmp_path):
    """In a child process (confining is for good): writes, TCP and signals outside are refused."""
    code = f"""
import os, socket, subprocess, sys
sys.path.insert(0, {str(REPO / 'server')!r})
from weightmatch.worker import landlock
said = landlock.confine()
assert said.startswith("Landlock ABI"), said
for path in ({str(tmp_path / 'a.txt')!r}, os.path.expanduser("~/.weightmatch-canary")):
    try:
        open(path, "w").close()
        raise SystemExit("wrote " + path)
    except PermissionError:
        pass
open(os.path.join(os.environ["TMPDIR"], "ok"), "w").close()
open(os.devnull, "w").write("x")
child = subprocess.run(["sh", "-c", "echo x > {tmp_path / 'b.txt'}"], capture_output=True)
assert child.returncode != 0
if landlock.abi_version() >= 4:
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        raise SystemExit("connected")
    except PermissionError:
        pass
if landlock.abi_version() >= 6:
    try:
        os.kill(os.getppid(), 0)
        raise SystemExit("could signal its parent")
    except PermissionError:
        pass
print("confined")
"""
    env = {k: v for k, v in os.environ.items() if k != "WEIGHTMATCH_WORKER_WRITABLE"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0 and "confined" in run.stdout, run.stderr[-2000:]
    assert not (tmp_path / "a.txt").exists() and not (tmp_path / "b.txt").exists()
    assert not os.path.exists(os.path.expanduser("~/.weightmatch-canary"))
