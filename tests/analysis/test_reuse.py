"""An analysis reused for a text that differs only in comment and blank lines (reuse.py).

Each reused answer is compared whole with a fresh analysis of the same text by a new
Project (codes, messages, ranges, related locations, fix edits), and the reuse is seen to
happen (`project.reuse.hits`, and the analyzer made to fail if it were called). Anything
else that changes (the code, an imported module on disk or in the editor, the checkpoint,
the settings) is analysed again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from weightmatch.project import Project, Settings
from weightmatch.reuse import Base, shift
from weightmatch.textedit import apply_edits
from weightmatch.worker.precheck import opaque

SCRIPT = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 4)

    def forward(self, x):
        return self.fc2(self.fc1(x))


model = Net()
model.load_state_dict(torch.load("model.pth"))
'''

# comments and blank lines above, between the methods, inside a method between statements,
# and a changed comment-only run at the end
COMMENTED = '''# A training script.
# It loads a checkpoint.

import torch
import torch.nn as nn


# the model
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # first layer

        self.fc1 = nn.Linear(10, 20)
        # the layer the checkpoint disagrees with
        self.fc2 = nn.Linear(20, 4)

    # forward pass


    def forward(self, x):
        return self.fc2(self.fc1(x))


model = Net()

# load it
model.load_state_dict(torch.load("model.pth"))
# the end
'''

SAVE = '''
import torch
import torch.nn as nn
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, {out})
torch.save(Net().state_dict(), "model.pth")
'''


def _project(folder: Path) -> Project:
    return Project(str(folder), Settings(execute=False), reuse=True)


def _analysis(project: Project, path: Path, text: str):
    project.set_document(str(path), text)
    return project.analyze(str(path))


def _fresh(folder: Path, path: Path, text: str):
    return _analysis(_project(folder), path, text)


def _same(reused, fresh) -> None:
    assert reused.findings == fresh.findings  # codes, severities, messages, spans, related, fixes, keys, rows
    assert reused.reports == fresh.reports
    assert reused.errors == fresh.errors


def _no_analysis(project: Project, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("the file was analysed again")

    monkeypatch.setattr(project._analyzer, "_analyze", boom)


@pytest.fixture
def failing(case):
    case.torch(SAVE.format(out=3))
    return case, case.write("main.py", SCRIPT)


def test_comment_edit_reuses_the_analysis_with_moved_positions(failing, monkeypatch):
    case, path = failing
    project = _project(case.dir)
    first = _analysis(project, path, SCRIPT)
    mismatch = [f for f in first.findings if f.code == "size-mismatch"]
    assert mismatch and mismatch[0].span.line == SCRIPT.splitlines().index("        self.fc2 = nn.Linear(20, 4)")
    assert mismatch[0].fixes

    _no_analysis(project, monkeypatch)
    reused = _analysis(project, path, COMMENTED)
    assert project.reuse.hits == 1
    monkeypatch.undo()
    fresh = _fresh(case.dir, path, COMMENTED)
    _same(reused, fresh)

    moved = [f for f in reused.findings if f.code == "size-mismatch"][0]
    assert moved.span.line == COMMENTED.splitlines().index("        self.fc2 = nn.Linear(20, 4)")
    assert moved.load_call.line == COMMENTED.splitlines().index('model.load_state_dict(torch.load("model.pth"))')
    # every fix applies to the new text as to a fresh analysis's, and the size fix gives the checkpoint's size
    by_kind = {fix.kind: fix for fix in moved.fixes}
    fixed = apply_edits(COMMENTED, by_kind["use-checkpoint-size"].edits)
    assert fixed == COMMENTED.replace("nn.Linear(20, 4)", "nn.Linear(20, 3)")
    for fix in moved.fixes:
        compile(apply_edits(COMMENTED, fix.edits), "main.py", "exec")

    # back to the first text: reused again, equal to its own fresh analysis
    again = _analysis(project, path, SCRIPT)
    assert project.reuse.hits == 2
    _same(again, first)


def test_the_fixed_text_loads_under_pytorch(failing):
    case, path = failing
    project = _project(case.dir)
    _analysis(project, path, SCRIPT)
    reused = _analysis(project, path, COMMENTED)
    assert project.reuse.hits == 1
    fix = next(fx for f in reused.findings for fx in f.fixes if fx.kind == "use-checkpoint-size")
    path.write_text(apply_edits(COMMENTED, fix.edits))
    run = case.run()
    assert run.returncode == 0, run.stderr


def test_a_code_change_is_analysed_again(failing):
    case, path = failing
    project = _project(case.dir)
    _analysis(project, path, SCRIPT)
    fixed = COMMENTED.replace("nn.Linear(20, 4)", "nn.Linear(20, 3)")
    result = _analysis(project, path, fixed)
    assert project.reuse.hits == 0
    assert not [f for f in result.findings if f.severity == "error"]
    _same(result, _fresh(case.dir, path, fixed))


_LAYER = "nn.Linear(20, 4)"


@pytest.mark.parametrize("base, text", [
    # a comment at the end of a code line changes that line
    (SCRIPT.replace(_LAYER, _LAYER + "  # four"), SCRIPT.replace(_LAYER, _LAYER + "  # 4 outputs")),
    # a comment inside a call's brackets sits inside an expression
    (SCRIPT.replace(_LAYER, "nn.Linear(\n            20, 4)"),
     SCRIPT.replace(_LAYER, "nn.Linear(\n            # in\n            20, 4)")),
    # a line that only looks like a comment, inside a string
    (SCRIPT.replace("model = Net()", 'NOTE = """\n# not a comment\n"""\nmodel = Net()'),
     SCRIPT.replace("model = Net()", 'NOTE = """\n# not a comment, really\n"""\nmodel = Net()')),
    # a comment before `else:` (no statement begins there) is left to a fresh analysis
    (SCRIPT.replace("model = Net()", "if True:\n    model = Net()\n# here\nelse:\n    model = None"),
     SCRIPT.replace("model = Net()", "if True:\n    model = Net()\n# there\n# and here\nelse:\n    model = None")),
], ids=["end-of-line", "in-brackets", "in-a-string", "before-else"])
def test_edits_that_are_not_a_pure_shift_are_analysed_again(failing, base, text):
    case, path = failing
    project = _project(case.dir)
    _analysis(project, path, base)
    result = _analysis(project, path, text)
    assert project.reuse.hits == 0
    _same(result, _fresh(case.dir, path, text))


