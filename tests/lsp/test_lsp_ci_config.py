"""The project's configuration file in the editor (VS Code settings over it), inline
suppressions over LSP, and the quick fix that adds one."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_helpers import (CLIENTS, Doc, apply_edit, codes, make_checkpoint, server_config, start_session,
                         write)
from lsp_scenarios import net_script, save_net

FC2 = 8  # 0-based line of `self.fc2 = nn.Linear(20, {out})` in net_script


@pytest_lsp.fixture(params=CLIENTS, config=server_config())
async def client(request, lsp_client: LanguageClient, tmp_path):
    """A server per test with a fresh workspace folder: the configuration file is read when
    the folder's project is made (on the first document opened)."""
    root = tmp_path / "ws"
    root.mkdir()
    lsp_client.root = root
    lsp_client.client_name = request.param
    await start_session(lsp_client, request.param, root)
    yield
    try:
        await asyncio.wait_for(lsp_client.shutdown_session(), timeout=10)
    except (asyncio.TimeoutError, TimeoutError):
        pass


def _settings(client, **values) -> None:
    client.set_configuration(values, section="weightmatch")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


def _severities(ds):
    return {d.severity for d in ds if d.code == "size-mismatch"}


async def test_file_then_vscode_setting_over_it(client):
    root = client.root
    make_checkpoint(root, save_net(out=3))
    write(root, "pyproject.toml", """
        [tool.weightmatch]
        severity = { size-mismatch = "warning" }
        execute-model-code = true
        static-inference-first = false
        bogus-key = 1
        """)
    doc = Doc(client, write(root, "main.py", net_script(out=4))).open()
    ds = await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    assert _severities(ds) == {types.DiagnosticSeverity.Warning}  # the file's severity
    assert {d.data["how"] for d in ds if d.code == "size-mismatch"} == {"executed"}  # the file: worker first
    warnings = [m.message for m in client.log_messages if "bogus-key" in m.message]
    assert len(warnings) == 1 and "unknown key `bogus-key`" in warnings[0], warnings

    # a VS Code setting overrides the file: the severity and executeModelCode
    client.diagnostics.pop(doc.uri, None)
    _settings(client, severityOverrides={"size-mismatch": "information"}, executeModelCode=False)
    ds = await doc.diagnostics(lambda ds: _severities(ds) == {types.DiagnosticSeverity.Information})
    assert {d.data["how"] for d in ds if d.code == "size-mismatch"} == {"static"}
    # back to the defaults: the file applies again (a setting at its default does not override it)
    client.diagnostics.pop(doc.uri, None)
    _settings(client, executeModelCode=True)
    ds = await doc.diagnostics(lambda ds: _severities(ds) == {types.DiagnosticSeverity.Warning})
    assert {d.data["how"] for d in ds if d.code == "size-mismatch"} == {"executed"}
    # the unknown key was reported once, not at every settings change
    assert len([m for m in client.log_messages if "bogus-key" in m.message]) == 1


async def test_ignore_in_the_file(client):
    root = client.root
    make_checkpoint(root, save_net(out=3))
    write(root, "weightmatch.toml", 'ignore = ["size-mismatch"]\n')
    doc = Doc(client, write(root, "main.py", net_script(out=4))).open()
    assert "size-mismatch" not in codes(await doc.diagnostics())
    # the file changes on disk: read again, the document analysed again
    config = write(root, "weightmatch.toml", "ignore = []\n")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Changed)]))
    await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))


async def test_suppression_comment_and_the_quick_fix_that_adds_it(client):
    root = client.root
    make_checkpoint(root, save_net(out=3))
    script = net_script(out=4)
    doc = Doc(client, write(root, "main.py", script)).open()
    ds = await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    (mismatch,) = [d for d in ds if d.code == "size-mismatch"]
    assert mismatch.range.start.line == FC2

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(doc.uri), range=mismatch.range,
        context=types.CodeActionContext(diagnostics=[mismatch], only=[types.CodeActionKind.QuickFix])))
    (silence,) = [a for a in actions if isinstance(a, types.CodeAction) and a.data["fixKind"] == "suppress"]
    assert silence.title.startswith("Silence size-mismatch") and silence.edit is not None
    if client.client_name == "visual-studio-code":
        silence = await client.code_action_resolve_async(silence)  # already complete: returned as is
    fixed = apply_edit(silence.edit, {doc.uri: script})[doc.uri]
    assert fixed.splitlines()[FC2] == "        self.fc2 = nn.Linear(20, 4)  # weightmatch: ignore[size-mismatch]"

    # the editor's buffer with the comment (unsaved): the diagnostic is gone, the others stay
    doc.replace(fixed)
    after = await doc.diagnostics(lambda ds: "size-mismatch" not in codes(ds))
    assert all(d.code != "size-mismatch" for d in after)
    # the quick fix extends a directive that lists other codes
    other = script.replace("nn.Linear(20, 4)", "nn.Linear(20, 4)  # weightmatch: ignore[missing-keys]")
    doc.replace(other)
    ds = await doc.diagnostics(lambda ds: "size-mismatch" in codes(ds))
    (mismatch,) = [d for d in ds if d.code == "size-mismatch"]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(doc.uri), range=mismatch.range,
        context=types.CodeActionContext(diagnostics=[mismatch])))
    (silence,) = [a for a in actions if isinstance(a, types.CodeAction) and a.data["fixKind"] == "suppress"]
    fixed = apply_edit(silence.edit, {doc.uri: other})[doc.uri]
    assert fixed.splitlines()[FC2].endswith("# weightmatch: ignore[missing-keys, size-mismatch]")
    # on the load call: a bare ignore silences every diagnostic of that load
    doc.replace(script.replace('torch.load("model.pth"))', 'torch.load("model.pth"))  # weightmatch: ignore'))
    assert "size-mismatch" not in codes(await doc.diagnostics(lambda ds: "size-mismatch" not in codes(ds)))


async def test_report_unused_ignores_from_the_file(client):
    root = client.root
    make_checkpoint(root, save_net(out=3))
    write(root, "weightmatch.toml", "report-unused-ignores = true\n")
    script = net_script(out=4).replace("nn.Linear(20, 4)", "nn.Linear(20, 4)  # weightmatch: ignore[missing-keys]")
    doc = Doc(client, write(root, "main.py", script)).open()
    ds = await doc.diagnostics(lambda ds: "unused-ignore" in codes(ds))
    (unused,) = [d for d in ds if d.code == "unused-ignore"]
    assert unused.range.start.line == FC2 and "missing-keys" in unused.message
    assert unused.severity == types.DiagnosticSeverity.Error
    assert "size-mismatch" in codes(ds)  # the comment does not name it
    # naming the right code: silenced, and the comment is used
    doc.replace(script.replace("ignore[missing-keys]", "ignore[size-mismatch]"))
    after = await doc.diagnostics(lambda ds: "unused-ignore" not in codes(ds))
    assert "size-mismatch" not in codes(after)
