"""A layer sized from the checkpoint's own tensor (pointnet.pytorch's
`PointNetDenseCls(k=state_dict['conv4.weight'].size()[0])`): `.shape[0]`, `.size()[0]`, `.size(0)`
are read from the file, never its bytes, and written into the recipe; judged by real PyTorch in
both modes (corpus AH03)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

MAIN = """
import torch
import torch.nn as nn


class DenseCls(nn.Module):
    def __init__(self, k=2):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 16, 1)
        self.conv4 = nn.Conv1d(16, k, 1)


state_dict = torch.load("seg.pth")
classifier = DenseCls(k=state_dict["conv4.weight"]{read})
classifier.load_state_dict(state_dict)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("stem", [16, 8], ids=["matches", "stem-differs"])
@pytest.mark.parametrize("read", [".size()[0]", ".size(0)", ".shape[0]"])
def test_a_size_read_from_the_checkpoint(case, execute, stem, read) -> None:
    case.write("main.py", MAIN.format(read=read))
    case.torch("import torch, torch.nn as nn\n"
               f"torch.save(nn.ModuleDict({{'conv1': nn.Conv1d(3, {stem}, 1), 'conv4': nn.Conv1d({stem}, 4, 1)}})"
               ".state_dict(), 'seg.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
