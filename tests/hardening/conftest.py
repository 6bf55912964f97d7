"""Fixtures of the hardening tests and the session-end summary of their figures.

One copy of the examples (with checkpoints written by their make_ckpt.py) and one
engine Project with execution on are shared by the whole session, so the model
worker imports torch once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hardening_helpers import FIGURES, copy_examples


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("hardening figures")
    for section, counts in FIGURES.items():
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in counts.items())
        terminalreporter.write_line(f"{section:18s} {shown}")


def _fmt(value) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


@pytest.fixture(scope="session")
def examples(tmp_path_factory) -> list[Path]:
    """The examples' main.py files, in a temporary copy that has their checkpoints."""
    return copy_examples(tmp_path_factory.mktemp("hardening") / "examples")


class LogTap:
    """An engine log callback that keeps errors and counts worker starts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.worker_starts = 0

    def __call__(self, level: str, message: str) -> None:
        with self.lock:
            if level == "error":
                self.errors.append(message)
            if "model worker: started pid" in message:
                self.worker_starts += 1


@pytest.fixture(scope="session")
def engine(examples):
    """(Project over the examples' folder with execution on, its log tap)."""
    from weightmatch.project import Project, Settings

    tap = LogTap()
    project = Project(str(examples[0].parents[2]), Settings(execute=True, worker_timeout=30.0), log=tap)
    yield project, tap
    project.close()
