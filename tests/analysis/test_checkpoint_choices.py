"""A checkpoint's own contents choosing which state dict is loaded, as timm's `load_state_dict`
does: `checkpoint.get("state_dict_ema", None) is not None` (read from the file, never run), then
`"state_dict" in checkpoint`, then the `module.` strip. Judged by real PyTorch in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import judged_like_pytorch, resolved_like_pytorch

HELPERS = """
import torch
import torch.nn as nn


def clean_state_dict(state_dict):
    return {{(k[7:] if k.startswith("module.") else k): v for k, v in state_dict.items()}}


def load_state_dict(checkpoint_path, use_ema=True):
    checkpoint = torch.load(checkpoint_path, map_location="cpu")
    state_dict_key = ""
    if isinstance(checkpoint, dict):
        if use_ema and checkpoint.get("state_dict_ema", None) is not None:
            state_dict_key = "state_dict_ema"
        elif "state_dict" in checkpoint:
            state_dict_key = "state_dict"
    state_dict = checkpoint[state_dict_key] if state_dict_key else checkpoint
    return clean_state_dict(state_dict)


def load_checkpoint(model, checkpoint_path, use_ema=True, strict=True):
    state_dict = load_state_dict(checkpoint_path, use_ema)
    return model.load_state_dict(state_dict, strict=strict)


load_checkpoint(nn.Linear(4, 8), "w.pt", use_ema={use_ema})
"""

# what the checkpoint holds: the raw weights are 8 wide, the EMA weights 6 wide (under `module.`)
SAVED = {
    "both": "{'state_dict': raw, 'state_dict_ema': ema}",
    "ema-none": "{'state_dict': raw, 'state_dict_ema': None}",
    "raw-only": "{'state_dict': raw}",
    "bare": "raw",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("use_ema", [True, False], ids=["ema", "no-ema"])
@pytest.mark.parametrize("saved", sorted(SAVED))
def test_the_checkpoint_decides_which_state_dict(case, saved, use_ema, execute) -> None:
    case.write("main.py", HELPERS.format(use_ema=use_ema))
    case.torch("import torch, torch.nn as nn\nraw = nn.Linear(4, 8).state_dict()\n"
               "ema = {'module.' + k: v for k, v in nn.Linear(4, 6).state_dict().items()}\n"
               f"torch.save({SAVED[saved]}, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


YOLO_STYLE = """
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn

FILE = Path(__file__).resolve()
ROOT = FILE.parents[0]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
ROOT = Path(os.path.relpath(ROOT, Path.cwd()))


def run(weights=ROOT / "weights/best.pt"):
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 5))
    ckpt = torch.load(weights)
    csd = {pick}
    model.load_state_dict(csd)


if __name__ == "__main__":
    run()
"""


@pytest.mark.parametrize("pick", ['ckpt["ema"] if ckpt.get("ema") else ckpt["model"]', 'ckpt.get("ema") or ckpt["model"]'],
                         ids=["if-else", "or"])
@pytest.mark.parametrize("ema", ["None", "wide"], ids=["no-ema", "ema"])
def test_yolov5s_entry_preamble_and_its_ema_or_model_choice(case, pick, ema) -> None:
    """yolov5's `ROOT = Path(os.path.relpath(ROOT, Path.cwd()))` (run from the project root), and
    the EMA weights when the checkpoint holds them, else the model's."""
    case.write("main.py", YOLO_STYLE.format(pick=pick))
    case.torch("import os, torch, torch.nn as nn\nos.makedirs('weights')\n"
               "model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 5)).state_dict()\n"
               "wide = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 6)).state_dict()\n"
               f"torch.save({{'model': model, 'ema': {ema}}}, 'weights/best.pt')")
    judged_like_pytorch(case, False, "mismatched")


SWINIR = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 8, 3))
param_key_g = "params"
pretrained_model = torch.load("w.pth")
model.load_state_dict({pick}, strict=True)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("pick", ["pretrained_model[param_key_g] if param_key_g in pretrained_model.keys() else pretrained_model",
                                  "pretrained_model if param_key_g not in pretrained_model.keys() else pretrained_model[param_key_g]"],
                         ids=["in", "not-in"])
@pytest.mark.parametrize("saved", ["{'params': sd}", "sd"], ids=["nested", "bare"])
def test_a_key_tested_in_the_checkpoints_keys(case, saved, pick, execute) -> None:
    """SwinIR's `param_key_g in pretrained_model.keys()`: the same as `in pretrained_model`."""
    case.write("main.py", SWINIR.format(pick=pick))
    case.torch("import torch, torch.nn as nn\nsd = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3)).state_dict()\n"
               f"torch.save({saved}, 'w.pth')")
    resolved_like_pytorch(case, execute, "mismatched+missing+unexpected")
