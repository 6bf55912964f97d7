"""A client that runs `weightmatch.showCheckpoint` itself (the VS Code extension says so in
initializationOptions.clientCommands) gets code lenses that open the load's checkpoint."""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import Doc, codes, lsp_client_fixture, make_checkpoint, write
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code"], options={"clientCommands": ["weightmatch.showCheckpoint"]})


async def test_the_verdict_lens_opens_the_checkpoint_it_was_reached_on(client, folder):
    make_checkpoint(folder, save_net(out=3))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    result = await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(doc.uri)))
    assert [(lens.command.title, lens.command.command, list(lens.command.arguments)) for lens in result] == [
        ("✗ 2 size mismatches", "weightmatch.showCheckpoint", [(folder / "model.pth").as_uri()])]

    unknown = Doc(client, write(folder, "unknown.py", "import torch\nimport builder\n\nmodel = builder.make()\n"
                                "model.load_state_dict(torch.load('model.pth'))\n")).open()
    result = await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(unknown.uri)))
    titles = [(lens.command.title, lens.command.command) for lens in result]
    # the model is not known, so the checkpoint is not read for this load: a label, nothing to open
    assert titles == [("? model not resolved", "")]
    doc.close()
    unknown.close()
