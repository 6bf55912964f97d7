"""The pre-commit hook, run by the real pre-commit against a clone of this repository's
committed state, in a temporary git repository: it fails a commit with a failing load
and lets a clean one through.

pre-commit builds the hook's virtual environment itself (`pip install .` of the clone,
i.e. the root pyproject.toml, with its dependencies from the package index; no torch, so
the hook infers models statically). PRE_COMMIT_HOME is a temporary folder: the
environment is built once for the test and never touches the user's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci_helpers import net_pth, net_script  # noqa: F401 - fixture
from cli_helpers import REPO

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def test_hook_manifest():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "weightmatch" and hook["types_or"] == ["python", "jupyter"]
    assert hook["language"] == "python" and hook["entry"].startswith("weightmatch check")


def _git(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_pre_commit_fails_the_commit_on_an_error_and_passes_a_clean_project(tmp_path, net_pth):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PRE_COMMIT", "GIT_", "VIRTUAL_ENV"))}
    env.update(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), HOME=str(tmp_path),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1")
    # the hook repository: what is committed on this branch
    hooks = tmp_path / "weightmatch-clone"
    cloned = _git("clone", "-q", str(REPO), str(hooks), cwd=tmp_path, env=env)
    assert cloned.returncode == 0, cloned.stderr
    rev = _git("rev-parse", "HEAD", cwd=hooks, env=env).stdout.strip()

    proj = tmp_path / "proj"
    proj.mkdir()
    assert _git("init", "-q", cwd=proj, env=env).returncode == 0
    shutil.copyfile(net_pth, proj / "net.pth")
    (proj / "main.py").write_text(net_script(30))
    (proj / "notes.txt").write_text("not Python: the hook never sees it\n")
    # a notebook is handed to the hook (types_or: jupyter) and checked: no cells, nothing to report
    (proj / "explore.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    _git("add", ".", cwd=proj, env=env)

    def pre_commit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PRE_COMMIT), *args], cwd=proj, env=env, capture_output=True, text=True,
                              timeout=400)

    tried = pre_commit("try-repo", str(hooks), "weightmatch", "--ref", rev, "--all-files")
    assert tried.returncode == 1, tried.stdout + tried.stderr
    assert "weightmatch" in tried.stdout and "Failed" in tried.stdout
    assert "main.py:8:9: size-mismatch" in tried.stdout and "main.py:9:9: size-mismatch" in tried.stdout, tried.stdout

    # installed as the project's git hook: the commit is refused, then accepted once fixed
    (proj / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: {hooks}\n    rev: {rev}\n    hooks:\n    -   id: weightmatch\n")
    assert pre_commit("install").returncode == 0
    _git("add", ".", cwd=proj, env=env)
    refused = _git("commit", "-q", "-m", "a failing load", cwd=proj, env=env)
    assert refused.returncode != 0 and "size-mismatch" in refused.stdout + refused.stderr, refused
    assert _git("rev-parse", "--verify", "HEAD", cwd=proj, env=env).returncode != 0  # nothing committed

    (proj / "main.py").write_text(net_script(20))
    _git("add", ".", cwd=proj, env=env)
    accepted = _git("commit", "-q", "-m", "a clean load", cwd=proj, env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "weightmatch" in accepted.stdout + accepted.stderr  # the hook ran (and passed)

    tried = pre_commit("try-repo", str(hooks), "weightmatch", "--ref", rev, "--all-files", "--verbose")
    assert tried.returncode == 0 and "Passed" in tried.stdout, tried.stdout + tried.stderr
    # --verbose shows the hook's own output: it ran static-only (no torch in its environment), said so once
    assert tried.stdout.count("torch is not installed") == 1, tried.stdout
