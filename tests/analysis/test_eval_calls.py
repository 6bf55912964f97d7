"""HRNet's / SimpleBaselines' `eval('models.' + cfg.MODEL.NAME + '.get_pose_net')(cfg, is_train=False)`:
the function `eval` names (a dotted name of known text) called in place, followed as a direct call
would be; judged by real PyTorch in both modes (corpus AG08)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

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


LSTNET = """
import argparse

import numpy as np
import torch

from models import LSTNet


class Data_utility(object):
    def __init__(self, window):
        self.P = window
        self.dat = np.zeros((5, 3))
        self.n, self.m = self.dat.shape


parser = argparse.ArgumentParser()
parser.add_argument("--model", type=str, default="LSTNet")
parser.add_argument("--hidSkip", type=int, default=3)
args = parser.parse_args()
{data}
model = eval(args.model).Model(args{extra})
model.load_state_dict(torch.load("model.pt"))
"""

LSTNET_MODEL = """
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, args, data=None):
        super().__init__()
        self.m = {m}
        self.GRUskip = nn.GRU(self.m, args.hidSkip)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [3, 6], ids=["matches", "differs"])
def test_a_module_named_by_eval_then_its_class(case, hidden, execute) -> None:
    """LSTNet's `eval(args.model).Model(args, Data)`: the option's default names an imported module."""
    case.write("main.py", LSTNET.format(data="", extra=""))
    case.write("models/__init__.py", "")
    case.write("models/LSTNet.py", LSTNET_MODEL.format(m="8 if data is None else data.m"))
    case.torch(f"import torch, torch.nn as nn\ntorch.save({{'GRUskip.' + k: v for k, v in nn.GRU(8, {hidden}).state_dict()"
               ".items()}, 'model.pt')")
    resolved_like_pytorch(case, execute, "mismatched")


def test_attributes_set_by_unpacking_a_value_not_known_are_not_missing(case) -> None:
    """`self.n, self.m = self.dat.shape` of a value not known: the object has `m` (not known), so
    the model's `getattr(data, "m", 8)` does not take its default in the recipe."""
    case.write("main.py", LSTNET.format(data="Data = Data_utility(24)", extra=", Data"))
    case.write("models/__init__.py", "")
    case.write("models/LSTNet.py", LSTNET_MODEL.format(m='getattr(data, "m", 8)'))
    case.torch("import torch, torch.nn as nn\ntorch.save({'GRUskip.' + k: v for k, v in nn.GRU(8, 3).state_dict()"
               ".items()}, 'model.pt')")
    assert pytorch_outcomes(case)["loads"][0]["raises"]  # (3 columns in the data: a GRU of 3 inputs)
    result = analyze_alone(case, True)
    (report,) = result.reports
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors or report.how is None, "taken as a clean load: `getattr(data, 'm', 8)` took its default"
