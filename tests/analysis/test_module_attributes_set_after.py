"""A module given a plain attribute after it is made, then passed into the model (DETR's
`build_backbone`: `model = Joiner(backbone, pos); model.num_channels = backbone.num_channels`, read
by `DETR.__init__`): the attribute is set again where the recipe makes that module; judged by
real PyTorch in both modes (corpus AG03/04)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

BACKBONE = """
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.num_channels = 16 if name == "tiny" else 32
        self.body = nn.Conv2d(3, self.num_channels, 3)


class Joiner(nn.Sequential):
    def __init__(self, backbone, position_embedding):
        super().__init__(backbone, position_embedding)


def build_backbone(args):
    backbone = Backbone(args.backbone)
    model = Joiner(backbone, nn.Identity())
    model.num_channels = backbone.num_channels
    return model
"""

DETR = """
import torch.nn as nn

from .backbone import build_backbone


class DETR(nn.Module):
    def __init__(self, backbone, num_queries, hidden_dim=8):
        super().__init__()
        self.backbone = backbone
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.input_proj = nn.Conv2d(backbone.num_channels, hidden_dim, kernel_size=1)


def build(args):
    backbone = build_backbone(args)
    return DETR(backbone, num_queries=args.num_queries)
"""

MAIN = """
import argparse

import torch

from models.detr import build

parser = argparse.ArgumentParser()
parser.add_argument("--backbone", default="tiny")
parser.add_argument("--num_queries", type=int, default={queries})
args = parser.parse_args()
model = build(args)
model.load_state_dict(torch.load("detr.pth"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("queries", [10, 12], ids=["matches", "differs"])
def test_an_attribute_set_on_a_part_before_the_model_reads_it(case, execute, queries) -> None:
    case.write("models/__init__.py", "")
    case.write("models/backbone.py", BACKBONE)
    case.write("models/detr.py", DETR)
    case.write("main.py", MAIN.format(queries=queries))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nimport argparse\nfrom models.detr import build\n"
               "m = build(argparse.Namespace(backbone='tiny', num_queries=10))\n"
               "torch.save(m.state_dict(), 'detr.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
