"""The keys of a state dict taken as a list (`list(self.network.state_dict().keys())`) and read in a
loop that rebuilds the checkpoint's dict: nnU-Net's `load_checkpoint_ram` strips `module.` only
from keys the model does not have. Judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

TRAINER = """
from collections import OrderedDict

import torch
import torch.nn as nn


class Trainer:
    def __init__(self):
        self.network = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    def load_checkpoint(self, fname):
        checkpoint = torch.load(fname, map_location="cpu")
        new_state_dict = OrderedDict()
        curr_state_dict_keys = {keys}
        for k, value in checkpoint["state_dict"].items():
            key = k
            if key not in curr_state_dict_keys and key.startswith("module."):
                key = key[7:]
            new_state_dict[key] = value
        self.network.load_state_dict(new_state_dict)


Trainer().load_checkpoint("model_final_checkpoint.model")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("keys", ["list(self.network.state_dict().keys())", "sorted(self.network.state_dict())",
                                  "tuple(self.network.state_dict())"], ids=["list", "sorted", "tuple"])
@pytest.mark.parametrize("saved", ["module.", "", "module.module."], ids=["wrapped", "bare", "twice"])
@pytest.mark.parametrize("width", [3, 5], ids=["matches", "differs"])
def test_keys_of_the_model_read_in_a_key_loop(case, width, saved, keys, execute) -> None:
    case.write("main.py", TRAINER.format(keys=keys))
    case.torch("import torch, torch.nn as nn\n"
               f"net = nn.Sequential(nn.Linear(4, {width}), nn.ReLU(), nn.Linear({width}, 2))\n"
               f"torch.save({{'state_dict': {{{saved!r} + k: v for k, v in net.state_dict().items()}}}}, "
               "'model_final_checkpoint.model')")
    resolved_like_pytorch(case, execute, "mismatched+missing+unexpected")
