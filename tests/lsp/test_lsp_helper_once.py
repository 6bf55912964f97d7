"""A helper's load judged twice: in the helper's own analysis and in the script that calls it.
The editor shows one squiggle when both say the same thing (the one without the call path)."""

from __future__ import annotations

import pytest

from lsp_helpers import Doc, lsp_client_fixture, make_checkpoint, write

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code"])

HELPER = """import torch
import torch.nn as nn


def load_model():
    model = nn.Linear(4, 5)
    model.load_state_dict(torch.load("w.pt"))
    return model
"""


async def test_a_helper_load_opened_with_its_caller_has_one_squiggle(client, folder):
    make_checkpoint(folder, "import torch\ntorch.save({'weight': torch.zeros(3, 4), 'bias': torch.zeros(3)}, 'w.pt')\n")
    helper = Doc(client, write(folder, "helper.py", HELPER)).open()
    own = await helper.diagnostics(lambda ds: any(d.code == "size-mismatch" for d in ds))
    assert [d.code for d in own] == ["size-mismatch"] and " as called from " not in own[0].message
    main = Doc(client, write(folder, "main.py", "from helper import load_model\n\nmodel = load_model()\n")).open()
    await main.diagnostics()  # published after the lists of every other file the analysis touched
    published = [p for p in client.published if p.uri == helper.uri]
    assert len(published) >= 2  # main.py's analysis contributed to helper.py's list
    assert [(d.code, d.message) for d in published[-1].diagnostics] == [(d.code, d.message) for d in own]
    main.close()
    helper.close()
