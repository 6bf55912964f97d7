"""Helpers for CLI tests: real checkpoints made by the tests, the CLI run as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "weightmatch"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def check_json(ws: Path, *extra: str) -> tuple[int, list[dict]]:
    p = run_cli("check", "--format", "json", "--root", str(ws), *extra, str(ws), cwd=ws)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)["diagnostics"]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run code with real PyTorch (to make checkpoints, or to run a fixed script)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def write(ws: Path, name: str, text: str) -> Path:
    path = ws / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path
