"""nanoGPT's resume: `model_args = dict(n_layer=..., ...)` at the top of the script, then `for k in
[...]: model_args[k] = checkpoint_model_args[k]` and `GPT(GPTConfig(**model_args))`. The loop's
writes are values read from the checkpoint; the dict the model is made from is the changed one.
A module-level dict changed in a loop by values not known is never taken as first made (a
false size-mismatch before: the replay and static inference read the first assignment)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes

MODEL = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, d=3, n=2):
        super().__init__()
        self.fc = nn.Linear(d, n)
"""

RESUME = """
import torch

from model import Net

ckpt = torch.load("ckpt.pt")
checkpoint_model_args = ckpt["model_args"]
model_args = dict(d=3, n={n})
for k in ["d"]:
    model_args[k] = checkpoint_model_args[k]
model = Net(**model_args)
model.load_state_dict(ckpt["model"])
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [2, 5], ids=["matches", "n-differs"])
def test_model_args_taken_from_the_checkpoint_in_a_loop(case, n, execute) -> None:
    case.write("model.py", MODEL)
    case.write("main.py", RESUME.format(n=n))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom model import Net\n"
               "torch.save({'model': Net(4, 2).state_dict(), 'model_args': {'d': 4, 'n': 2}}, 'ckpt.pt')")
    judged_like_pytorch(case, execute, "mismatched")


UNKNOWN_WRITE = """
import os

import torch

from model import Net

model_args = dict(d=3, n=2)
for k in ["d"]:
    model_args[k] = int(os.environ.get("WIDTH") or "4")
model = Net(**model_args)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_dict_changed_in_a_loop_by_an_unknown_value_is_not_taken_as_first_made(case, execute) -> None:
    case.write("model.py", MODEL)
    case.write("main.py", UNKNOWN_WRITE)
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom model import Net\n"
               "torch.save(Net(4, 2).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert not truth["loads"][0]["raises"]
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