def test_an_edit_to_an_imported_module_is_seen(case):
    case.torch(SAVE.format(out=3))
    nets = case.write("nets.py", SCRIPT.split("\n\nmodel = Net()")[0] + "\n")
    main = case.write("main.py", 'import torch\nfrom nets import Net\n\nmodel = Net()\nmodel.load_state_dict(torch.load("model.pth"))\n')
    text = main.read_text()
    project = _project(case.dir)
    first = _analysis(project, main, text)
    assert any(f.code == "size-mismatch" for f in first.findings)
    assert str(nets) in first.dependencies

    # saved on disk (another length, so the size and mtime differ)
    nets.write_text(nets.read_text().replace("nn.Linear(20, 4)", "nn.Linear(20, 3)  # as saved"))
    second = _analysis(project, main, "# a comment\n" + text)
    assert project.reuse.hits == 0
    assert not any(f.severity == "error" for f in second.findings)

    # unsaved, in the editor
    project.set_document(str(nets), nets.read_text().replace("nn.Linear(20, 3)", "nn.Linear(20, 5)"))
    third = _analysis(project, main, "# another comment\n" + text)
    assert project.reuse.hits == 0
    assert any(f.code == "size-mismatch" for f in third.findings)

    # nothing changed but the comment: reused
    _analysis(project, main, "# a third comment\n" + text)
    assert project.reuse.hits == 1


def test_a_rewritten_checkpoint_is_read_again(failing):
    case, path = failing
    project = _project(case.dir)
    first = _analysis(project, path, SCRIPT)
    assert any(f.code == "size-mismatch" for f in first.findings)
    case.torch(SAVE.format(out=4))  # now the checkpoint fits
    result = _analysis(project, path, COMMENTED)
    assert project.reuse.hits == 0
    assert not any(f.severity == "error" for f in result.findings)


def test_changed_settings_are_analysed_again(failing):
    case, path = failing
    project = _project(case.dir)
    _analysis(project, path, SCRIPT)
    project.update_settings(replace(project.settings, severity_overrides={"size-mismatch": "warning"}))
    result = _analysis(project, path, COMMENTED)
    assert project.reuse.hits == 0
    assert {f.severity for f in result.findings if f.code == "size-mismatch"} == {"warning"}


def test_a_file_event_drops_what_was_kept(failing):
    case, path = failing
    project = _project(case.dir)
    _analysis(project, path, SCRIPT)
    project.invalidate(str(case.dir / "elsewhere.py"))
    _analysis(project, path, COMMENTED)
    assert project.reuse.hits == 0


def _shift(old: str, new: str):
    import ast

    return shift(Base.of(old, ast.parse(old)), new, opaque)


def test_shift_lines():
    old = "import os\n\n\n@dec\ndef f():\n    return 1\n\nx = f()\n"
    new = "# head\nimport os\n\n# about f\n@dec\ndef f():\n    # body\n    return 1\n\nx = f()\n"
    by = _shift(old, new)
    assert by is not None
    assert [by.line(i) for i in (0, 3, 4, 5, 7)] == [1, 4, 5, 7, 9]
    assert by.line(1) is None  # a blank line in a run that changed
    assert by.line(6) == 8  # one in a run that did not
    assert by.first_moved == 0
    assert by.names_moved_line("as called from main:5", "main.py")
    assert by.names_moved_line("(main.py line 5)", "main.py") and by.names_moved_line("(line 5)", "main.py")
    assert not by.names_moved_line("(model.py line 5)", "main.py") and not by.names_moved_line("model.py:5", "main.py")
    assert not by.names_moved_line("nn.Linear(20, 4)", "main.py")
    assert _shift(old, old + "# end\n").first_moved == len(old.split("\n")) - 1  # only the empty last line


@pytest.mark.parametrize("new", [
    "# -*- coding: latin-1 -*-\nimport os\nx = 1\n",  # an encoding declaration
    "import os\n# globals()\nx = 1\n",  # what the worker's precheck searches the whole text for
    "import os\n#\0\nx = 1\n",  # a NUL: a syntax error
    "import os\nx = 1  # now\n",  # a code line changed
])
def test_shift_refuses(new):
    assert _shift("import os\nx = 1\n", new) is None
