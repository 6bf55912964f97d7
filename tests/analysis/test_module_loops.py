"""Loops over a model's modules that swap layers after it is built: activations replaced by
PReLU with per-channel slopes (`for i in range(len(feats)): feats[i] = nn.PReLU(n)`), BatchNorm
replaced by GroupNorm through `named_modules()` and `setattr` on the parent. The loop is a step
of the recipe, replayed whole on the built model: its own names stay its own, the others are
written in. Each script runs with real PyTorch; the worker must agree with it. A loop the recipe
cannot replay (in another file than the model's constructor) leaves the load unresolved."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone, judged_like_pytorch

NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(2, 4, 1), nn.BatchNorm1d(4), nn.ReLU(),
                                      nn.Conv1d(4, 6, 1), nn.BatchNorm1d(6), nn.ReLU())
        self.head = nn.Linear(6, 3)
"""

PRELU = NET + """

def use_prelu(model, per_channel={per_channel}):
    feats = model.features
    for i in range(len(feats)):
        if isinstance(feats[i], nn.ReLU):
            n = feats[i - 1].num_features if per_channel else 1
            feats[i] = nn.PReLU(num_parameters=n)
    return model


def main():
    model = use_prelu(Net())
    model.load_state_dict(torch.load("w.pt"))


main()
"""

GROUP_NORM = NET + """

def group_norm_everywhere(model, groups={groups}):
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.BatchNorm1d):
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, attr, nn.GroupNorm(min(groups, module.num_features), module.num_features))
    return model


model = group_norm_everywhere(Net())
model.load_state_dict(torch.load("w.pt"))
"""

SAVE_PRELU = NET + """
m = Net()
for i in (2, 5):
    m.features[i] = nn.PReLU(m.features[i - 1].num_features)
torch.save(m.state_dict(), "w.pt")
"""

SAVE_GROUP_NORM = NET + """
m = Net()
m.features[1] = nn.GroupNorm(2, 4)
m.features[4] = nn.GroupNorm(2, 6)
torch.save(m.state_dict(), "w.pt")
"""


@pytest.mark.parametrize("per_channel", [True, False], ids=["matches", "differs"])
def test_activations_swapped_in_a_loop(case, per_channel) -> None:
    case.write("main.py", PRELU.format(per_channel=per_channel))
    case.torch(SAVE_PRELU)
    judged_like_pytorch(case, True, "mismatched")


@pytest.mark.parametrize("groups", [2, 1], ids=["matches", "same-keys"])
def test_batch_norm_swapped_for_group_norm_through_named_modules(case, groups) -> None:
    case.write("main.py", GROUP_NORM.format(groups=groups))
    case.torch(SAVE_GROUP_NORM)
    judged_like_pytorch(case, True, "missing+unexpected")


def test_a_swap_the_saved_model_did_not_have(case) -> None:
    """The checkpoint keeps BatchNorm's statistics: the GroupNorm model does not have them."""
    case.write("main.py", GROUP_NORM.format(groups=2))
    case.torch(NET + "\ntorch.save(Net().state_dict(), 'w.pt')")
    judged_like_pytorch(case, True, "missing+unexpected")


def test_a_loop_in_another_file_is_not_replayed(case) -> None:
    case.write("convert.py", "import torch.nn as nn\n\n\ndef to_prelu(model):\n"
                             "    for i in range(len(model.features)):\n"
                             "        if isinstance(model.features[i], nn.ReLU):\n"
                             "            model.features[i] = nn.PReLU()\n    return model\n")
    case.write("main.py", NET + "\nfrom convert import to_prelu\n\nmodel = to_prelu(Net())\n"
                                "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch(NET + "\ntorch.save(Net().state_dict(), 'w.pt')")
    result = analyze_alone(case, True)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]
    assert "in a loop over its modules" in " ".join(f.message for f in result.findings)
