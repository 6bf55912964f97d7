"""Networks kept on a model object under names made at run time, CycleGAN's way: `setattr(self,
"net" + name, define_G(...))` in `__init__`, then `net = getattr(self, "net" + name)` and an
`isinstance(net, torch.nn.DataParallel)` unwrap in a `load_networks(epoch)` loop over
`self.model_names`; judged by real PyTorch in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes

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


PATCHING_BASE = """
import functools
import os

import torch
import torch.nn as nn


def get_norm_layer(norm_type="instance"):
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


class Generator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf, norm_layer):
        super().__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        self.model = nn.Sequential(nn.Conv2d(input_nc, ngf, 3, bias=use_bias), norm_layer(ngf), nn.ReLU(True),
                                   nn.Conv2d(ngf, output_nc, 3))


class Model:
    def __init__(self, norm):
        self.model_names = ["G"]
        self.netG = Generator(3, 3, 8, get_norm_layer(norm))

    def __patch_instance_norm_state_dict(self, state_dict, module, keys, i=0):
        key = keys[i]
        if i + 1 == len(keys):  # at the end, pointing to a parameter/buffer
            if module.__class__.__name__.startswith("InstanceNorm") and \\
                    (key == "running_mean" or key == "running_var"):
                if getattr(module, key) is None:
                    state_dict.pop(".".join(keys))
            if module.__class__.__name__.startswith("InstanceNorm") and (key == "num_batches_tracked"):
                state_dict.pop(".".join(keys))
        else:
            self.__patch_instance_norm_state_dict(state_dict, getattr(module, key), keys, i + 1)

    def load_networks(self, epoch):
        for name in self.model_names:
            net = getattr(self, "net" + name)
            if isinstance(net, torch.nn.DataParallel):
                net = net.module
            state_dict = torch.load(os.path.join("checkpoints", "%s_net_%s.pth" % (epoch, name)))
            if hasattr(state_dict, "_metadata"):
                del state_dict._metadata
            for key in list(state_dict.keys()):
                self.__patch_instance_norm_state_dict(state_dict, net, key.split("."))
            net.load_state_dict(state_dict)


if __name__ == "__main__":
    Model("{norm}").load_networks("latest")
"""

# what was saved: the instance-norm model with the running statistics of PyTorch < 0.4 (the patch
# drops them), or the batch-norm model
PATCH_SAVED = {
    "old-instance": "sd = Generator(3, 3, 8, get_norm_layer('instance')).state_dict()\n"
                    "sd.update({'model.1.running_mean': torch.zeros(8), 'model.1.running_var': torch.ones(8)})",
    "batch": "sd = Generator(3, 3, 8, get_norm_layer('batch')).state_dict()",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("saved", sorted(PATCH_SAVED))
def test_the_instance_norm_patch_over_the_keys(case, saved, norm, execute) -> None:
    """CycleGAN's `__patch_instance_norm_state_dict`, called for every key: a method of the model
    object walking `getattr(module, key)` down the key's parts, popping the running statistics an
    InstanceNorm does not keep. Followed over the real keys with the model's modules."""
    case.write("main.py", PATCHING_BASE.replace("{norm}", norm))
    case.torch("import os, sys, torch\nsys.path.insert(0, '.')\nfrom main import Generator, get_norm_layer\n"
               f"{PATCH_SAVED[saved]}\nos.makedirs('checkpoints')\ntorch.save(sd, 'checkpoints/latest_net_G.pth')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


NETS_DICT = """
import torch
import torch.nn as nn


def load_gan(nets, path):
    ckpt = torch.load(path)
    for name in ("G", "D"):
        nets[name].load_state_dict(ckpt[name])


def main():
    nets = {{"G": nn.Sequential(nn.Linear(4, {g})), "D": nn.Sequential(nn.Linear(8, 1))}}
    load_gan(nets, "gan.pt")


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("g", [8, 6], ids=["matches", "differs"])
def test_networks_held_in_a_dict_and_loaded_by_name(case, g, execute) -> None:
    """`nets = {"G": netG, "D": netD}` and `nets[name].load_state_dict(ckpt[name])` in a loop."""
    case.write("main.py", NETS_DICT.format(g=g))
    case.torch("import torch, torch.nn as nn\ntorch.save({'G': nn.Sequential(nn.Linear(4, 8)).state_dict(), "
               "'D': nn.Sequential(nn.Linear(8, 1)).state_dict()}, 'gan.pt')")
    truth = pytorch_outcomes(case)
    result = analyze_alone(case, execute)
    assert result.reports and all(r.how is not None for r in result.reports), [f.message for f in result.findings]
    raised = sorted(k for load in truth["loads"] for k in load["mismatched"])
    assert sorted(k for f in result.findings if f.severity == "error" for k in f.keys) == raised
