"""Shared by the CI-integration tests: one real checkpoint per session, a failing project."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cli_helpers import CLI, run_python, write

NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, {hidden}){c1}
        self.fc2 = nn.Linear({hidden}, 2){c2}


model = Net()
model.load_state_dict(torch.load("net.pth")){c3}
"""
# size-mismatch diagnostics sit on lines 8 (fc1) and 9 (fc2); the load call is line 13


def net_script(hidden: int = 30, c1: str = "", c2: str = "", c3: str = "") -> str:
    return NET.replace("{hidden}", str(hidden)).replace("{c1}", c1).replace("{c2}", c2).replace("{c3}", c3).lstrip("\n")


@pytest.fixture(scope="session")
def net_pth(tmp_path_factory) -> Path:
    """net.pth saved by real torch from Net with hidden size 20."""
    out = tmp_path_factory.mktemp("net-ckpt")
    save = net_script(20).replace('model.load_state_dict(torch.load("net.pth"))', 'torch.save(model.state_dict(), "net.pth")')
    p = run_python(save, out)
    assert p.returncode == 0, p.stderr
    return out / "net.pth"


@pytest.fixture
def project(workspace, net_pth):
    """`make(hidden=30, **comments)`: main.py (failing when hidden != 20) beside net.pth."""

    def make(hidden: int = 30, **comments: str) -> Path:
        shutil.copyfile(net_pth, workspace / "net.pth")
        write(workspace, "main.py", net_script(hidden, **comments))
        return workspace

    return make


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


__all__ = ["CLI", "cli", "net_pth", "net_script", "project", "write"]
