"""An analysis does not depend on what the same Project analysed before (the editor opens files
in any order), and one load reached along several call paths that say the same thing is said
once. litgpt's `utils.py` imports `chat/base.py` under `if TYPE_CHECKING:`, and `chat/base.py`
imports from `utils.py`: that import, which never runs, was followed, and the half-made module
seen inside the cycle was kept and reused by the next file's analysis."""

from __future__ import annotations

from weightmatch.project import Project, Settings

UTILS = """
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

if TYPE_CHECKING:  # as litgpt's utils.py: for type checkers only; the package imports base, base imports utils
    from pkg import run


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)


def load_checkpoint(model, path):
    model.load_state_dict(torch.load(path))
"""

BASE = """
from pkg.utils import Net, load_checkpoint


def run(path):
    model = Net()
    load_checkpoint(model, path)
"""

FIRST = "from pkg.utils import Net\n"
SECOND = """
from pkg.base import run


def test_a():
    run("w.pt")


def test_b():
    run("w.pt")


def test_c():
    run("w.pt")
"""


def _answer(result) -> list:
    return sorted((f.code, f.severity, f.span.line, f.message) for f in result.findings)


def test_an_import_cycle_seen_earlier_does_not_change_the_answer(case) -> None:
    case.write("pkg/__init__.py", "from pkg.base import run\n")
    case.write("pkg/utils.py", UTILS)
    case.write("pkg/base.py", BASE)
    first = case.write("first.py", FIRST)
    second = case.write("second.py", SECOND)
    case.torch("import torch, torch.nn as nn; torch.save({'fc.' + k: v for k, v in nn.Linear(4, 5).state_dict().items()}, 'w.pt')")

    fresh = Project(str(case.dir), Settings(execute=False))
    after = Project(str(case.dir), Settings(execute=False))
    try:
        expected = _answer(fresh.analyze(str(second)))
        after.analyze(str(first))  # computes pkg.utils first: pkg.base sees it half made
        assert _answer(after.analyze(str(second))) == expected
    finally:
        fresh.close()
        after.close()
    errors = [e for e in expected if e[1] == "error"]
    assert [e[0] for e in errors] == ["size-mismatch"], expected  # three call paths, one answer
    case.write("run_one.py", "from pkg.base import run\nrun('w.pt')\n")
    assert "size mismatch for fc.weight" in case.run("run_one.py").stderr  # PyTorch agrees


def test_call_paths_that_say_the_same_are_said_once(case) -> None:
    """`via()` is called three times and reaches `load()` from the same line; a fourth call loads
    a matching checkpoint. The mismatch is one finding, naming that path, not three copies."""
    case.torch("""
        import torch, torch.nn as nn
        torch.save({'fc.' + k: v for k, v in nn.Linear(4, 5).state_dict().items()}, 'w.pt')
        torch.save({'fc.' + k: v for k, v in nn.Linear(4, 3).state_dict().items()}, 'ok.pt')
    """)
    main = case.write("main.py", """
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)


        def load(model, path):
            model.load_state_dict(torch.load(path))


        def via(path):
            load(Net(), path)


        load(Net(), "ok.pt")
        via("w.pt")
        via("w.pt")
        via("w.pt")
    """)
    p = Project(str(case.dir), Settings(execute=False))
    try:
        findings = p.analyze(str(main)).findings
    finally:
        p.close()
    (f,) = findings
    assert f.code == "size-mismatch" and "load() as called from main.py:16" in f.message, f.message  # in via()
    assert "size mismatch for fc.weight" in case.run().stderr
