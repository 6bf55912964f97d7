"""Fixtures of the language server's end-to-end tests; helpers are in lsp_helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_helpers import Doc, make_checkpoint, run_script, write


@pytest.fixture
def folder(client, request) -> Path:
    """A fresh sub-folder of the module's workspace for one test."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    path = client.root / name  # type: ignore[attr-defined]
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """`make(folder, code)`: the files `code` writes with real torch, put into `folder`.
    Each distinct `code` runs once per session; later calls copy what it wrote."""
    made: dict[str, Path] = {}

    def make(folder: Path, code: str) -> None:
        if code not in made:
            out = tmp_path_factory.mktemp("checkpoint")
            make_checkpoint(out, code)
            made[code] = out
        for f in made[code].iterdir():
            shutil.copyfile(f, folder / f.name)

    return make


# (checkpoint code, script) -> exit status of the script under PyTorch, for the session
_pytorch_status: dict[tuple[str, str], int] = {}


@pytest.fixture
def failing_load(client, folder, checkpoints):
    """`await open_(ckpt_code, script)`: writes the checkpoint and `main.py`, checks that
    the load really fails under PyTorch, opens the script and waits for its diagnostics,
    which hold an error. Returns (Doc, diagnostics)."""

    async def open_(ckpt_code: str, script: str) -> tuple[Doc, list[types.Diagnostic]]:
        checkpoints(folder, ckpt_code)
        path = write(folder, "main.py", script)
        if (ckpt_code, script) not in _pytorch_status:  # the scenario really fails under PyTorch
            _pytorch_status[(ckpt_code, script)] = run_script(path).returncode
        assert _pytorch_status[(ckpt_code, script)] != 0

        doc = Doc(client, path).open()
        diagnostics = await doc.diagnostics(lambda ds: bool(ds))
        assert any(d.severity == types.DiagnosticSeverity.Error for d in diagnostics), diagnostics
        return doc, diagnostics

    return open_
