"""A conversion script splits a fused weight of the checkpoint by slicing it (TrOCR's / BERT's
`qkv[:dim, :]`, `in_proj_weight[-dim:]`): the slice's shape, computed from the saved shape as
torch computes it (no data read). It was reported as a TypeError the run never raises (a false
`key-error` on a clean load). Corpus CE; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn


class Attn(nn.Module):
    def __init__(self, dim=4):
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.scale = nn.Parameter(torch.ones(dim))


model = Attn(4)
state_dict = torch.load("fused.pt")
qkv = state_dict.pop("qkv.weight")
state_dict["query.weight"] = qkv[{q}]
state_dict["key.weight"] = qkv[{k}]
state_dict["value.weight"] = qkv[{v}]
state_dict["scale"] = state_dict.pop("scales")[{s}]
model.load_state_dict(state_dict)
"""

SLICES = {
    "rows": (":4, :", "4:8, :", "-4:", "0"),
    "ellipsis": (":4, ...", "4:8, ...", "8:12", "1, ..."),
    "stepped": ("0:12:3", "1:12:3", "2::3", "-1"),
    "short": (":3, :", "4:8, :", "-4:", "0"),
    "unsqueezed": (":4, None", "4:8, :", "-4:", "0"),
    "wide-scale": (":4, :", "4:8, :", "-4:", ":, 0"),
}


@pytest.mark.parametrize("shape", list(SLICES))
def test_a_slice_of_a_checkpoint_tensor_has_its_shape(case, shape) -> None:
    q, k, v, s = SLICES[shape]
    case.write("main.py", SCRIPT.format(q=q, k=k, v=v, s=s))
    case.torch("import torch\ntorch.save({'qkv.weight': torch.zeros(12, 4), 'scales': torch.ones(2, 4)}, 'fused.pt')")
    resolved_like_pytorch(case, False, "mismatched" if shape in ("short", "unsqueezed", "wide-scale") else "")


def test_an_index_out_of_range_is_not_decided(case) -> None:
    """(`qkv[20]` raises IndexError at run time: not a load outcome; nothing is said about the load.)"""
    case.write("main.py", SCRIPT.format(q="20", k="4:8, :", v="-4:", s="0"))
    case.torch("import torch\ntorch.save({'qkv.weight': torch.zeros(12, 4), 'scales': torch.ones(2, 4)}, 'fused.pt')")
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
