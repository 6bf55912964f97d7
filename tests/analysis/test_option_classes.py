"""pix2pix/CycleGAN's layout (junyanz/pytorch-CycleGAN-and-pix2pix), judged by real PyTorch in both
modes: options classes whose `TestOptions` sets a default from `parser.get_default(...)`, the model
class picked by a loop over `modellib.__dict__.items()` with `issubclass`, the model's own option
defaults, a nested `init_func` given to `net.apply`, and `load_networks` reaching each net by
`getattr(self, "net" + name)` through a key-patching method with a docstring (corpus V01–V04)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

PROJECT = {
    "options/__init__.py": """
""",
    "options/base_options.py": """
import argparse

import models


class BaseOptions:
    def initialize(self, parser):
        parser.add_argument('--model', type=str, default='pix2pix')
        parser.add_argument('--ngf', type=int, default=8)
        parser.add_argument('--crop_size', type=int, default=16)
        parser.add_argument('--epoch', type=str, default='latest')
        return parser

    def gather_options(self):
        parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        parser = self.initialize(parser)
        opt, _ = parser.parse_known_args()
        model_option_setter = models.get_option_setter(opt.model)
        parser = model_option_setter(parser)
        return parser.parse_args()

    def parse(self):
        return self.gather_options()
""",
    "options/test_options.py": """
from .base_options import BaseOptions


class TestOptions(BaseOptions):
    def initialize(self, parser):
        parser = BaseOptions.initialize(self, parser)
        parser.set_defaults(load_size=parser.get_default('crop_size'))
        return parser
""",
    "models/__init__.py": """
import importlib

from models.base_model import BaseModel


def find_model_using_name(model_name):
    model_filename = "models." + model_name + "_model"
    modellib = importlib.import_module(model_filename)
    model = None
    target_model_name = model_name.replace('_', '') + 'model'
    for name, cls in modellib.__dict__.items():
        if name.lower() == target_model_name.lower() and issubclass(cls, BaseModel):
            model = cls
    if model is None:
        raise SystemExit(1)
    return model


def get_option_setter(model_name):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt):
    model = find_model_using_name(opt.model)
    return model(opt)
""",
    "models/base_model.py": """
import os

import torch


class BaseModel:
    def __init__(self, opt):
        self.opt = opt
        self.model_names = []

    @staticmethod
    def modify_commandline_options(parser):
        return parser

    def setup(self, opt):
        self.load_networks(opt.epoch)

    def __patch_norm_state_dict(self, state_dict, module, keys, i=0):
        '''Fix InstanceNorm checkpoints incompatibility (prior to 0.4)'''
        key = keys[i]
        if i + 1 == len(keys):
            if module.__class__.__name__.startswith('InstanceNorm') and key in ('running_mean', 'running_var'):
                if getattr(module, key) is None:
                    state_dict.pop('.'.join(keys))
        else:
            self.__patch_norm_state_dict(state_dict, getattr(module, key), keys, i + 1)

    def load_networks(self, epoch):
        for name in self.model_names:
            load_filename = '%s_net_%s.pth' % (epoch, name)
            net = getattr(self, 'net' + name)
            state_dict = torch.load(load_filename, map_location='cpu')
            if hasattr(state_dict, '_metadata'):
                del state_dict._metadata
            for key in list(state_dict.keys()):
                self.__patch_norm_state_dict(state_dict, net, key.split('.'))
            net.load_state_dict(state_dict)
""",
    "models/networks.py": """
import torch.nn as nn
from torch.nn import init


def init_weights(net, init_gain=0.02):
    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, 'weight') and classname.find('Conv') != -1:
            init.normal_(m.weight.data, 0.0, init_gain)
            if hasattr(m, 'bias') and m.bias is not None:
                init.constant_(m.bias.data, 0.0)
    net.apply(init_func)


def define_G(ngf):
    net = nn.Sequential(nn.Conv2d(3, ngf, 3), nn.InstanceNorm2d(ngf), nn.ReLU(), nn.Conv2d(ngf, 3, 3))
    init_weights(net)
    return net
""",
    "models/pix2pix_model.py": """
from . import networks
from .base_model import BaseModel


class Pix2PixModel(BaseModel):
    @staticmethod
    def modify_commandline_options(parser):
        parser.set_defaults(ngf=4)
        return parser

    def __init__(self, opt):
        BaseModel.__init__(self, opt)
        self.model_names = ['G']
        self.netG = networks.define_G(opt.ngf)
""",
    "main.py": """
from models import create_model
from options.test_options import TestOptions

opt = TestOptions().parse()
model = create_model(opt)
model.setup(opt)
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("saved_ngf", [4, 6], ids=["matches", "differs"])
def test_a_pix2pix_shaped_test_script(case, saved_ngf, execute) -> None:
    for path, text in PROJECT.items():
        case.write(path, text)
    case.torch("import torch, torch.nn as nn\n"
               f"net = nn.Sequential(nn.Conv2d(3, {saved_ngf}, 3), nn.InstanceNorm2d({saved_ngf}), nn.ReLU(), "
               f"nn.Conv2d({saved_ngf}, 3, 3))\n"
               "torch.save(net.state_dict(), 'latest_net_G.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
