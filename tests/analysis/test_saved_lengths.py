"""EasyOCR's trainer sizes a new head from the checkpoint: `nn.Linear(n, len(pretrained_dict[
'Prediction.weight']))`. `len()` of a checkpoint's tensor is its first dimension, read from the
saved shape (no data). Corpus CE; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_class):
        super().__init__()
        self.body = nn.Linear(4, 6)
        self.Prediction = nn.Linear(6, num_class)


def train(saved_model):
    model = Net(129)
    pretrained_dict = torch.load(saved_model)
    model.Prediction = nn.Linear(6, len(pretrained_dict[{key!r}]))
    model.load_state_dict(pretrained_dict)


train("english.pth")
"""


@pytest.mark.parametrize("key", ["Prediction.weight", "Prediction.bias", "body.weight"])
def test_the_length_of_a_checkpoint_tensor(case, key) -> None:
    case.write("main.py", SCRIPT.format(key=key))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {**{'body.' + k: v for k, v in nn.Linear(4, 6).state_dict().items()},\n"
               "      **{'Prediction.' + k: v for k, v in nn.Linear(6, 97).state_dict().items()}}\n"
               "torch.save(sd, 'english.pth')")
    resolved_like_pytorch(case, False, "mismatched" if key == "body.weight" else "")
