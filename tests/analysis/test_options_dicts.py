"""BasicSR/ESRGAN-shaped loading, judged by real PyTorch in both modes: the network's class named
by an options dict popped in the very call that makes it (`getattr(archs, opt_net.pop("type"))
(**opt_net)`: the `pop` runs once, as in Python, also when the recipe is written); a network
passed to `load_network` and rebound from a method (`net = self.get_bare_model(net)`); and the
`module.` strip over a deep copy of the dict (`for k, v in deepcopy(load_net).items(): ...
load_net[k[7:]] = v; load_net.pop(k)`)."""

from __future__ import annotations

import pytest
from analysis_helpers import judged_like_pytorch

ARCHS = """
import torch.nn as nn


class MSRResNet(nn.Module):
    def __init__(self, num_in_ch=3, num_feat=8, upscale=4):
        super().__init__()
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
        if upscale == 4:
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
"""

MODEL = """
from copy import deepcopy

import torch

import archs


class SRModel:
    def __init__(self, opt):
        self.opt = opt
        opt_net = deepcopy(opt["network_g"])
        self.net_g = getattr(archs, opt_net.pop("type"))(**opt_net)
        self.load_network(self.net_g, opt["path"], param_key="params_ema")

    def get_bare_model(self, net):
        if isinstance(net, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
            net = net.module
        return net

    def load_network(self, net, load_path, strict=True, param_key="params"):
        net = self.get_bare_model(net)
        load_net = torch.load(load_path, map_location="cpu")
        if param_key is not None:
            if param_key not in load_net and "params" in load_net:
                param_key = "params"
            load_net = load_net[param_key]
        for k, v in deepcopy(load_net).items():
            if k.startswith("module."):
                load_net[k[7:]] = v
                load_net.pop(k)
        net.load_state_dict(load_net, strict=strict)


SRModel({{"network_g": {{"type": "MSRResNet", "num_feat": 8, "upscale": {upscale}}}, "path": "w.pth"}})
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("key", ["params", "params_ema"])
@pytest.mark.parametrize("upscale", [4, 2], ids=["matches", "x4-into-x2"])
def test_an_options_dict_popped_and_a_module_prefix_stripped_over_a_copy(case, upscale, key, execute) -> None:
    case.write("archs.py", ARCHS)
    case.write("main.py", MODEL.format(upscale=upscale))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom archs import MSRResNet\n"
               "sd = {'module.' + k: v for k, v in MSRResNet(num_feat=8, upscale=4).state_dict().items()}\n"
               f"torch.save({{{key!r}: sd}}, 'w.pth')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
