"""A comment edit over LSP: the last analysis is reused with its positions moved (reuse.py).

The diagnostic follows its line, and the quick fix offered after the edit, applied to the
edited text, is the fixed script, which loads under real PyTorch.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import apply_edit, lsp_client_fixture, run_script, server_status
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code", "neovim-inline"])


def _mismatch(diagnostics: list[types.Diagnostic]) -> types.Diagnostic:
    found = [d for d in diagnostics if d.code == "size-mismatch"]
    assert len(found) == 1, diagnostics
    return found[0]


async def test_comment_line_above_the_layer_moves_the_diagnostic_and_its_fix(client, failing_load):
    script = net_script(out=4)
    doc, diagnostics = await failing_load(save_net(out=3), script)
    before = _mismatch(diagnostics)
    layer = doc.line_of("self.fc2 =")
    assert before.range.start.line == layer
    reused = (await server_status(client))["reused"]

    edited = script.replace("        self.fc2 =", "        # the head: 4 classes here, 3 in the checkpoint\n        self.fc2 =")
    doc.replace(edited)
    after = _mismatch(await doc.diagnostics(lambda ds: any(d.code == "size-mismatch" for d in ds)))
    assert (await server_status(client))["reused"] == reused + 1  # not analysed again
    assert after.range.start.line == layer + 1 == doc.line_of("self.fc2 =")
    assert (after.range.start.character, after.range.end.character) == (before.range.start.character,
                                                                         before.range.end.character)
    assert after.message == before.message
    load_line = doc.line_of("load_state_dict")
    assert load_line in {r.location.range.start.line for r in after.related_information or []}

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(doc.uri),
        range=after.range,
        context=types.CodeActionContext(diagnostics=[after], only=[types.CodeActionKind.QuickFix]),
    ))
    offered = {a.data["fixKind"]: a for a in actions or [] if isinstance(a, types.CodeAction)}
    assert "use-checkpoint-size" in offered, sorted(offered)
    action = offered["use-checkpoint-size"]
    if action.edit is None:
        action = await client.code_action_resolve_async(action)
    fixed = apply_edit(action.edit, {doc.uri: edited})[doc.uri]
    assert fixed == edited.replace("nn.Linear(20, 4)", "nn.Linear(20, 3)")
    doc.path.write_text(fixed)
    result = run_script(doc.path)
    assert result.returncode == 0 and "RuntimeError" not in result.stderr, result.stderr
    doc.close()
