"""A cog-style predictor: a plain object (its base `object` when `cog` is not installed) whose
`setup()` makes the model in its own file and loads into `self.model`. The worker builds the
object and reads the modules it holds; a step written in `predict.py` is replayed with that
file's names. Judged by real PyTorch; static inference steps aside (a base chosen at run time)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

ARCH = """
import torch.nn as nn


class TinySR(nn.Module):
    def __init__(self, num_feat=16, scale=2):
        super().__init__()
        self.head = nn.Conv2d(3, num_feat, 3, padding=1)
        self.up = nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1)
"""

PREDICT = """
import os

import torch

from arch import TinySR

try:
    from cog import BasePredictor
except ImportError:  # outside the cog container
    BasePredictor = object

SPECS = {2: {"file": "x2.pth", "num_feat": FEAT}}


class Predictor(BasePredictor):
    def setup(self, scale=2):
        spec = SPECS[scale]
        self.model = TinySR(num_feat=spec["num_feat"], scale=scale)
        ckpt = torch.load(os.path.join(os.path.dirname(__file__), spec["file"]), map_location="cpu")
        self.model.load_state_dict(ckpt["params_ema"] if "params_ema" in ckpt else ckpt)
"""

MAIN = """
from predict import Predictor

if __name__ == "__main__":
    predictor = Predictor()
    predictor.setup()
"""


def _write(case, feat: int) -> None:
    case.write("arch.py", ARCH)
    case.write("predict.py", PREDICT.replace("FEAT", str(feat)))
    case.write("main.py", MAIN)
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom arch import TinySR\n"
               "torch.save({'params_ema': TinySR(16).state_dict()}, 'x2.pth')")


@pytest.mark.parametrize("feat", [16, 12], ids=["clean", "other-width"])
def test_a_predictor_objects_model_built_by_the_worker(case, feat) -> None:
    _write(case, feat)
    judged_like_pytorch(case, True, "mismatched+missing+unexpected")
    static = analyze_alone(case, False)
    assert not [f for f in static.findings if f.severity == "error"]


def test_a_load_into_the_predictor_object_itself_is_not_judged(case) -> None:
    """`predictor.load_state_dict(...)` on an object that is no nn.Module raises AttributeError
    in Python: the built holder stands for the object, so no verdict is taken from it."""
    _write(case, 16)
    case.write("main.py", MAIN + "    import torch\n    predictor.load_state_dict(torch.load('x2.pth'))\n")
    result = analyze_alone(case, True)
    assert not [f for f in result.findings if f.severity == "error" and f.load_call.line + 1 == 7]
    assert any("made a Predictor, not an nn.Module" in f.message for f in result.findings), \
        [f.message for f in result.findings]
