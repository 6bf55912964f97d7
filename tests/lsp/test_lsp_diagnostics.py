"""Diagnostics: on open, on change (debounced), cleared when fixed, and after the
checkpoint changes on disk."""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import Doc, codes, lsp_client_fixture, make_checkpoint, write
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture()


def has(code: str):
    return lambda ds: code in codes(ds)


async def test_size_mismatch_on_the_layer_line(client, folder):
    make_checkpoint(folder, save_net(out=3))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    diagnostics = await doc.diagnostics(has("size-mismatch"))
    mismatch = [d for d in diagnostics if d.code == "size-mismatch"]
    assert {d.range.start.line for d in mismatch} == {doc.line_of("self.fc2 =")}
    d = mismatch[0]
    assert d.source == "weightmatch"
    assert d.severity == types.DiagnosticSeverity.Error
    assert "fc2" in d.message
    assert set(d.data["keys"]) <= {"fc2.weight", "fc2.bias"} and d.data["keys"]
    # Both clients show related information: the layer line points at its load call.
    assert d.related_information
    assert doc.line_of("load_state_dict") in {r.location.range.start.line for r in d.related_information}
    doc.close()


async def test_change_updates_then_the_fix_clears(client, folder):
    make_checkpoint(folder, save_net(out=3))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    await doc.diagnostics(has("size-mismatch"))

    # Several quick edits: the first may be answered at once (leading edge), the rest are
    # merged; what settles is the final text's diagnostics.
    doc.replace(net_script(out=5))
    doc.replace(net_script(out=6))
    doc.replace(net_script(out=7))
    diagnostics = await doc.diagnostics(
        lambda ds: any("model [7, 20]" in d.message for d in ds if d.code == "size-mismatch"))
    assert [d.code for d in diagnostics] == ["size-mismatch"], diagnostics

    doc.replace(net_script(out=3))
    assert await doc.diagnostics(lambda ds: ds == []) == []
    # The lens waits for the analysis of the current text: it agrees.
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(doc.uri)))
    assert [lens.command.title for lens in lenses] == ["✓ 4/4 tensors match"]
    assert list(client.diagnostics[doc.uri]) == []
    doc.close()


async def test_checkpoint_changed_on_disk_republishes(client, folder):
    make_checkpoint(folder, save_net(out=4))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    assert await doc.diagnostics() == []

    make_checkpoint(folder, save_net(out=9))
    if client.client_name == "visual-studio-code":
        # VS Code watches the files the server registered for and reports changes.
        watchers = [r for r in client.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        assert watchers, client.registrations
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
            types.FileEvent(uri=(folder / "model.pth").as_uri(), type=types.FileChangeType.Changed)]))
    # Neovim's capabilities have no dynamic watchers: the server polls what it read.
    diagnostics = await doc.diagnostics(has("size-mismatch"))
    assert any("9" in d.message for d in diagnostics)
    doc.close()
    # Closing clears the document's diagnostics.
    assert await doc.diagnostics(lambda ds: ds == []) == []
