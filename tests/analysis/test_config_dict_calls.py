"""face.evoLVe's `config.py`: `configurations = {1: dict(INPUT_SIZE=[112, 112], ..., DEVICE=torch.device(
"cuda:0" if torch.cuda.is_available() else "cpu"))}`. A `dict(...)` of keywords holding one value
not known as data holds its other items as the display `{...}` does: each is read for itself.
Corpus CD; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

CONFIG = """
import torch

configurations = {
    1: dict(
        INPUT_SIZE=[%d, %d],
        EMBEDDING_SIZE=32,
        DEVICE=torch.device("cuda:0" if torch.cuda.is_available() else "cpu"),
        GPU_ID=[0],
    ),
}
"""

SCRIPT = """
import torch
import torch.nn as nn

from config import configurations


class Backbone(nn.Module):
    def __init__(self, input_size, embedding_size):
        super().__init__()
        side = 7 if input_size[0] == 112 else 14
        self.output_layer = nn.Linear(side * side, embedding_size)


def IR_50(input_size, embedding_size):
    model = Backbone(input_size, embedding_size)
    return model


cfg = configurations[1]
INPUT_SIZE = cfg["INPUT_SIZE"]
BACKBONE = IR_50(INPUT_SIZE, cfg["EMBEDDING_SIZE"]).to(cfg["DEVICE"])
BACKBONE.load_state_dict(torch.load("backbone.pth"))
"""


@pytest.mark.parametrize("side", [112, 224])
def test_a_dict_call_with_a_device_in_it(case, side) -> None:
    case.write("config.py", CONFIG % (side, side))
    case.write("main.py", SCRIPT)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'output_layer.' + k: v for k, v in nn.Linear(49, 32).state_dict().items()}, 'backbone.pth')")
    resolved_like_pytorch(case, False, "mismatched" if side != 112 else "")
