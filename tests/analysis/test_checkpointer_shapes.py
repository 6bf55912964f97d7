"""detectron2's shape (corpus S04): `build_model(cfg)` sizing the heads from a module made just
before (`StandardROIHeads(backbone.out_channels, ...)`), and fvcore's Checkpointer finding the
checkpoint through a `last_checkpoint` pointer file (`has_checkpoint()` is `os.path.exists`, the
pointer read inside `try: ... except IOError: return ""`). Judged by real PyTorch, both modes."""

from __future__ import annotations

import os

import pytest
from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes

MODELING = """
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.stem = nn.Linear(4, width)
        self.out_channels = width * 2
        self.body = nn.Linear(width, self.out_channels)


class Heads(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes + 1)


class RCNN(nn.Module):
    def __init__(self, backbone, heads):
        super().__init__()
        self.backbone = backbone
        self.heads = heads


def build_model(width, num_classes):
    backbone = Backbone(width)
    heads = Heads(backbone.out_channels, num_classes)
    return RCNN(backbone, heads)
"""

CHECKPOINTER = """
import os

import torch


class Checkpointer:
    def __init__(self, model, save_dir):
        self.model = model
        self.save_dir = save_dir

    def has_checkpoint(self):
        return os.path.exists(os.path.join(self.save_dir, "last_checkpoint"))

    def get_checkpoint_file(self):
        save_file = os.path.join(self.save_dir, "last_checkpoint")
        try:
            with open(save_file, "r") as f:
                last_saved = f.read().strip()
        except IOError:
            return ""
        return os.path.join(self.save_dir, last_saved)

    def resume_or_load(self, path, resume=True):
        if resume and self.has_checkpoint():
            path = self.get_checkpoint_file()
        checkpoint = torch.load(path)
        return self.model.load_state_dict(checkpoint.pop("model"), strict=False)
"""

MAIN = """
from checkpointer import Checkpointer
from modeling import build_model

model = build_model(8, {num_classes})
Checkpointer(model, "output").resume_or_load("init.pth")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("num_classes", [20, 80], ids=["matches", "differs"])
def test_heads_sized_off_the_backbone_and_the_last_checkpoint_pointer(case, num_classes, execute) -> None:
    case.write("modeling.py", MODELING)
    case.write("checkpointer.py", CHECKPOINTER)
    case.write("main.py", MAIN.format(num_classes=num_classes))
    os.makedirs(case.dir / "output")
    case.write("output/last_checkpoint", "model_0004999.pth\n")
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom modeling import build_model\n"
               "torch.save({'model': build_model(8, 20).state_dict(), 'iteration': 4999}, 'output/model_0004999.pth')\n"
               "torch.save({'model': build_model(8, 3).state_dict()}, 'init.pth')")
    agrees_with_pytorch(analyze_alone(case, execute), pytorch_outcomes(case)["loads"][0], "mismatched")
