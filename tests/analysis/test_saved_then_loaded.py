"""A script that saves and later loads in the same run (train, then evaluate the last epoch)
loads what it saved, not the file on disk from an earlier run. The save's path is followed
through f-strings with format specs (`f"epoch_{e:03d}.pt"`); a save whose path or value is known
only at run time leaves a later load unresolved, never judged against a stale file (corpus
S11c: a false alarm against an old `epoch_003.pt` written with another width). PyTorch is the
judge: each case's disk holds a stale checkpoint that would mismatch."""

from __future__ import annotations

import pytest
from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Linear(4, hidden)
        self.head = nn.Linear(hidden, 2)
"""

TRAIN_THEN_EVAL = """
import os

import torch

from net import Net


def save_half(model, path):
    state = {{k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}}
    torch.save(state, path)


def train(out_dir, epochs):
    model = Net({trained})
    for epoch in range(1, epochs + 1):
        save_half(model, os.path.join(out_dir, f"epoch_{{epoch:03d}}.pt"))


def evaluate(out_dir, epochs):
    model = Net({evaluated})
    model.load_state_dict(torch.load(os.path.join(out_dir, "epoch_%03d.pt" % epochs)))


if __name__ == "__main__":
    os.makedirs("runs", exist_ok=True)
    train("runs", 3)
    evaluate("runs", 3)
"""

STALE = ("import os, sys, torch\nsys.path.insert(0, '.')\nfrom net import Net\nos.makedirs('runs', exist_ok=True)\n"
         "torch.save(Net(48).state_dict(), 'runs/epoch_003.pt')")


@pytest.mark.parametrize("evaluated", [40, 24], ids=["same-width", "other-width"])
def test_a_load_reads_what_the_run_saved_before_it(case, evaluated) -> None:
    case.write("net.py", NET)
    case.write("main.py", TRAIN_THEN_EVAL.format(trained=40, evaluated=evaluated))
    case.torch(STALE)
    result = analyze_alone(case, False)  # first: running the script replaces the stale file
    truth = pytorch_outcomes(case)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")


UNKNOWN_SAVE = """
import os

import torch

from net import Net

model = Net(40)
torch.save({saved}, {path})
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("saved, path", [
    ("model.state_dict()", 'os.environ["OUT"]'),
    ('getattr(model, os.environ["WHAT"])()', '"w.pt"'),
], ids=["path-known-at-run-time", "value-not-followed"])
def test_a_save_not_known_statically_leaves_a_later_load_unresolved(case, saved, path) -> None:
    case.write("net.py", NET)
    case.write("main.py", UNKNOWN_SAVE.format(saved=saved, path=path))
    case.torch(STALE.replace("runs/epoch_003.pt", "w.pt"))
    result = analyze_alone(case, False)  # first: running the script replaces the stale file
    truth = pytorch_outcomes(case, env={"OUT": "w.pt", "WHAT": "state_dict"})
    assert truth["loads"][0]["raises"] is False  # the run overwrote the stale file first
    messages = [f.message for f in result.findings]
    assert not [f for f in result.findings if f.severity == "error"], messages
    assert any("`torch.save` at main.py:8" in m for m in messages), messages
