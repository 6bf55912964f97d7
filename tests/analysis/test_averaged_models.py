"""`torch.optim.swa_utils.AveragedModel(model)`: a wrapper whose state is the model's under
`module.` plus its own `n_averaged` count. Judged by real PyTorch in both modes: an SWA checkpoint
loaded into an AveragedModel, into the bare model, and the other way round."""

from __future__ import annotations

import pytest
from analysis_helpers import judged_like_pytorch

MAIN = """
import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel


class Regressor(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)


def load_swa(model, path):
    swa_model = {wrap}
    swa_model.load_state_dict(torch.load(path, map_location="cpu"))
    return swa_model


if __name__ == "__main__":
    load_swa(Regressor(hidden={hidden}), "w.pt")
"""

SAVED = {"averaged": "AveragedModel(Regressor(16))", "bare": "Regressor(16)"}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [16, 12], ids=["same-width", "other-width"])
@pytest.mark.parametrize("wrap", ["AveragedModel(model)", "model"], ids=["into-averaged", "into-bare"])
@pytest.mark.parametrize("saved", sorted(SAVED))
def test_an_averaged_models_state(case, saved, wrap, hidden, execute) -> None:
    case.write("main.py", MAIN.format(wrap=wrap, hidden=hidden))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom torch.optim.swa_utils import AveragedModel\n"
               "from main import Regressor\n"
               f"torch.save({SAVED[saved]}.state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
