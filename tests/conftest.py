"""Shared test set-up: the repository's paths. Each test folder has its own fixtures."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session", autouse=True)
def _worker_may_write_test_folders(tmp_path_factory):
    """The model worker confines its writes with Landlock (worker/landlock.py). Tests whose model
    code writes a canary file to prove it ran (or that it did not) need those writes to be
    possible: the session's temporary folders are writable for the worker. Tests of the
    confinement itself (tests/worker/test_worker_landlock.py) remove this."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WEIGHTMATCH_WORKER_WRITABLE", str(tmp_path_factory.getbasetemp()))
        yield
