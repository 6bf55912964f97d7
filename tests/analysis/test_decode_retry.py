"""torchreid's `load_checkpoint`: `try: torch.load(fpath) except UnicodeDecodeError: torch.load(
fpath, encoding="latin1")`. A checkpoint that is there and that the reader decodes does not raise
UnicodeDecodeError, so the handler does not run and the load is the `try` body's. Corpus CD; truth
by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SCRIPT = """
import os.path as osp
import pickle
from functools import partial

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.classifier = nn.Linear(8, num_classes)


def load_checkpoint(fpath):
    fpath = osp.abspath(osp.expanduser(fpath))
    map_location = None if torch.cuda.is_available() else "cpu"
    try:
        checkpoint = torch.load(fpath, map_location=map_location)
    except UnicodeDecodeError:
        pickle.load = partial(pickle.load, encoding="latin1")
        pickle.Unpickler = partial(pickle.Unpickler, encoding="latin1")
        checkpoint = torch.load(fpath, pickle_module=pickle, map_location=map_location)
    return checkpoint


model = Net(num_classes={n})
checkpoint = load_checkpoint("model.pth.tar-180")
model.load_state_dict(checkpoint["state_dict"])
"""


@pytest.mark.parametrize("n", [5, 7])
def test_a_decode_retry_around_a_readable_checkpoint_does_not_run(case, n) -> None:
    case.write("main.py", SCRIPT.format(n=n))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {**{'fc.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()},\n"
               "      **{'classifier.' + k: v for k, v in nn.Linear(8, 5).state_dict().items()}}\n"
               "torch.save({'state_dict': sd, 'epoch': 180}, 'model.pth.tar-180')")
    resolved_like_pytorch(case, False, "mismatched" if n != 5 else "")
