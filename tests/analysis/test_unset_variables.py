"""arcface_torch's distributed setup: `try: rank = int(os.environ["RANK"]) ... except KeyError:
rank = 0`. In the run checked (`python script.py`, no launcher) the variable is not set, the read
raises, the handler runs: the checkpoint of rank 0 is read, and the message says so. Corpus CD;
truth by real PyTorch (the variable is one no shell sets)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

SCRIPT = """
import os

import torch
import torch.nn as nn

try:
    world_size = int(os.environ["WM_TEST_WORLD_SIZE"])
    rank = int(os.environ["WM_TEST_RANK"])
except {caught}:
    world_size = 1
    rank = 0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)


net = Net()
ckpt = torch.load(f"checkpoint_gpu_{{rank}}.pt")
net.load_state_dict(ckpt["state_dict"])
"""

SAVE = ("import torch, torch.nn as nn\n"
        "torch.save({'state_dict': {'fc.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()}}, 'checkpoint_gpu_0.pt')\n"
        "torch.save({'state_dict': {'fc.' + k: v for k, v in nn.Linear(4, 6).state_dict().items()}}, 'checkpoint_gpu_1.pt')")


@pytest.mark.parametrize("caught", ["KeyError", "(KeyError, ValueError)", "Exception"])
def test_the_handler_of_an_unset_variable_runs(case, caught) -> None:
    case.write("main.py", SCRIPT.format(caught=caught).replace("self.fc = nn.Linear(4, 8)", "self.fc = nn.Linear(4, 6)"))
    case.torch(SAVE)
    resolved_like_pytorch(case, False, "mismatched")
    result = analyze_alone(case, False)
    assert any("$WM_TEST_WORLD_SIZE unset" in f.message for f in result.findings), [f.message for f in result.findings]


def test_a_handler_that_does_not_catch_it_is_not_taken(case) -> None:
    """(The bare run raises KeyError before the load: nothing is said about the load.)"""
    case.write("main.py", SCRIPT.format(caught="ValueError"))
    case.torch(SAVE)
    truth = pytorch_outcomes(case)
    assert truth["loads"] == [], truth
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


def test_a_variable_the_try_sets_before_reading_it_is_not_taken_as_unset(case) -> None:
    """`os.environ["WM_TEST_RANK"] = "1"` in the `try` before the read: no KeyError, rank 1."""
    case.write("main.py", SCRIPT.format(caught="KeyError").replace(
        '    world_size = int(os.environ["WM_TEST_WORLD_SIZE"])\n',
        '    os.environ["WM_TEST_RANK"] = "1"\n    world_size = 2\n'))
    case.torch(SAVE)
    truth = pytorch_outcomes(case)
    assert truth["loads"][0]["raises"], truth  # (checkpoint_gpu_1.pt: 6 rows, the model 8)
    result = analyze_alone(case, False)
    messages = [f.message for f in result.findings]
    assert not any("unset" in m for m in messages), messages
    assert any(f.severity == "error" or f.code.startswith("unresolved") for f in result.findings), messages
