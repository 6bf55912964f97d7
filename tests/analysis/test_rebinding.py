"""A name bound again after its first value: augmented assignment (`dim //= 2`, `self.dim -= 4`,
`cfg["w"] *= 2`, a list's `+=` changing it in place), a function with side effects called once
(a `nonlocal` counter: writing a model's arguments into its recipe must not call it again), and
a first value a later statement the replay leaves out replaces (`W = int(os.environ[...])`, a
`while` that rounds up). Each was a false size-mismatch on a clean load; PyTorch is the judge,
in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes, save_layers

AUGMENTED = """
import torch
import torch.nn as nn

dim = 8
dim //= 2
widths = [4]
alias = widths
alias += [{last}]
cfg = {{"w": 2}}
cfg["w"] *= 2
cfg |= {{"extra": 1}}


class Cfg:
    def __init__(self):
        self.dim = 10
        self.dim -= 6


def main():
    d = 8
    d -= 4
    model = nn.Sequential(nn.Linear(dim, d), nn.Linear(Cfg().dim, widths[-1]), nn.Linear(cfg["w"], len(cfg)))
    model.load_state_dict(torch.load("w.pt"))


main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("last", [6, 7], ids=["matches", "differs"])
def test_augmented_assignment(case, last, execute) -> None:
    case.write("main.py", AUGMENTED.format(last=last))
    save_layers(case, **{"0": "nn.Linear(4, 4)", "1": "nn.Linear(4, 6)", "2": "nn.Linear(4, 2)"})
    judged_like_pytorch(case, execute, "mismatched")


COUNTER = """
import torch
import torch.nn as nn


def build():
    n = 0

    def width():
        nonlocal n
        n += 1
        return 4 * n

    return nn.Sequential(nn.Linear(4, width()), nn.Linear(4, width()))


build().load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_call_with_side_effects_is_followed_once(case, execute) -> None:
    case.write("main.py", COUNTER)
    save_layers(case, **{"0": "nn.Linear(4, 4)", "1": "nn.Linear(4, 8)"})
    judged_like_pytorch(case, execute)


REBOUND = """
import os
import torch
import torch.nn as nn

W = 3
W = int(os.environ.get("W") or "5")
n = 3
while n % 4:
    n += 1
nn.Linear(n, W).load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_first_value_rebound_later_is_not_replayed(case, execute) -> None:
    """The worker's definitions-only replay ran `W = 3` and `n = 3` but not what binds them
    again: the model was built with stale sizes."""
    case.write("main.py", REBOUND)
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 5).state_dict(), 'w.pt')")
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


NESTED = """
import copy
import torch
import torch.nn as nn

BASE = {{"enc": {{"dim": 8}}, "dec": {{"dim": 8}}}}
cfg = copy.deepcopy(BASE)
cfg["enc"]["dim"] = {dim}
dec = cfg["dec"]
dec["dim"] = 4
model = nn.Sequential(nn.Linear(4, cfg["enc"]["dim"]), nn.Linear(4, cfg["dec"]["dim"]), nn.Linear(4, BASE["enc"]["dim"]))
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("dim", [4, 6], ids=["matches", "differs"])
def test_an_item_set_through_a_nested_subscript_or_another_name(case, dim, execute) -> None:
    case.write("main.py", NESTED.format(dim=dim))
    save_layers(case, **{"0": "nn.Linear(4, 4)", "1": "nn.Linear(4, 4)", "2": "nn.Linear(4, 8)"})
    judged_like_pytorch(case, execute, "mismatched")
