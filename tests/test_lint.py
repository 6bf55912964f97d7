"""`ruff check server` (pyflakes, bugbear, simplify, a complexity budget: server/pyproject.toml)
is part of the test command."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_server():
    if importlib.util.find_spec("ruff") is None:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed: `pip install -e 'server[test]'` (scripts/setup) installs it")
        pytest.skip("ruff is not installed (the `test` extra of server/pyproject.toml has it)")
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "server"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_no_module_is_over_about_600_lines():
    """Each file stays small enough to read whole (the design's ~600 lines; split by job when over)."""
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (REPO / "server" / "weightmatch").rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 610} == {}
