"""A `torch.device(...)` handed to a model's constructor (Informer's `Exp_Basic`: `self.device =
self._acquire_device()`, then `Informer(..., self.device)`): a device of known text is written into
the recipe as the same call, so the model is built; one the machine decides (CUDA or not) is the
CPU-only run's, said. Judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, resolved_like_pytorch, save_layers

EXP = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, c_out, d_model=8, device=torch.device("cuda:0")):
        super().__init__()
        self.proj = nn.Linear(d_model, c_out)
        if {branch}:
            self.scale = nn.Parameter(torch.ones(c_out))


class Exp:
    def __init__(self, use_gpu=False):
        self.use_gpu = use_gpu
        self.device = self._acquire_device()
        self.model = Net(7, 8, self.device)

    def _acquire_device(self):
        if self.use_gpu:
            device = torch.device("cuda", 0)
        else:
            device = {{device}}
        return device


model = Exp().model
model.load_state_dict(torch.load("checkpoint.pth"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [7, 12], ids=["matches", "differs"])
@pytest.mark.parametrize("device", ['torch.device("cpu")', 'torch.device("cuda" if torch.cuda.is_available() else "cpu")'],
                         ids=["cpu", "machine"])
def test_a_device_reaches_the_constructor(case, device, width, execute) -> None:
    """In the worker the constructor can ask the device (`device.type == "cpu"`: a guessed CUDA
    device would leave `scale` out); static inference steps aside from that question."""
    case.write("main.py", EXP.format(branch='device.type == "cpu"' if execute else "True").format(device=device))
    save_layers(case, "checkpoint.pth", proj=f"nn.Linear(8, {width})")
    case.torch(f"import torch\nsd = torch.load('checkpoint.pth')\nsd['scale'] = torch.ones({width})\n"
               "torch.save(sd, 'checkpoint.pth')")
    resolved_like_pytorch(case, execute, "mismatched+missing+unexpected")
    result = analyze_alone(case, execute)
    if "cuda" in device and width == 12:
        assert all("no GPU visible" in f.message for f in result.findings), [f.message for f in result.findings]
