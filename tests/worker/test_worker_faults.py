"""Limits and faults: time limit, memory cap, exits, crashes, no torch, no side effects."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from weightmatch.worker import BuildError, WorkerClient

OK_SOURCE = """
import torch.nn as nn
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
"""


def _faulty(body: str) -> str:
    return OK_SOURCE + f"""
import os, sys, ctypes, torch
class Faulty(nn.Module):
    def __init__(self):
        super().__init__()
        {body}
"""


@pytest.fixture(scope="module")
def client():
    logs: list[tuple[str, str]] = []
    c = WorkerClient(timeout=4.0, memory_mb=3072, log=lambda level, message: logs.append((level, message)))
    c.logs = logs  # type: ignore[attr-defined]
    c.start()
    yield c
    c.close()


def _pid(client) -> int:
    return client._child.proc.pid  # the current child, for restart checks


def _expect(client, make_recipe, body: str, kind: str) -> BuildError:
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(_faulty(body), "Faulty()"))
    assert err.value.kind == kind, err.value.message
    # the next build works, in a live worker
    assert "fc.weight" in client.build(make_recipe(OK_SOURCE, "Small()")).keys()
    return err.value


@pytest.mark.slow
def test_endless_constructor_is_stopped_and_the_worker_restarted(client, make_recipe):
    client.build(make_recipe(OK_SOURCE, "Small()"))
    before = _pid(client)
    began = time.monotonic()
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(_faulty("while True: pass"), "Faulty()"))
    assert err.value.kind == "timeout"
    assert time.monotonic() - began < client.timeout + 5
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # the old child is gone
    assert "fc.weight" in client.build(make_recipe(OK_SOURCE, "Small()")).keys()
    assert _pid(client) != before


def test_huge_allocation_is_a_memory_error(client, make_recipe):
    err = _expect(client, make_recipe, 'self.big = torch.empty(10**11 // 4, device="cpu")', "memory")
    assert "memory" in err.message


def test_sys_exit_is_user_code_and_the_worker_survives(client, make_recipe):
    client.build(make_recipe(OK_SOURCE, "Small()"))
    before = _pid(client)
    err = _expect(client, make_recipe, "sys.exit(3)", "user-code")
    assert "SystemExit: 3" in err.message and "train.py:" in err.message
    assert _pid(client) == before


def test_keyboard_interrupt_is_user_code(client, make_recipe):
    _expect(client, make_recipe, "raise KeyboardInterrupt", "user-code")


@pytest.mark.parametrize("body", ["os._exit(1)", "ctypes.string_at(0)"])
def test_crash_is_reported_and_the_worker_restarted(client, make_recipe, body):
    client.build(make_recipe(OK_SOURCE, "Small()"))
    before = _pid(client)
    err = _expect(client, make_recipe, body, "crash")
    assert "exited with status 1" in err.message or "signal" in err.message
    assert _pid(client) != before


def test_prints_and_input_do_not_touch_the_channel(client, make_recipe):
    source = OK_SOURCE + """
import os, sys
class Chatty(Small):
    def __init__(self):
        super().__init__()
        print("hello from user code")
        os.write(1, b'{"id": 999, "ok": true}\\n')
        sys.stdout.write("more\\n")
        try:
            input()
        except EOFError:
            pass
"""
    state = client.build(make_recipe(source, "Chatty()"))
    assert set(state.keys()) == {"fc.weight", "fc.bias"}


def test_canaries_never_run(client, make_recipe, tmp_path):
    canary_main = tmp_path / "canary_main.txt"
    canary_lib = tmp_path / "canary_lib.txt"
    files = {
        "lib.py": f"""
            import torch.nn as nn
            open({str(canary_lib)!r}, "w").write("ran")
            WIDTH = 4
            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(WIDTH, 2)
            if __name__ == "__main__":
                open({str(canary_lib)!r}, "w").write("ran")
        """,
    }
    source = f"""
import torch.nn as nn
from lib import Head
open({str(canary_main)!r}, "w").write("ran")
with open({str(canary_main)!r}, "w") as f:
    f.write("ran")
for _ in range(1):
    open({str(canary_main)!r}, "w").write("ran")
SIDE = open({str(canary_main)!r}, "w")
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = Head()
model = Net()
if __name__ == "__main__":
    open({str(canary_main)!r}, "w").write("ran")
"""
    state = client.build(make_recipe(source, "Net()", files=files))
    assert set(state.keys()) == {"head.fc.weight", "head.fc.bias"}
    assert not canary_main.exists() and not canary_lib.exists()


def test_network_is_blocked(client, make_recipe):
    source = """
import socket
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        socket.create_connection(("example.com", 80), timeout=1)
"""
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(source, "Net()"))
    assert err.value.kind == "user-code" and "network access is blocked" in err.value.message


def _python_without_torch(folder) -> str:
    """A fresh virtual environment of the interpreter running the tests: it has no torch."""
    env_dir = folder / "no-torch"
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(env_dir)], check=True, capture_output=True, timeout=120)
    python = env_dir / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import torch"], capture_output=True).returncode != 0
    return str(python)


def test_no_torch_in_the_interpreter(tmp_path):
    python = _python_without_torch(tmp_path)
    from weightmatch.types import Recipe

    with WorkerClient(python=python, timeout=10) as c:
        with pytest.raises(BuildError) as err:
            c.build(Recipe(file="/x/train.py", source="", root="/x", var="m", constructor="f()"))
        assert err.value.kind == "no-torch" and "torch" in err.value.message
        info = c.probe()
        assert info["torch"] is None and info["python"] and info["error"]


def test_missing_interpreter_is_no_torch():
    from weightmatch.types import Recipe

    c = WorkerClient(python="/nonexistent/python", timeout=5)
    with pytest.raises(BuildError) as err:
        c.build(Recipe(file="/x/train.py", source="", root="/x", var="m", constructor="f()"))
    assert err.value.kind == "no-torch"
    c.close()
