"""A step that depends on the model's mode (torchvision's quantizable models: `model.eval()`, then
`model.fuse_model()`, which asserts eval mode and folds each BatchNorm into its conv) is replayed in
the mode the script put the model in; judged by real PyTorch in the worker (corpus AI11)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

MAIN = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)

    def fuse_model(self):
        assert not self.training, "Fusion only for eval!"
        self.conv = nn.Conv2d(3, 8, 3)  # the BatchNorm folded in
        self.bn = nn.Identity()


model = Net()
model.eval()
model.fuse_model()
model.load_state_dict(torch.load("fused.pth"))
"""


@pytest.mark.parametrize("saved", ["fused", "unfused"])
def test_a_step_replayed_in_eval_mode(case, saved) -> None:
    case.write("main.py", MAIN)
    layers = "{'conv': nn.Conv2d(3, 8, 3)}" if saved == "fused" else "{'conv': nn.Conv2d(3, 8, 3), 'bn': nn.BatchNorm2d(8)}"
    case.torch(f"import torch, torch.nn as nn\ntorch.save(nn.ModuleDict({layers}).state_dict(), 'fused.pth')")
    resolved_like_pytorch(case, True, "missing+unexpected")
