"""A shared Project (one model worker) over a temporary workspace; each test writes its own
script and checkpoints into its own folder of that workspace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from weightmatch.project import Project, Settings


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def project(root: Path):
    p = Project(str(root), Settings(execute=True, worker_timeout=120))
    yield p
    p.close()


@pytest.fixture(scope="module")
def static_project(root: Path):
    p = Project(str(root), Settings(execute=False))
    yield p
    p.close()


class Case:
    def __init__(self, folder: Path):
        self.dir = folder

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def torch(self, code: str) -> None:
        """Run code with real PyTorch in this folder (to write checkpoints)."""
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=self.dir, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr

    def run(self, script: str = "main.py") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, script], cwd=self.dir, capture_output=True, text=True, timeout=300)


@pytest.fixture
def case(root: Path, request) -> Case:
    folder = root / request.node.name.replace("[", "_").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return Case(folder)
