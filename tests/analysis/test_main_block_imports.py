"""A model class imported where the script runs rather than at its top level (torch-ngp's
`from nerf.network import NeRFNetwork` in the `__main__` block, on the branch an option picks):
the recipe imports it by its module, since the replay runs definitions alone; judged by real
PyTorch in both modes (corpus AH07/08)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

MAIN = """
import argparse

import torch

from trainer import *  # noqa: F403

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--tcnn", action="store_true")
    opt = parser.parse_args()
    {imports}
    model = Net(opt.width)
    trainer = Trainer(model, "w.pt")
"""

IMPORTS = {"main-block": "from pkg.net import Net",
           "on-a-branch": "if opt.tcnn:\n        from pkg.net_tcnn import Net\n    else:\n        from pkg.net import Net"}

TRAINER = """
import torch


class Trainer:
    def __init__(self, model, ckpt):
        self.model = model
        self.model.load_state_dict(torch.load(ckpt))
"""

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width{extra})
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
@pytest.mark.parametrize("where", list(IMPORTS))
def test_a_class_imported_where_the_script_runs(case, execute, width, where) -> None:
    case.write("main.py", MAIN.format(imports=IMPORTS[where]))
    case.write("trainer.py", TRAINER)
    case.write("pkg/__init__.py", "")
    case.write("pkg/net.py", NET.format(extra=""))
    case.write("pkg/net_tcnn.py", NET.format(extra=" * 2"))
    case.torch(f"import torch, torch.nn as nn\ntorch.save(nn.ModuleDict({{'fc': nn.Linear(4, {width})}}).state_dict(), "
               "'w.pt')")
    resolved_like_pytorch(case, execute, "mismatched")
