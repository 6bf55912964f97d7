"""Issue 14, item 11: what runs in the worker is contained.

User code in the worker can write to the protocol channel (its file descriptors are only
hidden, not out of reach), so every reply is untrusted data: forged replies and lines no
JSON decoder should recurse into end as a failed build or an ignored line, and the next
build works. Where `unshare` can make namespaces, the worker has its own pid and network
namespaces: it cannot signal the process that started it, nor reach any address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from weightmatch.worker import BuildError, protocol
from weightmatch.worker.client import sandbox_prefix

REPO = Path(__file__).resolve().parents[2]
OK = """
import torch.nn as nn
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
"""

# Writes `payload` on every descriptor that could be the channel, as hostile code would.
FORGE = OK + """
import os
class Forger(nn.Module):
    def __init__(self):
        super().__init__()
        for fd in range(3, 64):
            try:
                if fd != 2:
                    os.write(fd, {payload!r})
            except OSError:
                pass
        self.fc = nn.Linear(2, 3)
"""

needs_sandbox = pytest.mark.skipif(not sandbox_prefix(), reason="unshare cannot create namespaces here")


def _forged(ids: range, body: dict) -> bytes:
    return b"".join(json.dumps({**body, "id": i}).encode() + b"\n" for i in ids)


@pytest.mark.parametrize("body", [
    {"ok": True, "state": {"model_type": "Fake"}},  # no types/rows: was KeyError 'types' -> internal-error
    {"ok": True, "state": {"model_type": "Fake", "types": ["x"], "dtypes": ["float32"],
                           "rows": [[5, None, 0, [], [], [], []]]}},  # index out of range
    {"ok": True, "state": {"model_type": "Fake", "types": ["x"], "dtypes": ["float32"],
                           "rows": [[0, None, 0, [], [], ["w", [-1], 0], []]]}},  # negative dimension
    {"ok": True, "state": "not a dict"},
    {"ok": False, "kind": "no-such-kind", "message": ["not", "text"]},
])
def test_a_forged_reply_is_a_failed_build_and_the_next_build_works(client, make_recipe, body):
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(FORGE.format(payload=_forged(range(1, 200), body)), "Forger()"))
    assert err.value.kind == "crash" and "malformed" in err.value.message, err.value
    assert "fc.weight" in client.build(make_recipe(OK, "Small()")).keys()


def test_deeply_nested_json_on_the_channel_is_ignored(client, make_recipe):
    payload = b"[" * 200_000 + b"\n" + b"{" * 100_000 + b"\n" + b"\xff\xfe garbage\n" + b"[1, 2]\n"
    state = client.build(make_recipe(FORGE.format(payload=payload), "Forger()"))
    assert "fc.weight" in state.keys()  # the real reply still arrived and was used


def test_bounded_decoding_unit():
    with pytest.raises(protocol.BadReply):
        protocol.loads(b"[" * 200_000)
    with pytest.raises(ValueError):
        protocol.loads(b"[1, 2]")
    with pytest.raises(protocol.BadReply):
        protocol.unpack_state({"model_type": "X", "types": ["t"], "dtypes": ["float32"],
                               "rows": [[0, None, 0, ["a"], [], ["w", [1] * 65, 0], []]]}, [])
    checked = protocol.check_reply({"ok": False, "kind": "bogus", "message": "m" * 100_000}, BuildError.KINDS)
    assert checked["kind"] == "crash" and len(checked["message"]) == protocol.MAX_TEXT


@needs_sandbox
def test_the_worker_cannot_reach_the_network(client, make_recipe):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    source = OK + f"""
import _socket
class Caller(nn.Module):
    def __init__(self):
        super().__init__()
        s = _socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", {port}))  # below the worker's socket patches
            self.reached = nn.Linear(1, 1)
        except OSError as e:
            self.refused = nn.Linear(2, 2)
"""
    try:
        state = client.build(make_recipe(source, "Caller()"))
        with pytest.raises((socket.timeout, TimeoutError)):
            listener.accept()
    finally:
        listener.close()
    assert "refused.weight" in state.keys() and "reached.weight" not in state.keys()


KILLER = """import os, signal
import torch
import torch.nn as nn


def _hunt():
    # what hostile code does: find the process that started the worker and kill it
    # (in the sandbox getppid() is 0, and kill(0) would hit only the worker's own group)
    if os.getppid() > 1:
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except OSError:
            pass
    for entry in os.listdir("/proc"):  # the host's /proc: the CLI's pid is listed here
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
                if b"check" in cmd and b"weightmatch" in cmd:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


class Killer(nn.Module):
    def __init__(self):
        super().__init__()
        _hunt()
        self.fc = nn.Linear(2, 3)


model = Killer()
model.load_state_dict(torch.load("model.pt"))
"""


@needs_sandbox
def test_user_code_cannot_kill_the_cli(tmp_path):
    import torch

    torch.save({"fc.weight": torch.zeros(3, 2), "fc.bias": torch.zeros(3)}, tmp_path / "model.pt")
    (tmp_path / "main.py").write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "server")}
    proc = subprocess.run([sys.executable, "-m", "weightmatch", "check", "--exec-first", "--format", "json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    data = json.loads(proc.stdout)
    assert data["diagnostics"] == []  # the model was built (fc matches) and the CLI lived to say so
    assert "Traceback" not in proc.stderr


def test_replies_are_read_in_bounded_lines(monkeypatch, client, make_recipe):
    # a line longer than the limit stops the worker; the build fails and the next one works
    monkeypatch.setattr(protocol, "MAX_LINE_BYTES", 1 << 20)
    payload = b"x" * (2 << 20)
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(FORGE.format(payload=payload), "Forger()"))
    assert err.value.kind == "crash"
    assert "fc.weight" in client.build(make_recipe(OK, "Small()")).keys()
    assert threading.active_count() < 50
