"""Issue 11.6: loads known only at run time are one summary line in the text output, listed
with --show-unresolved, and kept (with their code) in the JSON."""

from __future__ import annotations

from cli_helpers import check_json, run_cli, run_python, write

SCRIPT = """
import sys
import torch
import torch.nn as nn

model = nn.Linear(4, 2)
model.load_state_dict(torch.load("good.pth"))        # checked: loads
model.load_state_dict(torch.load(sys.argv[1]))       # the checkpoint is known only at run time
other = torch.hub.load("x/y", "z")                   # the model is known only at run time
other.load_state_dict(torch.load("good.pth"))
"""


def _workspace(ws):
    assert run_python("import torch, torch.nn as nn; torch.save(nn.Linear(4, 2).state_dict(), 'good.pth')",
                      cwd=ws).returncode == 0
    write(ws, "main.py", SCRIPT)


def test_text_output_ends_with_one_summary_line(workspace):
    _workspace(workspace)
    status, diags = check_json(workspace)
    unresolved = [d for d in diags if d["code"].startswith("unresolved-")]
    loads = {(d["load_call"]["path"], d["load_call"]["line"]) for d in unresolved}
    assert len(loads) == 2 and {d["load_call"]["line"] for d in unresolved} == {7, 9}  # JSON keeps them

    p = run_cli("check", "--root", str(workspace), str(workspace), cwd=workspace)
    assert p.returncode == status == 0, p.stderr
    assert p.stdout == ("2 loads not checked (model or checkpoint known only at run time): "
                        "--show-unresolved lists them\n")

    shown = run_cli("check", "--show-unresolved", "--root", str(workspace), str(workspace), cwd=workspace)
    assert shown.returncode == 0
    codes = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("main.py:")]
    assert sorted(codes) == sorted(d["code"] for d in unresolved)
    assert "not checked" not in shown.stdout


def test_a_project_whose_loads_are_all_checked_prints_nothing(workspace):
    _workspace(workspace)
    write(workspace, "main.py", "\n".join(SCRIPT.splitlines()[:7]) + "\n")
    p = run_cli("check", "--root", str(workspace), str(workspace), cwd=workspace)
    assert (p.returncode, p.stdout) == (0, "")
