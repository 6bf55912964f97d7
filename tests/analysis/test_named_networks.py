"""Networks kept on a model object under names made at run time, CycleGAN's way: `setattr(self,
"net" + name, define_G(...))` in `__init__`, then `net = getattr(self, "net" + name)` and an
`isinstance(net, torch.nn.DataParallel)` unwrap in a `load_networks(epoch)` loop over
`self.model_names`; judged by real PyTorch in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import judged_like_pytorch

BASE = """
import os

import torch


class BaseModel:
    def __init__(self, opt):
        self.opt = opt
        self.save_dir = os.path.join(opt.checkpoints_dir, opt.name)
        self.model_names = []

    def load_networks(self, epoch):
        for name in self.model_names:
            if isinstance(name, str):
                load_path = os.path.join(self.save_dir, "%s_net_%s.pth" % (epoch, name))
                net = getattr(self, "net" + name)
                if isinstance(net, torch.nn.DataParallel):
                    net = net.module
                state_dict = torch.load(load_path, map_location="cpu")
                if hasattr(state_dict, "_metadata"):
                    del state_dict._metadata
                net.load_state_dict(state_dict)
"""

NETWORKS = {
    "sequential": """
def define_G(input_nc, output_nc, ngf):
    return nn.Sequential(nn.Conv2d(input_nc, ngf, 3), nn.ReLU(), nn.Conv2d(ngf, output_nc, 3))
""",
    "own-class": """
class Generator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(input_nc, ngf, 3), nn.ReLU(), nn.Conv2d(ngf, output_nc, 3))


def define_G(input_nc, output_nc, ngf):
    return Generator(input_nc, output_nc, ngf)
""",
}

TEST_MODEL = """
import torch.nn as nn

from base_model import BaseModel
{networks}

class TestModel(BaseModel):
    def __init__(self, opt):
        BaseModel.__init__(self, opt)
        self.model_names = ["G" + opt.model_suffix]
        setattr(self, "netG" + opt.model_suffix, define_G(opt.input_nc, opt.output_nc, opt.ngf))

    def setup(self, opt):
        load_suffix = "iter_%d" % opt.load_iter if opt.load_iter > 0 else opt.epoch
        self.load_networks(load_suffix)
"""

MAIN = """
import argparse

from test_model import TestModel

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoints_dir", default="./checkpoints")
parser.add_argument("--name", default="horse2zebra")
parser.add_argument("--model_suffix", default="_A")
parser.add_argument("--input_nc", type=int, default=3)
parser.add_argument("--output_nc", type=int, default=3)
parser.add_argument("--ngf", type=int, default={ngf})
parser.add_argument("--epoch", default="latest")
parser.add_argument("--load_iter", type=int, default=0)
opt = parser.parse_args()

model = TestModel(opt)
model.setup(opt)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("ngf", [8, 16], ids=["matches", "differs"])
@pytest.mark.parametrize("networks", sorted(NETWORKS))
def test_a_network_found_by_its_name_and_unwrapped(case, networks, ngf, execute) -> None:
    case.write("base_model.py", BASE)
    case.write("test_model.py", TEST_MODEL.format(networks=NETWORKS[networks]))
    case.write("main.py", MAIN.format(ngf=ngf))
    case.torch("import os, sys, torch\nsys.path.insert(0, '.')\nfrom test_model import define_G\n"
               "os.makedirs('checkpoints/horse2zebra')\n"
               "torch.save(define_G(3, 3, 8).state_dict(), 'checkpoints/horse2zebra/latest_net_G_A.pth')")
    judged_like_pytorch(case, execute, "mismatched")
