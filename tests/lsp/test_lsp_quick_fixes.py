"""Every quick-fix kind, applied to the real script and run with real PyTorch.

A fix is only worth offering if the load succeeds after it, so each test asks for
the code actions, applies the WorkspaceEdit the client would apply (resolving it
first where the client supports codeAction/resolve), writes the script and runs it.
The set-up (checkpoint, failing script, open, diagnostics) is conftest's `failing_load`.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import apply_edit, lsp_client_fixture, run_script
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code", "neovim", "neovim-inline"])

EXTRA_LAYER = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 3)
        self.fc3 = nn.Linear(3, 2)


model = Net()
model.load_state_dict(torch.load("model.pth"))
'''

WRAPPED = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 3)


model = nn.DataParallel(Net())
model.load_state_dict(torch.load("model.pth"))
'''

RENAMED = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.head = nn.Linear(20, 3)


model = Net()
model.load_state_dict(torch.load("model.pth"))
'''

GOOGLENET_1000 = """import torch
import torchvision.models as models
torch.save(models.googlenet(weights=None, init_weights=False).state_dict(), "model.pth")
"""

GOOGLENET_10 = """import torch
import torchvision.models as models

model = models.googlenet(weights=None, num_classes=10, init_weights=True)
model.load_state_dict(torch.load("model.pth"))
"""

# kind -> (code that writes model.pth, the script that fails to load it)
SCENARIOS = {
    "strict-false": (save_net(out=3), EXTRA_LAYER),
    "filter-shapes": (save_net(out=3), net_script(out=4)),
    "use-checkpoint-size": (save_net(out=3), net_script(out=4)),
    "strip-prefix": (save_net(out=3, wrap='{"module." + k: v for k, v in sd.items()}'), net_script(out=3)),
    "add-prefix": (save_net(out=3), WRAPPED),
    "select-nested": (save_net(out=3, wrap='{"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": {}}'), net_script(out=3)),
    "rename-keys": (save_net(out=3), RENAMED),
    # issue 11.4: fc, aux1.fc2 and aux2.fc2 all sized by one num_classes: one edit, not three
    "use-checkpoint-size/googlenet": (GOOGLENET_1000, GOOGLENET_10),
}
# fixed script text -> exit status under PyTorch, shared by the clients
_verified: dict[str, int] = {}


@pytest.mark.parametrize("kind", list(SCENARIOS))
async def test_quick_fix_makes_the_load_succeed(client, failing_load, kind):
    script = SCENARIOS[kind][1]
    doc, diagnostics = await failing_load(*SCENARIOS[kind])
    path = doc.path
    end = types.Position(line=len(script.splitlines()) + 1, character=0)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(doc.uri),
        range=types.Range(start=types.Position(line=0, character=0), end=end),
        context=types.CodeActionContext(diagnostics=diagnostics, only=[types.CodeActionKind.QuickFix]),
    ))
    offered = {a.data["fixKind"]: a for a in actions or [] if isinstance(a, types.CodeAction)}
    fix_kind = kind.split("/")[0]
    assert fix_kind in offered, f"{kind} not offered; offered {sorted(offered)} for {[d.code for d in diagnostics]}"
    action = offered[fix_kind]
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.diagnostics

    if client.client_name == "neovim-inline":
        assert action.edit is not None  # no resolve support: the edit comes inline
    else:
        assert action.edit is None  # computed lazily
        action = await client.code_action_resolve_async(action)
    edit = action.edit
    assert edit is not None
    if client.client_name == "visual-studio-code":
        assert edit.document_changes and not edit.changes
    else:
        assert edit.changes and not edit.document_changes

    fixed = apply_edit(edit, {doc.uri: script})[doc.uri]
    assert fixed != script
    path.write_text(fixed)
    if fixed not in _verified:
        result = run_script(path)
        _verified[fixed] = result.returncode
        assert result.returncode == 0 and "RuntimeError" not in result.stderr, f"{kind} fix:\n{fixed}\n{result.stderr}"
    assert _verified[fixed] == 0

    # The editor's buffer after the fix: the load's errors are gone.
    doc.replace(fixed)
    after = await doc.diagnostics()
    assert not any(d.severity == types.DiagnosticSeverity.Error for d in after), after
    doc.close()

