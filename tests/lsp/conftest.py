"""Fixtures of the language server's end-to-end tests; helpers are in lsp_helpers.py."""

from pathlib import Path

import pytest


@pytest.fixture
def folder(client, request) -> Path:
    """A fresh sub-folder of the module's workspace for one test."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    path = client.root / name  # type: ignore[attr-defined]
    path.mkdir()
    return path
