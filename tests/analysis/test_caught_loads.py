"""A load inside `try:` whose `except` catches what load_state_dict raises: the script goes on,
so the finding is a warning naming the `except`, not an error; a handler that does not catch
RuntimeError, or re-raises, keeps the error. PyTorch judges by running each script."""

from __future__ import annotations

import pytest

MODEL = """
import sys
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.extra = nn.Linear(2, 2)


def load(model, sd):
    model.load_state_dict(sd)


model = Net()
sd = torch.load("w.pt")
"""

FALLBACK = """
try:
    model.load_state_dict(sd)
except RuntimeError:
    model.load_state_dict(sd, strict=False)
"""

CASES = {
    "fallback": (FALLBACK, True),
    "catch-all, swallowed": ("try:\n    model.load_state_dict(sd)\nexcept Exception as e:\n    print(e)\n", True),
    "a bare except": ("try:\n    model.load_state_dict(sd)\nexcept:\n    pass\n", True),
    "a tuple": ("try:\n    model.load_state_dict(sd)\nexcept (KeyError, RuntimeError):\n    pass\n", True),
    "a helper called in the try": ("try:\n    load(model, sd)\nexcept RuntimeError:\n    pass\n", True),
    "another exception": ("try:\n    model.load_state_dict(sd)\nexcept KeyError:\n    pass\n", False),
    "re-raised": ("try:\n    model.load_state_dict(sd)\nexcept RuntimeError as e:\n    print('no')\n    raise\n", False),
    "exits": ("try:\n    model.load_state_dict(sd)\nexcept RuntimeError:\n    sys.exit(3)\n", False),
    "first matching handler re-raises": (
        "try:\n    model.load_state_dict(sd)\nexcept RuntimeError:\n    raise\nexcept Exception:\n    pass\n", False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_caught_load_is_a_warning_that_names_the_except(case, static_project, name) -> None:
    tail, goes_on = CASES[name]
    case.torch("import torch; torch.save({'fc.weight': torch.zeros(2, 4), 'fc.bias': torch.zeros(2)}, 'w.pt')")
    main = case.write("main.py", MODEL + tail)
    result = static_project.analyze(str(main))
    ran = case.run()
    assert (ran.returncode == 0) == goes_on, ran.stderr[-300:]
    errors = [f for f in result.findings if f.severity == "error"]
    assert bool(errors) == (ran.returncode != 0), [(f.severity, f.message) for f in result.findings]
    missing = [f for f in result.findings if f.code == "missing-keys"]
    assert missing, [f.message for f in result.findings]  # never silent: the load does fail
    if goes_on:
        first = missing[0]
        except_line = (MODEL + tail).lstrip("\n").splitlines().index(
            next(line for line in tail.splitlines() if line.startswith("except"))) + 1
        assert first.severity == "warning" and f"main.py:{except_line} catches that" in first.message, first.message
