"""Loops over a model's modules that swap layers after it is built: activations replaced by
PReLU with per-channel slopes (`for i in range(len(feats)): feats[i] = nn.PReLU(n)`), BatchNorm
replaced by GroupNorm through `named_modules()` and `setattr` on the parent. The loop is a step
of the recipe, replayed whole on the built model: its own names stay its own, the others are
written in. Each script runs with real PyTorch; the worker must agree with it. A loop in another
file than the model's constructor (a converter, a LoRA injector) is replayed with that file's
names written in."""

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


CONVERT = """
import torch.nn as nn


def to_prelu(model):
    for i in range(len(model.features)):
        if isinstance(model.features[i], nn.ReLU):
            model.features[i] = nn.PReLU()
    return model
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("saved", ["to_prelu(Net())", "Net()"], ids=["converted", "plain"])
def test_a_loop_in_a_helper_module_is_replayed_with_that_files_names(case, saved, execute) -> None:
    """A converter written in another file than the model (`to_prelu(model)`, a LoRA injector):
    replayed with that file's names (`nn` of its imports) written in."""
    case.write("convert.py", CONVERT)
    case.write("main.py", NET + "\nfrom convert import to_prelu\n\nmodel = to_prelu(Net())\n"
                                "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch(NET + f"\nimport sys\nsys.path.insert(0, '.')\nfrom convert import to_prelu\n"
                     f"torch.save({saved}.state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "missing+unexpected")


LORA = """
import torch
import torch.nn as nn


class LoRALinear(nn.Module):
    def __init__(self, base, r):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.zeros(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))


def inject_lora(model, r):
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, child_name, LoRALinear(child, r))
    return model
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("rank", [4, 8], ids=["matches", "other-rank"])
def test_lora_injected_by_a_helper_module(case, rank, execute) -> None:
    case.write("lora.py", LORA)
    case.write("main.py", "import torch\nimport torch.nn as nn\n\nfrom lora import inject_lora\n\n"
                          f"model = inject_lora(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), {rank})\n"
                          "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import sys, torch, torch.nn as nn\nsys.path.insert(0, '.')\nfrom lora import inject_lora\n"
               "torch.save(inject_lora(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), 4).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


REGISTERED_LORA = """
import torch
import torch.nn as nn


def inject_lora(model, r):
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            module.register_parameter("lora_A", nn.Parameter(torch.zeros(r, module.in_features)))
            module.register_parameter("lora_B", nn.Parameter(torch.zeros(module.out_features, r)))
    return model
"""


def test_parameters_a_helper_registers_in_a_loop_are_on_their_own_lines(case) -> None:
    """LoRA tensors added by `register_parameter` in an injector in another file: each mismatched
    key is reported on the line that registers it, in that file (corpus U02)."""
    case.write("lora.py", REGISTERED_LORA)
    case.write("main.py", "import torch\nimport torch.nn as nn\n\nfrom lora import inject_lora\n\n"
                          "model = inject_lora(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), 4)\n"
                          "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import sys, torch, torch.nn as nn\nsys.path.insert(0, '.')\nfrom lora import inject_lora\n"
               "torch.save(inject_lora(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), 8).state_dict(), 'w.pt')")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "lora.py").read_text().splitlines()
    a, b = (next(i for i, t in enumerate(lines) if f'"lora_{x}"' in t) for x in "AB")
    where = {k: (f.span.path.rsplit("/", 1)[-1], f.span.line)
             for f in analyze_alone(case, True).findings if f.severity == "error" for k in f.keys}
    assert where == {f"{i}.lora_{x}": ("lora.py", a if x == "A" else b) for i in (0, 2) for x in "AB"}, where
