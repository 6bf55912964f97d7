"""An imported model file edited in the editor but not saved: the script that loads the
checkpoint is analysed against the text as typed (static inference reads open buffers)."""

from __future__ import annotations

import pytest

from lsp_helpers import Doc, codes, lsp_client_fixture, make_checkpoint, write

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code"])

MODELS = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, {hidden})
        self.fc2 = nn.Linear({hidden}, 3)
"""
MAIN = """import torch
from models import Net

model = Net()
model.load_state_dict(torch.load("model.pth"))
"""


async def test_typing_in_an_imported_model_file_updates_the_load_that_uses_it(client, folder):
    models_path = write(folder, "models.py", MODELS.format(hidden=20))
    make_checkpoint(folder, "import torch\nfrom models import Net\ntorch.save(Net().state_dict(), 'model.pth')\n")
    main = Doc(client, write(folder, "main.py", MAIN)).open()
    assert await main.diagnostics() == []
    models = Doc(client, models_path).open()
    await models.diagnostics()

    models.replace(MODELS.format(hidden=30))  # not saved: the disk still says 20
    squiggles = await models.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    assert {d.range.start.line for d in squiggles if d.code == "size-mismatch"} == {6, 7}  # fc1, fc2 lines
    assert all(d.data["how"] == "static" for d in squiggles)
    assert models_path.read_text() == MODELS.format(hidden=20)

    models.replace(MODELS.format(hidden=20))  # typed back: the load is clean again
    assert "size-mismatch" not in codes(await models.diagnostics(lambda ds: "size-mismatch" not in codes(ds)))
    main.close()
    models.close()
