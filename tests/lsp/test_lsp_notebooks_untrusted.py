"""A notebook in an untrusted workspace follows the rules of a file: no model code runs.

The model's constructor writes a canary file and holds a `while` loop (which static
inference steps aside from, so only the worker could build it). Untrusted, the load's
cell gets `unresolved-model` (besides `checkpoint-not-found`) and the canary is never written.
"""

from __future__ import annotations

import json

import pytest
from lsprotocol import types

from lsp_helpers import lsp_client_fixture, wait_for_diagnostics

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code"], trusted=False)

CELLS = [
    ("code", "import torch\nimport torch.nn as nn"),
    ("code", "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        open(CANARY, 'w').write('ran')\n        n = 0\n        while n < 2:\n            n += 1\n"
             "        self.fc = nn.Linear(4, 3)"),
    ("code", "model = Net()\nmodel.load_state_dict(torch.load('net.pth'))"),
]


async def test_untrusted_notebook_runs_no_model_code(client, folder):
    canary = folder / "canary.txt"
    cells = [(k, s.replace("CANARY", repr(str(canary)))) for k, s in CELLS]
    path = folder / "untrusted.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": k, "id": f"c{i}", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for i, (k, s) in enumerate(cells)]}))
    uris = [f"vscode-notebook-cell:{path}#c{i}" for i in range(len(cells))]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=path.as_uri(), notebook_type="jupyter-notebook", version=1,
            cells=[types.NotebookCell(kind=types.NotebookCellKind.Code, document=u) for u in uris]),
        cell_text_documents=[types.TextDocumentItem(uri=u, language_id="python", version=1, text=s)
                             for u, (_, s) in zip(uris, cells)]))
    diagnostics = await wait_for_diagnostics(client, uris[2], lambda ds: any(d.code == "unresolved-model" for d in ds))
    # (the checkpoint is not there either: this is about the model)
    assert [d.range.start.line for d in diagnostics if d.code == "unresolved-model"] == [1]
    assert not canary.exists()
