"""Issue 11.2: `_extra_state` is expected where loading consults set_extra_state, whichever way
the model is obtained (static inference first, or the worker first)."""

from __future__ import annotations

import pytest

from weightmatch.project import Project, Settings

SCRIPT = """
import torch
import torch.nn as nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
{hooks}

model = nn.Sequential(Counter(), nn.ReLU())
torch.save(model.state_dict(), "own.pth")
model.load_state_dict(torch.load("own.pth", weights_only=False))
"""

HOOKS = {
    "get_only": "    def get_extra_state(self):\n        return {'step': 1}\n",
    "set_only": "    def set_extra_state(self, state):\n        pass\n",
    "both": "    def get_extra_state(self):\n        return {'step': 1}\n\n"
            "    def set_extra_state(self, state):\n        pass\n",
}


@pytest.mark.parametrize("static_first", [True, False], ids=["static-first", "worker-first"])
@pytest.mark.parametrize("hooks", sorted(HOOKS))
def test_extra_state_as_loading_consults_it(root, case, hooks, static_first):
    main = case.write("main.py", SCRIPT.format(hooks=HOOKS[hooks]))
    run = case.run()  # writes own.pth, then loads it back
    project = Project(str(root), Settings(execute=True, static_first=static_first, worker_timeout=120))
    try:
        result = project.analyze(str(main))
    finally:
        project.close()
    found = {(f.code, tuple(f.keys)) for f in result.findings if f.severity == "error"}
    if run.returncode == 0:
        assert found == set()
    else:
        code = "unexpected-keys" if "Unexpected key(s)" in run.stderr else "missing-keys"
        assert 'Unexpected key(s) in state_dict: "0._extra_state"' in run.stderr or \
            'Missing key(s) in state_dict: "0._extra_state"' in run.stderr, run.stderr[-800:]
        assert found == {(code, ("0._extra_state",))}
