"""Workspace modules found through folders the script puts on `sys.path`: RAFT's
`sys.path.append('core')` in the entry, CenterNet's / HRNet's `import _init_paths` (a module whose
import inserts `lib/`). Plain `import` / `from … import` look there, in the analysis, in static
inference and in the worker, as Python does; judged by real PyTorch (corpora AH09, AG05)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

RAFT_MAIN = """
import argparse
import sys

sys.path.append("core")

import torch  # noqa: E402

from raft import RAFT  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="raft.pth")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    model = torch.nn.DataParallel(RAFT(args))
    model.load_state_dict(torch.load(args.model))
"""

RAFT = """
import torch.nn as nn

from extractor import Encoder


class RAFT(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        if "dropout" not in self.args:
            self.args.dropout = 0
        self.fnet = Encoder(64 if args.small else 128)
"""

EXTRACTOR = """
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv = nn.Conv2d(3, dim, 3)
"""

INIT_PATHS = """
import os.path as osp
import sys

this_dir = osp.dirname(__file__)
lib_path = osp.join(this_dir, "lib")
if lib_path not in sys.path:
    sys.path.insert(0, lib_path)
"""

CENTERNET_MAIN = """
import _init_paths  # noqa: F401

import torch

from models.model import create_model

model = create_model({{"hm": {classes}, "wh": 2}})
model.load_state_dict(torch.load("ctdet.pth"))
"""

CENTERNET_MODEL = """
import torch.nn as nn

from utils.widths import HEAD_CONV


class Heads(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.base = nn.Conv2d(3, HEAD_CONV, 3)
        for head, classes in heads.items():
            setattr(self, head, nn.Conv2d(HEAD_CONV, classes, 1))


def create_model(heads):
    return Heads(heads)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("dim", [128, 64], ids=["matches", "differs"])
def test_a_folder_the_entry_appends_to_sys_path(case, execute, dim) -> None:
    case.write("main.py", RAFT_MAIN)
    case.write("core/raft.py", RAFT)
    case.write("core/extractor.py", EXTRACTOR)
    case.torch("import torch, torch.nn as nn\n"
               f"sd = nn.ModuleDict({{'fnet': nn.ModuleDict({{'conv': nn.Conv2d(3, {dim}, 3)}})}}).state_dict()\n"
               "torch.save({'module.' + k: v for k, v in sd.items()}, 'raft.pth')")
    resolved_like_pytorch(case, execute, "mismatched")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("classes", [80, 20], ids=["matches", "differs"])
def test_a_folder_an_imported_module_inserts_in_sys_path(case, execute, classes) -> None:
    case.write("main.py", CENTERNET_MAIN.format(classes=classes))
    case.write("_init_paths.py", INIT_PATHS)
    case.write("lib/models/__init__.py", "")
    case.write("lib/models/model.py", CENTERNET_MODEL)
    case.write("lib/utils/__init__.py", "")
    case.write("lib/utils/widths.py", "HEAD_CONV = 16\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.ModuleDict({'base': nn.Conv2d(3, 16, 3), 'hm': nn.Conv2d(16, 80, 1), "
               "'wh': nn.Conv2d(16, 2, 1)}).state_dict(), 'ctdet.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
