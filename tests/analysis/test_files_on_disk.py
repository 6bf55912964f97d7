"""Which file a script loads, decided by what is on disk: HF's `.safetensors`-else-`.bin`
(`os.path.exists`), the newest checkpoint by name (`sorted(glob.glob(...))[-1]`,
`Path(d).glob`) or by time (`max(..., key=os.path.getmtime)`) (corpus S01, S08, S12). Answered
from the files as they are, said as an assumption; never after a `torch.save` whose path is
unknown. PyTorch is the judge, running the same script over the same files."""

from __future__ import annotations

import os

import pytest
from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes

NET = "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, n=5):\n        super().__init__()\n" \
      "        self.fc = nn.Linear(4, n)\n"

SAVE = "import sys, torch\nsys.path.insert(0, '.')\nfrom net import Net\n"

SAFE_OR_BIN = """
import os

import torch
from safetensors.torch import load_file

from net import Net


def load_weights(folder):
    safe = os.path.join(folder, "model.safetensors")
    if os.path.exists(safe):
        return load_file(safe)
    return torch.load(os.path.join(folder, "pytorch_model.bin"))


model = Net(5)
model.load_state_dict(load_weights("weights"))
"""


@pytest.mark.parametrize("files", ["safetensors", "bin", "both"])
def test_safetensors_else_bin_by_what_exists(case, files) -> None:
    """The stale `.bin` has 7 outputs, the `.safetensors` 5: which one loads depends on the disk."""
    case.write("net.py", NET)
    case.write("main.py", SAFE_OR_BIN)
    os.makedirs(case.dir / "weights")
    script = SAVE
    if files in ("bin", "both"):
        script += "torch.save(Net(7).state_dict(), 'weights/pytorch_model.bin')\n"
    if files in ("safetensors", "both"):
        script += "from safetensors.torch import save_file\nsave_file(Net(5).state_dict(), 'weights/model.safetensors')\n"
    case.torch(script)
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, pytorch_outcomes(case)["loads"][0], "mismatched")


NEWEST = """
import glob
import os
from pathlib import Path

import torch

from net import Net

out_dir = "runs"
path = {pick}
model = Net(5)
model.load_state_dict(torch.load(path))
"""

PICKS = {
    "sorted-glob": 'sorted(glob.glob(os.path.join(out_dir, "ckpt_*.pt")))[-1]',
    "path-glob": 'sorted(Path(out_dir).glob("ckpt_*.pt"))[-1]',
    "newest-by-time": 'max(glob.glob(os.path.join(out_dir, "*.pt")), key=os.path.getmtime)',
}


@pytest.mark.parametrize("newest", [5, 7], ids=["newest-matches", "newest-differs"])
@pytest.mark.parametrize("pick", sorted(PICKS))
def test_the_newest_checkpoint_found_on_disk(case, pick, newest) -> None:
    case.write("net.py", NET)
    case.write("main.py", NEWEST.format(pick=PICKS[pick]))
    older = 7 if newest == 5 else 5
    # by name the last is ckpt_0200; by time the newest is written last (its name sorts first)
    case.torch(SAVE + "import os, time\nos.makedirs('runs')\n"
               f"torch.save(Net({older}).state_dict(), 'runs/ckpt_0100.pt')\n"
               f"torch.save(Net({newest}).state_dict(), 'runs/ckpt_0200.pt')\n"
               f"torch.save(Net({newest}).state_dict(), 'runs/best.pt')\n"
               "os.utime('runs/ckpt_0100.pt', (1, 1))\nos.utime('runs/ckpt_0200.pt', (2, 2))\n")
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, pytorch_outcomes(case)["loads"][0], "mismatched")


def test_after_a_save_to_a_path_not_known_nothing_on_disk_is_assumed(case) -> None:
    case.write("net.py", NET)
    case.write("main.py", SAFE_OR_BIN.replace('model = Net(5)\n', 'model = Net(5)\n'
                                              'torch.save(model.state_dict(), os.environ["OUT"])\n'))
    os.makedirs(case.dir / "weights")
    case.torch(SAVE + "torch.save(Net(7).state_dict(), 'weights/pytorch_model.bin')\n")
    result = analyze_alone(case, False)
    messages = [f.message for f in result.findings]
    assert not [f for f in result.findings if f.severity == "error"], messages
    assert any("a `torch.save` before may write it" in m for m in messages), messages
