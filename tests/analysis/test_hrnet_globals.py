"""HRNet's `seg_hrnet.py`: `global ALIGN_CORNERS` set in the model's `__init__`, and the yacs
config read by key (`extra['STAGE1']['NUM_CHANNELS']`) beside by attribute, channels totalled by
`int(np.sum(...))`. Static inference writes a `global` name in its module; the recipe writes a
yacs config as a dict read by key and by attribute (it was a SimpleNamespace: TypeError in the
worker). Corpus CC; truth by PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SCRIPT = """
import numpy as np
import torch
import torch.nn as nn
from yacs.config import CfgNode as CN

_C = CN()
_C.MODEL = CN()
_C.MODEL.ALIGN_CORNERS = True
_C.MODEL.EXTRA = CN(new_allowed=True)
_C.DATASET = CN()
_C.DATASET.NUM_CLASSES = 19

ALIGN_CORNERS = None
WIDTH = 2


class Head(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.conv = nn.Conv2d(channels * WIDTH, classes, 1, bias=ALIGN_CORNERS)


class Net(nn.Module):
    def __init__(self, config):
        global ALIGN_CORNERS
        global WIDTH
        super().__init__()
        ALIGN_CORNERS = config.MODEL.ALIGN_CORNERS
        WIDTH += 1
        extra = config.MODEL.EXTRA
        channels = extra['STAGE1']['NUM_CHANNELS'][0] if 'STAGE1' in extra else 4
        self.stem = nn.Conv2d(3, int(np.sum([channels] * WIDTH)), 3, bias=False)
        self.head = Head(channels, config.DATASET.NUM_CLASSES)


cfg = _C.clone()
cfg.merge_from_file('exp.yaml')
model = Net(cfg)
model.load_state_dict(torch.load('ckpt.pth'))
"""


@pytest.mark.parametrize("execute", [False, True])
@pytest.mark.parametrize(("classes", "bias"), [(19, True), (20, True), (19, False)])
def test_globals_set_in_init_and_a_config_read_by_key(case, execute, classes, bias) -> None:
    case.write("main.py", SCRIPT)
    case.write("exp.yaml", f"MODEL:\n  ALIGN_CORNERS: {bias}\n  EXTRA:\n    STAGE1:\n      NUM_CHANNELS: [8]\n"
                           f"DATASET:\n  NUM_CLASSES: {classes}\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'stem.weight': torch.zeros(24, 3, 3, 3), 'head.conv.weight': torch.zeros(19, 24, 1, 1),\n"
               "            'head.conv.bias': torch.zeros(19)}, 'ckpt.pth')")
    keys = "mismatched" if classes != 19 else "unexpected" if not bias else ""
    resolved_like_pytorch(case, execute, keys)


@pytest.mark.parametrize("classes", [19, 20])
def test_the_worker_reads_the_config_by_key(case, classes) -> None:
    """Built by the worker first (`--exec-first`): the recipe's yacs config is a dict it reads by key."""
    from analysis_helpers import agrees_with_pytorch, pytorch_outcomes
    from weightmatch.project import Project, Settings

    case.write("main.py", SCRIPT)
    case.write("exp.yaml", f"MODEL:\n  EXTRA:\n    STAGE1:\n      NUM_CHANNELS: [8]\nDATASET:\n  NUM_CLASSES: {classes}\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'stem.weight': torch.zeros(24, 3, 3, 3), 'head.conv.weight': torch.zeros(19, 24, 1, 1),\n"
               "            'head.conv.bias': torch.zeros(19)}, 'ckpt.pth')")
    truth = pytorch_outcomes(case)
    project = Project(str(case.dir), Settings(execute=True, worker_timeout=120, static_first=False))
    try:
        result = project.analyze(str(case.dir / "main.py"))
    finally:
        project.close()
    agrees_with_pytorch(result, truth["loads"][0], "mismatched" if classes != 19 else "")
    assert result.reports[0].how == "executed", result.reports[0].how
