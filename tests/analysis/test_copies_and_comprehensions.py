"""Values built by comprehensions and copies, as real scripts build them: constructor keywords
picked from a JSON config by a dict comprehension inside a function (`Net(**{k: config[k] for k
in KEYS})`), and `dict(ckpt["model"])`, a copy of a state dict that drops its `_metadata` (so
BatchNorm fills in a deleted `num_batches_tracked`, where the original dict reports it missing).
Sizes counted over the checkpoint's keys (CLIP's `len([k for k in sd.keys() if ...])`).
Each script runs with real PyTorch; the tool must agree, in both modes."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes

SPREAD = """
import json

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, i=4, o=12):
        super().__init__()
        self.fc = nn.Linear(i, o)


def main():
    with open("config.json") as f:
        config = json.load(f)
    net = Net(**{{k: config[k] for k in ("i", "o")}})
    net.load_state_dict(torch.load("w.pt"))


main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("o", [12, 35], ids=["matches", "differs"])
def test_keywords_picked_by_a_comprehension(case, o, execute) -> None:
    case.write("main.py", SPREAD.format())
    case.write("config.json", f'{{"i": 4, "o": {o}, "lr": 0.1}}')
    case.torch("import torch, torch.nn as nn; torch.save({'fc.' + k: v for k, v in nn.Linear(4, 12).state_dict().items()}, "
               "'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


COPY = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
sd = {copy}
sd.pop("1.num_batches_tracked")
model.load_state_dict(sd)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("copy", ['dict(torch.load("w.pt")["model"])', 'torch.load("w.pt")["model"]'],
                         ids=["copied", "original"])
def test_a_dict_copy_of_a_nested_state_dict(case, copy, execute) -> None:
    case.write("main.py", COPY.format(copy=copy))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'model': nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)).state_dict()}, 'w.pt')")
    judged_like_pytorch(case, execute, "missing")
    result = analyze_alone(case, execute)
    assert all(f.severity == "error" for f in result.findings), [f.message for f in result.findings]


FROM_KEYS = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, layers, width):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(layers)])


def build_model(state_dict):
    width = state_dict["blocks.0.weight"].shape[0]
    layers = len([k for k in state_dict.keys() if k.startswith("blocks.") and k.endswith(".weight")])
    model = Net(layers{extra}, width)
    model.load_state_dict(state_dict)
    return model


build_model(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("extra", ["", " + 1"], ids=["matches", "differs"])
def test_sizes_counted_over_the_checkpoints_keys(case, extra, execute) -> None:
    """CLIP's `build_model(state_dict)`: a layer count is `len([k for k in state_dict.keys() if
    ...])`, over the keys the file holds (read, never run)."""
    case.write("main.py", FROM_KEYS.format(extra=extra))
    case.torch(FROM_KEYS.split("\n\ndef build_model")[0] + "\n\ntorch.save(Net(3, 4).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "missing")


OR_CHECKPOINT = """
import torch

ckpt = torch.load("w.pt")
train_opt = ckpt.get("opt", {{}})
out = {given} or train_opt["out"]  # yolov5's val.py: `opt.cfg or ckpt["opt"]["cfg"]`
model = torch.nn.Linear(4, out + 1)
model.load_state_dict(ckpt["model"])
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("given", ["0", "None", "''"])
def test_a_value_or_the_checkpoints_own(case, given, execute) -> None:
    """`x or ckpt["opt"]["out"]`: the last operand is the value whatever its truth."""
    case.write("main.py", OR_CHECKPOINT.format(given=given))
    case.torch("import torch; torch.save({'model': torch.nn.Linear(4, 6).state_dict(), 'opt': {'out': 5}}, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


PAIRS = """
import re
from collections import OrderedDict

import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, {out}))
sd = torch.load("w.pt")
sd = {pairs}
model.load_state_dict(sd)
"""


@pytest.mark.parametrize("out", [3, 5], ids=["matches", "differs"])
@pytest.mark.parametrize("pairs", [
    "OrderedDict((k[7:], v) for k, v in sd.items())",
    "dict((k.replace('module.', '', 1), v) for k, v in sd.items())",
    "OrderedDict([(re.sub(r'^module\\\\.', '', k), v) for k, v in sd.items()])",
], ids=["ordered-dict-slice", "dict-replace", "ordered-dict-re-sub-list"])
def test_a_prefix_strip_written_as_key_value_pairs(case, pairs, out) -> None:
    """mmcv's `revise_keys` and the usual `module.` strip build the dict from (key, value) pairs."""
    case.write("main.py", PAIRS.format(out=out, pairs=pairs))
    case.torch("import torch, torch.nn as nn\nm = nn.DataParallel(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), "
               "nn.Linear(8, 3)))\ntorch.save(m.state_dict(), 'w.pt')")
    judged_like_pytorch(case, False, "mismatched+missing+unexpected")


FIRST_KEY = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
sd = torch.load("w.pt")
if next(iter(sd.items()))[0].startswith("module"):
    sd = {k[len("module."):]: v for k, v in sd.items()}
model.load_state_dict(sd)
"""


@pytest.mark.parametrize("saved", ["nn.DataParallel(net)", "net"], ids=["data-parallel", "bare"])
def test_the_first_key_decides_the_strip(case, saved) -> None:
    """open_clip's test of a checkpoint's first key."""
    case.write("main.py", FIRST_KEY)
    case.torch(f"import torch, torch.nn as nn\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5))\n"
               f"torch.save({saved}.state_dict(), 'w.pt')")
    judged_like_pytorch(case, False, "mismatched+missing+unexpected")


INTERSECT = """
import torch
import torch.nn as nn


def intersect_dicts(da, db, exclude=()):
    return {{k: v for k, v in da.items() if k in db and all(x not in k for x in exclude) and v.shape == db[k].shape}}


model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
csd = torch.load("w.pt")
csd = intersect_dicts(csd, model.state_dict(), exclude={exclude})
model.load_state_dict(csd, strict={strict})
"""


@pytest.mark.parametrize("exclude", ["['2.']", "[]", "['0.', 'bias']"], ids=["head", "nothing", "two-patterns"])
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_a_key_filter_with_a_generator_expression(case, exclude, strict) -> None:
    """YOLOv5's `intersect_dicts`: `all(x not in k for x in exclude)` in a key filter, the keys
    it drops missing from the load (corpus X11)."""
    case.write("main.py", INTERSECT.format(exclude=exclude, strict=strict))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).state_dict(), 'w.pt')")
    (load,) = pytorch_outcomes(case)["loads"]
    result = analyze_alone(case, False)
    assert bool([f for f in result.findings if f.severity == "error"]) == load["raises"]
    assert sorted(k for f in result.findings if f.code == "missing-keys" for k in f.keys) == sorted(load["missing"]), \
        [f.message for f in result.findings]
