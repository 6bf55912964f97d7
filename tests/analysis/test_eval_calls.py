"""HRNet's / SimpleBaselines' `eval('models.' + cfg.MODEL.NAME + '.get_pose_net')(cfg, is_train=False)`:
the function `eval` names (a dotted name of known text) called in place, followed as a direct call
would be; judged by real PyTorch in both modes (corpus AG08)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

MAIN = """
import torch

import models  # noqa: F401

CFG = {{"MODEL": {{"NAME": "pose_resnet", "NUM_JOINTS": {joints}}}}}


def main():
    model = eval("models." + CFG["MODEL"]["NAME"] + ".get_pose_net")(CFG, is_train=False)
    model.load_state_dict(torch.load("pose.pth"))


if __name__ == "__main__":
    main()
"""

POSE = """
import torch.nn as nn


class PoseNet(nn.Module):
    def __init__(self, joints):
        super().__init__()
        self.final_layer = nn.Conv2d(8, joints, 1)


def get_pose_net(cfg, is_train, **kwargs):
    return PoseNet(cfg["MODEL"]["NUM_JOINTS"])
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("joints", [17, 16], ids=["matches", "differs"])
def test_a_function_named_by_eval_called_in_place(case, execute, joints) -> None:
    case.write("main.py", MAIN.format(joints=joints))
    case.write("models/__init__.py", "from . import pose_resnet  # noqa: F401\n")
    case.write("models/pose_resnet.py", POSE)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.ModuleDict({'final_layer': nn.Conv2d(8, 17, 1)}).state_dict(), 'pose.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
