"""`_load_from_state_dict` overrides whose effect is known: FrozenBatchNorm2d (torchvision's,
and the copy DETR and its descendants carry) deletes `num_batches_tracked` before loading as
nn.Module does, so a BatchNorm checkpoint loads into it cleanly; any other override stays "not
exact". Judged by real PyTorch, in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

FROZEN = '''
import torch
import torch.nn as nn


class FrozenBatchNorm2d(torch.nn.Module):
    """BatchNorm2d where the batch statistics and the affine parameters are fixed."""

    def __init__(self, n):
        super(FrozenBatchNorm2d, self).__init__()
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        {body}
        super(FrozenBatchNorm2d, self)._load_from_state_dict(
            state_dict, prefix, local_metadata, strict,
            missing_keys, unexpected_keys, error_msgs)


class Backbone(nn.Module):
    def __init__(self, width, norm_layer=FrozenBatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, bias=False)
        self.bn1 = norm_layer(width)
        {extra}


backbone = Backbone({width})
backbone.load_state_dict(torch.load("bn.pth"))
'''

DROP = '''num_batches_tracked_key = prefix + 'num_batches_tracked'
        if num_batches_tracked_key in state_dict:
            del state_dict[num_batches_tracked_key]'''
POP = "state_dict.pop(f'{prefix}num_batches_tracked', None)"
RENAME = '''if prefix + 'gamma' in state_dict:
            state_dict[prefix + 'weight'] = state_dict.pop(prefix + 'gamma')'''


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("body", [DROP, POP], ids=["del", "pop"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_frozen_batch_norm_drops_num_batches_tracked(case, body, width, execute) -> None:
    case.write("main.py", FROZEN.format(body=body, extra="", width=width))
    case.torch("import torch, torch.nn as nn\n"
               "m = nn.Module()\nm.conv1 = nn.Conv2d(3, 8, 3, bias=False)\nm.bn1 = nn.BatchNorm2d(8)\n"
               "torch.save(m.state_dict(), 'bn.pth')")
    judged_like_pytorch(case, execute, "mismatched")
    result = analyze_alone(case, execute)
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]
    assert not [r for r in result.reports for f in r.findings if f.inexact], "FrozenBatchNorm2d is modelled"


def test_another_override_stays_not_exact(case) -> None:
    case.write("main.py", FROZEN.format(body=RENAME, extra="", width=8))
    case.torch("import torch, torch.nn as nn\n"
               "m = nn.Module()\nm.conv1 = nn.Conv2d(3, 8, 3, bias=False)\nm.bn1 = nn.BatchNorm2d(8)\n"
               "torch.save(m.state_dict(), 'bn.pth')")
    result = analyze_alone(case, False)
    assert any("bn1" in " ".join(f.inexact) for f in result.findings) or \
        any("loads its own way" in f.message or "not exact" in f.message for f in result.findings), \
        [(f.code, f.message, f.inexact) for f in result.findings]
