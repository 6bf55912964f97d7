"""Issue 11.5: a module with its own `_load_from_state_dict` or load hooks is not checked as if
it had none: what it judges gets no verdict (a hint, `unresolved-load`), and every finding of
that load says so (its message, `Finding.inexact`, the JSON and the hover)."""

from __future__ import annotations

import pytest

from weightmatch.lsp.features.hover import report_markdown
from weightmatch.project import Project, Settings
from weightmatch.report import to_json

SCRIPT = """
import torch
import torch.nn as nn


class Renamed(nn.Module):
    # reads checkpoints that still call its weight `old_w`
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))

    def _load_from_state_dict(self, state_dict, prefix, *args):
        if prefix + "old_w" in state_dict:
            state_dict[prefix + "w"] = state_dict.pop(prefix + "old_w")
        super()._load_from_state_dict(state_dict, prefix, *args)


class Net(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.head = Renamed()
        self.fc = nn.Linear(3, out)


model = Net({out})
model.load_state_dict(torch.load("old.pth"))
"""


@pytest.mark.parametrize("static_first", [True, False], ids=["static-first", "worker-first"])
@pytest.mark.parametrize("out", [4, 5], ids=["loads", "fc-mismatch"])
def test_own_loading_is_not_checked_silently(root, case, out, static_first):
    main = case.write("main.py", SCRIPT.format(out=out))
    case.torch('import torch, torch.nn as nn\ntorch.save({"head.old_w": torch.ones(3), '
               '**{"fc." + k: v for k, v in nn.Linear(3, 4).state_dict().items()}}, "old.pth")')
    run = case.run()
    project = Project(str(root), Settings(execute=True, static_first=static_first, worker_timeout=120))
    try:
        result = project.analyze(str(main))
    finally:
        project.close()
    (report,) = [r for r in result.reports if r.findings or r.rows]
    errors = [f for f in result.findings if f.severity == "error"]
    if run.returncode == 0:
        # PyTorch loads it; the engine must not claim `head.w` missing / `head.old_w` unexpected
        assert errors == [] and report.raises is None
        (hint,) = result.findings
        assert hint.code == "unresolved-load" and "`head` (Renamed) loads its own way" in hint.message
    else:
        assert "size mismatch for fc.weight" in run.stderr and "head" not in run.stderr
        assert [(f.code, f.keys) for f in errors] == [("size-mismatch", ["fc.weight", "fc.bias"])]
        assert "not exact: `head` (Renamed)" in errors[0].message
    diagnostics = to_json(result.findings, str(case.dir))["diagnostics"]
    assert diagnostics and all(d["inexact"] == ["head"] for d in diagnostics)
    assert "Not exact: `head` loads its own way" in report_markdown(report)
