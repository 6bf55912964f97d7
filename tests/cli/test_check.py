"""The command-line contract: output formats, exit statuses, silence when all is well."""

from __future__ import annotations

import re

from cli_helpers import check_json, run_cli, run_python, write

NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, {hidden})
        self.fc2 = nn.Linear({hidden}, 2)


model = Net()
model.load_state_dict(torch.load("net.pth"))
"""


def _make(ws, hidden=20):
    p = run_python(NET.replace("{hidden}", str(hidden)).replace('model.load_state_dict(torch.load("net.pth"))',
                                                                 'torch.save(model.state_dict(), "net.pth")'), ws)
    assert p.returncode == 0, p.stderr


def test_clean_project_prints_nothing_and_exits_0(workspace):
    _make(workspace)
    write(workspace, "main.py", NET.replace("{hidden}", "20"))
    p = run_cli("check", ".", cwd=workspace)
    assert (p.returncode, p.stdout) == (0, "")


def test_size_mismatch_json_contract_and_exit_1(workspace):
    _make(workspace)
    write(workspace, "main.py", NET.replace("{hidden}", "30"))
    status, diags = check_json(workspace)
    assert status == 1
    first = diags[0]
    assert set(first) >= {"path", "line", "column", "end_line", "end_column", "severity", "code", "message",
                          "keys", "load_call"}
    assert (first["path"], first["line"], first["column"]) == ("main.py", 8, 9)
    assert first["code"] == "size-mismatch" and first["severity"] == "error"
    assert first["keys"] == ["fc1.weight", "fc1.bias"]
    assert first["load_call"] == {"path": "main.py", "line": 13}
    assert "checkpoint [20, 10], model [30, 10]" in first["message"]
    assert [d["line"] for d in diags] == [8, 9]


def test_text_format_shows_the_line_with_a_caret(workspace):
    _make(workspace)
    write(workspace, "main.py", NET.replace("{hidden}", "30"))
    p = run_cli("check", "main.py", cwd=workspace)
    assert p.returncode == 1
    assert "main.py:8:9: size-mismatch" in p.stdout
    assert "8 |         self.fc1 = nn.Linear(10, 30)" in p.stdout
    assert "^^^^" in p.stdout and p.stdout.rstrip().endswith("Found 2 errors.")


def test_usage_errors_exit_2(workspace):
    assert run_cli("check", "--format", "yaml", cwd=workspace).returncode == 2
    assert run_cli("check", "does-not-exist", cwd=workspace).returncode == 2


def test_no_exec_runs_no_model_code(workspace):
    _make(workspace)
    canary = workspace / "canary"
    write(workspace, "main.py", NET.replace("{hidden}", "30").replace(
        "super().__init__()", f"super().__init__()\n        open({str(canary)!r}, 'w').write('ran')"))
    status, diags = check_json(workspace, "--no-exec")
    assert not canary.exists()
    # static inference reads the class without running it (the `open(...)` call cannot change the
    # model): the same size mismatches PyTorch raises, none guessed
    truth = run_python(f"import runpy; runpy.run_path({str(workspace / 'main.py')!r})", workspace)
    raised = sorted(re.findall(r"size mismatch for (\S+):", truth.stderr))
    canary.unlink()
    assert raised and status == 1
    assert {(d["code"], d["how"]) for d in diags} == {("size-mismatch", "static")}
    assert sorted(k for d in diags for k in d["keys"]) == raised
    # with execution, worker first: the recipe runs, the top level does not
    status, diags = check_json(workspace, "--exec-first")
    assert canary.exists() and {d["code"] for d in diags} == {"size-mismatch"}


def test_a_helper_judged_alone_and_as_called_is_said_once(workspace):
    """`load_model()` in helper.py, called from main.py: its own analysis and main.py's reach
    the same answer; the CLI says it once. When the call changes the answer, both are kept,
    the called one naming its call path."""
    write(workspace, "helper.py", """
        import torch
        import torch.nn as nn


        def load_model(n_out=5):
            model = nn.Linear(4, n_out)
            model.load_state_dict(torch.load("w.pt"))
            return model
    """)
    assert run_python("import torch\ntorch.save({'weight': torch.zeros(3, 4), 'bias': torch.zeros(3)}, 'w.pt')",
                      workspace).returncode == 0
    write(workspace, "main.py", "from helper import load_model\n\nmodel = load_model()\n")
    status, diags = check_json(workspace)
    assert status == 1
    assert [(d["path"], d["line"], d["code"]) for d in diags] == [("helper.py", 6, "size-mismatch")], diags
    write(workspace, "main.py", "from helper import load_model\n\nmodel = load_model(n_out=6)\n")
    status, diags = check_json(workspace)
    assert len(diags) == 2 and sum(" as called from main.py:3" in d["message"] for d in diags) == 1, diags


def test_a_context_left_unresolved_is_said_beside_one_that_loads(workspace):
    """`load("w.pt")` is checked and loads; `load(sys.argv[1])` is a run of the same load that is
    not checked: its hint stays, naming that call, and nothing is said to fail."""
    assert run_python("import torch\ntorch.save({'weight': torch.zeros(2, 4), 'bias': torch.zeros(2)}, 'w.pt')",
                      workspace).returncode == 0
    write(workspace, "main.py", """
        import sys
        import torch
        import torch.nn as nn


        def load(path):
            model = nn.Linear(4, 2)
            model.load_state_dict(torch.load(path))
            return model


        load("w.pt")
        load(sys.argv[1])
    """)
    status, diags = check_json(workspace)
    assert status == 0
    assert [(d["line"], d["code"]) for d in diags] == [(8, "unresolved-checkpoint")], diags
    assert "`sys.argv[1]`" in diags[0]["message"] and "load() as called from main.py:13" in diags[0]["message"]
    p = run_python("import runpy, sys\nsys.argv = ['main.py', 'w.pt']\nrunpy.run_path('main.py', run_name='__main__')",
                   workspace)
    assert p.returncode == 0, p.stderr  # both runs load (PyTorch's word)


def test_a_load_resolved_from_the_script_is_not_also_said_unresolved_from_an_uncalled_method(workspace):
    """`Engine.load()` calls `resume(self.model, path)` in utils.py; main.py makes the engine and
    calls `load("w.pt")`. The method run alone (nothing calls it in engine.py, `self` unknown) is
    no run of the script: the load is checked from main.py and clean, and nothing else is said."""
    assert run_python("import torch\ntorch.save({'weight': torch.zeros(2, 4), 'bias': torch.zeros(2)}, 'w.pt')",
                      workspace).returncode == 0
    write(workspace, "utils.py", """
        import torch


        def resume(model, path):
            model.load_state_dict(torch.load(path))
    """)
    write(workspace, "engine.py", """
        import torch.nn as nn

        from utils import resume


        class Engine:
            def __init__(self):
                self.model = nn.Linear(4, 2)

            def load(self, path):
                resume(self.model, path)
    """)
    write(workspace, "main.py", "from engine import Engine\n\nengine = Engine()\nengine.load('w.pt')\n")
    assert check_json(workspace, "--show-unresolved") == (0, [])
    assert run_python("import runpy\nrunpy.run_path('main.py')", workspace).returncode == 0
    assert run_python("import torch\ntorch.save({'weight': torch.zeros(3, 4), 'bias': torch.zeros(3)}, 'w.pt')",
                      workspace).returncode == 0  # now PyTorch raises: the same run says so
    status, diags = check_json(workspace, "--show-unresolved")
    assert status == 1 and [(d["path"], d["code"]) for d in diags] == [("engine.py", "size-mismatch")], diags
