"""Hover, code lens, the checkpoint-contents request, and a server that survives bad input."""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import Doc, codes, lsp_client_fixture, make_checkpoint, write
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture()


async def hover(client, doc: Doc, needle: str, offset: int = 1) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(doc.uri), doc.position(needle, offset)))
    assert result is not None, f"no hover on {needle!r}"
    assert result.contents.kind == types.MarkupKind.Markdown
    return result.contents.value


async def lenses(client, doc: Doc) -> list[str]:
    result = await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(doc.uri)))
    # this client did not say it runs any command itself: labels only
    assert all(lens.command.command == "" for lens in result)
    return [lens.command.title for lens in result]


async def test_hover_on_layer_line_load_call_and_checkpoint_path(client, folder):
    make_checkpoint(folder, save_net(out=3))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))

    layer = await hover(client, doc, "self.fc2", 5)
    assert "| key | saved | current | dtype | status |" in layer
    assert "`fc2.weight` | [3, 20] | [4, 20] | float32 | ✗ size mismatch" in layer
    assert "`fc2.bias` | [3] | [4]" in layer

    call = await hover(client, doc, "load_state_dict", 3)
    assert "raises" in call
    assert "`fc1.weight` | [20, 10] | [20, 10] | float32 | ✓" in call
    assert "model.pth" in call and "inferred statically" in call  # static inference answers this model
    assert " KB" in call or " B " in call  # the checkpoint's size

    path = await hover(client, doc, '"model.pth"', 3)
    assert "fc2.weight" in path and "model.pth" in path

    nothing = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(doc.uri), doc.position("def forward", 1)))
    assert nothing is None
    doc.close()


async def test_code_lens_titles(client, folder):
    make_checkpoint(folder, save_net(out=3))
    mismatch = Doc(client, write(folder, "mismatch.py", net_script(out=4))).open()
    assert await lenses(client, mismatch) == ["✗ 2 size mismatches"]

    ok = Doc(client, write(folder, "ok.py", net_script(out=3))).open()
    assert await lenses(client, ok) == ["✓ 4/4 tensors match"]

    make_checkpoint(folder, save_net(out=3, name="fc1_only.pth", wrap='{k: v for k, v in sd.items() if k.startswith("fc1")}'))
    partial = net_script(out=3, extra=", strict=False").replace("model.pth", "fc1_only.pth")
    lenient = Doc(client, write(folder, "lenient.py", partial)).open()
    assert await lenses(client, lenient) == ["⚠ strict=False: 2 missing (keep initial values)"]

    unknown = Doc(client, write(folder, "unknown.py", "import torch\nimport builder\n\nmodel = builder.make()\n"
                                "model.load_state_dict(torch.load('model.pth'))\n")).open()
    titles = await lenses(client, unknown)
    assert len(titles) == 1 and titles[0].startswith("?"), titles
    for doc in (mismatch, ok, lenient, unknown):
        doc.close()


async def test_syntax_error_keeps_the_server_alive(client, folder):
    make_checkpoint(folder, save_net(out=3))
    # broken below the load: what parses above it is still analysed and hovered
    broken = Doc(client, write(folder, "broken.py", net_script(out=4) + "\ndef after(x:\n")).open()
    await broken.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(broken.uri), broken.position("self.fc2", 5)))
    assert result is not None and "fc2.weight" in result.contents.value
    # Typing more garbage, then a good document: everything still answers.
    broken.replace("class (:\n  \x00 ))\n")
    await broken.diagnostics()
    good = Doc(client, write(folder, "good.py", net_script(out=4))).open()
    assert "size-mismatch" in codes(await good.diagnostics(lambda ds: "size-mismatch" in codes(ds)))
    broken.close()
    good.close()


async def contents(client, path) -> object:
    return await client.protocol.send_request_async("weightmatch/checkpointContents", {"path": str(path)})


async def test_checkpoint_contents_request(client, folder):
    make_checkpoint(folder, save_net(out=3))
    result = await contents(client, folder / "model.pth")
    assert result.error is None
    assert result.format == "torch-zip"
    assert result.size == (folder / "model.pth").stat().st_size
    assert result.tensorCount == 4
    assert result.torchscript is False and list(result.unsafeGlobals) == []
    entries = {e.key: e for e in result.entries}
    assert list(entries) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert list(entries["fc2.weight"].shape) == [3, 20]
    assert entries["fc2.weight"].dtype == "float32" and entries["fc2.weight"].nbytes == 240

    (folder / "corrupt.pth").write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    corrupt = await contents(client, folder / "corrupt.pth")
    assert corrupt.error and list(corrupt.entries) == []

    missing = await contents(client, folder / "nope.pth")
    assert missing.error

    # By uri too, as the VS Code viewer sends it.
    by_uri = await contents(client, (folder / "model.pth").as_uri())
    assert by_uri.error is None and by_uri.tensorCount == 4
