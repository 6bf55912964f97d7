"""A loop over a list of a state dict's keys that copies items into another dict (VideoMAE's
fine-tuning script: `all_keys = list(checkpoint_model.keys())`, then `for key in all_keys:
new_dict[key[9:]] = checkpoint_model[key]`) is the items loop it is; a key loop that changes the
state dict and fills another dict beside it leaves the other dict not known (it was followed for
the state dict alone, and the other dict was taken as empty: a false `missing-keys`). Corpus CB,
truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

COPY = """
from collections import OrderedDict

import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, {n}))
checkpoint_model = torch.load("ckpt.pth", map_location="cpu")["model"]
all_keys = {keys}
new_dict = OrderedDict()
for key in all_keys:
    if key.startswith("backbone."):
        new_dict[key[9:]] = checkpoint_model[key]
    else:
        new_dict[key] = checkpoint_model[key]
model.load_state_dict(new_dict{strict})
"""

SAVE = ("import torch, torch.nn as nn\n"
        "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
        "torch.save({{'model': {{{rename}: v for k, v in m.state_dict().items()}}}}, 'ckpt.pth')")

KEYS = {"list-keys": "list(checkpoint_model.keys())", "sorted": "sorted(checkpoint_model)",
        "tuple-keys": "tuple(checkpoint_model.keys())"}
CASES = [(keys, n, strict, prefixed) for keys in KEYS for n, strict, prefixed in
         ((3, "", True), (5, ", strict=False", True), (3, "", False))]


@pytest.mark.parametrize(("keys", "n", "strict", "prefixed"), CASES)
def test_a_copy_over_a_list_of_keys_is_followed(case, keys, n, strict, prefixed) -> None:
    case.write("main.py", COPY.format(keys=KEYS[keys], n=n, strict=strict))
    case.torch(SAVE.format(rename="'backbone.' + k" if prefixed else "k"))
    resolved_like_pytorch(case, False, "mismatched" if n != 3 else "")


FILL = """
import torch
import torch.nn as nn

model = nn.Linear(4, 3)
sd = torch.load("ckpt.pth", map_location="cpu")
kept = {}
for k in list(sd.keys()):
    if k.startswith("module."):
        kept[k[7:]] = sd.pop(k)
model.load_state_dict(kept)
"""


def test_a_dict_filled_beside_a_key_loop_is_not_known(case) -> None:
    case.write("main.py", FILL)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'module.' + k: v for k, v in nn.Linear(4, 3).state_dict().items()}, 'ckpt.pth')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth  # (PyTorch loads it)
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
    assert any(f.code == "unresolved-checkpoint" and "`kept` is changed in the loop" in f.message
               for f in result.findings), [f.message for f in result.findings]


PAIRS = """
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, {n}))
checkpoint = torch.load("ckpt.pth", map_location="cpu")
checkpoint = checkpoint["state_dict"]
base_dict = {{".".join(k.split(".")[1:]): v for k, v in {wrap}(checkpoint.items())}}
net.load_state_dict(base_dict)
"""


@pytest.mark.parametrize("wrap", ["list", "sorted", "tuple"])
@pytest.mark.parametrize("n", [3, 6])
def test_a_comprehension_over_a_list_of_items(case, wrap, n) -> None:
    """TSM's `test_models.py`: the `module.` prefix dropped over `list(checkpoint.items())`."""
    case.write("main.py", PAIRS.format(wrap=wrap, n=n))
    case.torch("import torch, torch.nn as nn\n"
               "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
               "torch.save({'state_dict': {'module.' + k: v for k, v in m.state_dict().items()}}, 'ckpt.pth')")
    resolved_like_pytorch(case, False, "mismatched" if n != 3 else "")


RENAME_OVER_COPY = """
import torch
import torch.nn as nn

model = nn.Sequential()
model.add_module("model", nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, {n})))
model.add_module("head", nn.Linear({n}, 2))
state_dict = torch.load("ckpt.pth")
for key, val in state_dict.copy().items():
    val = state_dict.pop(key)
    if not key.startswith("head"):
        state_dict["model." + key] = val
    else:
        state_dict[key] = val
model.load_state_dict(state_dict)
"""


@pytest.mark.parametrize("n", [3, 5])
def test_a_rename_over_a_copy_of_the_items(case, n) -> None:
    """TrOCR's conversion script: `for key, val in state_dict.copy().items(): val = state_dict.pop(key)`."""
    case.write("main.py", RENAME_OVER_COPY.format(n=n))
    case.torch("import torch, torch.nn as nn\n"
               "body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
               "torch.save({**body.state_dict(), **{'head.' + k: v for k, v in nn.Linear(3, 2).state_dict().items()}},"
               " 'ckpt.pth')")
    resolved_like_pytorch(case, False, "mismatched" if n != 3 else "")
