"""A model built by a builder inside a package (Swin's `models/build.py`, detectron2): the
builder's file uses relative imports (`from .net import Net`), and the model needs code run
to be built (a buffer made by `torch.meshgrid`), so the worker replays the builder's file as
part of its package; and a model made at the top of the script that goes into another model
(denoising-diffusion's `GaussianDiffusion(model, ...)`), which the replay would not know; an entry
point of the workspace's own hubconf.py (`torch.hub.load(".", name, source="local")`).
Judged by real PyTorch."""

from __future__ import annotations

import pytest

from analysis_helpers import judged_like_pytorch

NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        coords = torch.stack(torch.meshgrid([torch.arange(2), torch.arange(2)], indexing="ij"))
        self.register_buffer("index", coords.flatten(1).sum(0))
        self.fc = nn.Linear(4, width)
"""


@pytest.mark.parametrize("n", [8, 6], ids=["matches", "differs"])
def test_a_builder_with_relative_imports_is_replayed_in_its_package(case, n) -> None:
    case.write("models/__init__.py", "from .build import build_model\n")
    case.write("models/build.py", "from .net import Net\n\n\ndef build_model(width):\n    return Net(width)\n")
    case.write("models/net.py", NET)
    case.write("main.py", f"import torch\n\nfrom models import build_model\n\nmodel = build_model({n})\n"
                          "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'index': torch.zeros(4, dtype=torch.long), **{'fc.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()}}\n"
               "torch.save(sd, 'w.pt')")
    judged_like_pytorch(case, True, "mismatched")


WRAPPED = """
from nets import Outer, Inner
from trainer import Trainer

model = Inner()
diffusion = Outer(model, timesteps={t})
Trainer(diffusion).load()
"""

NETS = """
import torch
import torch.nn as nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        coords = torch.stack(torch.meshgrid([torch.arange(2), torch.arange(2)], indexing="ij"))
        self.register_buffer("index", coords.flatten(1).sum(0))
        self.fc = nn.Linear(4, 4)


class Outer(nn.Module):
    def __init__(self, model, timesteps=10):
        super().__init__()
        self.model = model
        self.register_buffer("betas", torch.linspace(0, 1, timesteps))
"""

TRAINER = """
import torch


class Trainer:
    def __init__(self, diffusion):
        self.model = diffusion

    def load(self):
        self.model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("t", [10, 5], ids=["matches", "differs"])
def test_a_model_made_at_the_top_of_the_script_goes_into_another(case, t) -> None:
    """denoising-diffusion's README: `model = Unet(...)` at the top of the script, then
    `GaussianDiffusion(model, timesteps=...)` loaded by a Trainer of another file. The worker's
    replay drops the call that binds `model`, so the recipe writes its constructor in."""
    case.write("nets.py", NETS)
    case.write("trainer.py", TRAINER)
    case.write("main.py", WRAPPED.format(t=t))
    case.torch(NETS + "\ntorch.save(Outer(Inner(), 10).state_dict(), 'w.pt')")
    judged_like_pytorch(case, True, "mismatched")


HUBCONF = """
dependencies = ["torch"]

import torch.nn as nn


def tiny(pretrained=False, width=8, **kwargs):
    return nn.Sequential(nn.Linear(4, width))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_an_entry_point_of_the_workspaces_own_hubconf(case, width, execute) -> None:
    """`torch.hub.load(".", "tiny", source="local", width=...)`: hubconf.py's function, called
    with the remaining arguments."""
    case.write("hubconf.py", HUBCONF)
    case.write("main.py", "import torch\n\n"
                          f"model = torch.hub.load('.', 'tiny', source='local', width={width}, verbose=False)\n"
                          "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch, torch.nn as nn; torch.save(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


DETR_BACKBONE = """
import torch.nn as nn


class FrozenNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("weight", torch_ones(n))


def torch_ones(n):
    import torch
    return torch.ones(n)


class Backbone(nn.Module):
    def __init__(self, width, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3), norm_layer(width))
        self.num_channels = width


def build_backbone(args):
    return Backbone(args.width, norm_layer=FrozenNorm if args.frozen else nn.BatchNorm2d)
"""

DETR_MODEL = """
import torch.nn as nn

from .backbone import build_backbone


class DETR(nn.Module):
    def __init__(self, backbone, num_classes, hidden_dim=8):
        super().__init__()
        self.backbone = backbone
        self.input_proj = nn.Conv2d(backbone.num_channels, hidden_dim, 1)
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)


def build(args):
    num_classes = 91 if args.dataset_file == "coco" else 20
    backbone = build_backbone(args)
    return DETR(backbone, num_classes)
"""

DETR_MAIN = """
import argparse

import torch

from models.detr import build

parser = argparse.ArgumentParser()
parser.add_argument("--width", type=int, default=6)
parser.add_argument("--frozen", action="store_true")
parser.add_argument("--dataset_file", default="{dataset}")
args = parser.parse_args()
model = build(args)
model_without_ddp = model
ema = torch.optim.swa_utils.AveragedModel(model_without_ddp)
checkpoint = torch.load("detr.pth")
model_without_ddp.load_state_dict(checkpoint["model"])
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("dataset", ["coco", "voc"])
def test_a_module_a_factory_in_another_file_makes_goes_into_the_model(case, dataset, execute) -> None:
    """DETR's `build(args)`: the backbone made by `build_backbone(args)` in backbone.py goes into
    `DETR(backbone, ...)` in detr.py; `model_without_ddp = model` is another name for it, not a
    change (corpus X03, X07)."""
    case.write("models/__init__.py", "")
    case.write("models/backbone.py", DETR_BACKBONE)
    case.write("models/detr.py", DETR_MODEL)
    case.write("main.py", DETR_MAIN.format(dataset=dataset))
    case.torch("import sys, argparse, torch\nsys.path.insert(0, '.')\nfrom models.detr import build\n"
               "model = build(argparse.Namespace(width=6, frozen=False, dataset_file='coco'))\n"
               "torch.save({'model': model.state_dict()}, 'detr.pth')")
    judged_like_pytorch(case, execute, "mismatched")
