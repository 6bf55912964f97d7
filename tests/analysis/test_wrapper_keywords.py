"""A wrapper given the model by keyword (arcface_torch's `DataParallel(module=backbone)`,
`torch.compile(model=net)`) wraps it as the positional form does. Corpus CD; truth by PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width)


{make}
{load}
"""

SHAPES = {
    "named": ("backbone = Net({w})\nbackbone = torch.nn.DataParallel(module=backbone)",
              "backbone.module.load_state_dict(torch.load('w.pt'))"),
    "whole": ("backbone = torch.nn.DataParallel(module=Net({w}))", "backbone.load_state_dict(torch.load('w.pt'))"),
    "compiled": ("backbone = torch.compile(model=Net({w}))", "backbone.load_state_dict(torch.load('w.pt'))"),
}
SAVES = {"named": "Net(8).state_dict()", "whole": "nn.DataParallel(Net(8)).state_dict()",
         "compiled": "{'_orig_mod.' + k: v for k, v in Net(8).state_dict().items()}"}


@pytest.mark.parametrize("execute", [False, True])
@pytest.mark.parametrize("width", [8, 4])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_model_given_to_a_wrapper_by_keyword(case, shape, width, execute) -> None:
    make, load = SHAPES[shape]
    script = SCRIPT.format(make=make.format(w=width), load=load)
    case.write("main.py", script)
    net = script[:script.index("\n\n\n", script.index("class Net"))]  # the imports and the class
    case.torch(f"{net}\n\ntorch.save({SAVES[shape]}, 'w.pt')")
    resolved_like_pytorch(case, execute, "mismatched" if width != 8 else "")
