"""Which checkpoint a run picks from a folder: Swin's `auto_resume_helper` (`os.listdir`, the
names kept by a comprehension, `max([os.path.join(d, n) ...], key=os.path.getmtime)`) and DnCNN's
`findLastCheckpoint` (the epoch parsed out of each name with `re.findall`). The files are the ones
on disk now, as the run finds them; the verdict is PyTorch's (corpus AJ01, AJ03)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SWIN = """
import os

import torch
import torch.nn as nn


def auto_resume_helper(output_dir):
    checkpoints = os.listdir(output_dir)
    checkpoints = [ckpt for ckpt in checkpoints if ckpt.endswith("pth")]
    if len(checkpoints) > 0:
        return max([os.path.join(output_dir, d) for d in checkpoints], key=os.path.getmtime)
    return None


model = nn.Linear(4, 10)
resume = auto_resume_helper(os.path.join("output", "run"))
if resume:
    model.load_state_dict(torch.load(resume))
"""

DNCNN = """
import glob
import os
import re

import torch
import torch.nn as nn


def find_last_checkpoint(save_dir):
    file_list = glob.glob(os.path.join(save_dir, "model_*.pth"))
    if file_list:
        epochs_exist = []
        for file_ in file_list:
            result = re.findall(".*model_(.*).pth.*", file_)
            epochs_exist.append(int(result[0]))
        initial_epoch = max(epochs_exist)
    else:
        initial_epoch = 0
    return initial_epoch


model = nn.Linear(4, 10)
epoch = find_last_checkpoint("models")
if epoch > 0:
    model.load_state_dict(torch.load(os.path.join("models", "model_%03d.pth" % epoch)))
"""


def _files(case, folder: str, named: dict[str, int]) -> None:
    """Checkpoints of `nn.Linear(4, n)`, written in the order given, each a second newer."""
    lines = ["import os, torch, torch.nn as nn", f"os.makedirs({folder!r}, exist_ok=True)"]
    for i, (name, n) in enumerate(named.items()):
        path = f"{folder}/{name}"
        lines += [f"torch.save(nn.Linear(4, {n}).state_dict(), {path!r})", f"os.utime({path!r}, (1e9 + {i}, 1e9 + {i}))"]
    case.torch("\n".join(lines))


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("newest", [10, 12], ids=["newest-matches", "newest-differs"])
def test_the_newest_file_of_a_listed_folder(case, execute, newest) -> None:
    case.write("main.py", SWIN)
    case.write("output/run/log.txt", "not a checkpoint\n")
    _files(case, "output/run", {"ckpt_epoch_2.pth": 22 - newest, "ckpt_epoch_1.pth": newest})
    resolved_like_pytorch(case, execute, "mismatched")


@pytest.mark.parametrize("last", [10, 12], ids=["last-matches", "last-differs"])
def test_the_epoch_read_out_of_each_name(case, last) -> None:
    case.write("main.py", DNCNN)
    _files(case, "models", {"model_030.pth": last, "model_005.pth": 22 - last, "model_010.pth": 22 - last})
    resolved_like_pytorch(case, False, "mismatched")
