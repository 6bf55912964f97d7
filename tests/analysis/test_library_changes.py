"""torch's own functions that change which tensors a model's state_dict() holds, called on the
model before the load: pruning (`weight_orig` + `weight_mask` instead of `weight`), written on
each layer, in a loop over a tuple of layers, or as `prune.global_unstructured` in a helper
module. Ignoring the call was a false alarm on a clean load (corpus Q05: resuming iterative
pruning). The call is a step of the model's recipe: the worker runs it (a step that needs the
weights' values is run on a small model's real tensors), static inference says it cannot.
PyTorch is the judge."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(16, 8)
        self.head = nn.Linear(8, 3)
"""

PRUNING = """
import torch.nn as nn
import torch.nn.utils.prune as prune


def prunable(model):
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not model.head]


def prune_globally(model, amount):
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=amount)
"""

HEAD = "import torch\nimport torch.nn.utils.prune as prune\n\nfrom net import Net\nfrom pruning import prune_globally\n"

PRUNED_BEFORE_LOAD = {
    "each-layer": 'prune.l1_unstructured(model.conv, name="weight", amount=0.2)\n'
                  'prune.l1_unstructured(model.fc, name="weight", amount=0.2)\n',
    "tuple-loop": 'for layer in (model.conv, model.fc):\n    prune.l1_unstructured(layer, name="weight", amount=0.2)\n',
    "global-helper": "prune_globally(model, 0.2)\n",
}

SAVE = """
import sys
import torch
import torch.nn.utils.prune as prune
sys.path.insert(0, ".")
from net import Net
model = Net()
if {pruned}:
    for layer in (model.conv, model.fc):
        prune.random_unstructured(layer, name="weight", amount=0.3)
torch.save(model.state_dict(), "w.pt")
"""


def _write(case, how: str, pruned: bool) -> None:
    case.write("net.py", NET)
    case.write("pruning.py", PRUNING)
    case.write("main.py", HEAD + "\nmodel = Net()\n" + PRUNED_BEFORE_LOAD[how] +
               'model.load_state_dict(torch.load("w.pt"))\n')
    case.torch(SAVE.format(pruned=pruned))


@pytest.mark.parametrize("pruned", [True, False], ids=["pruned-checkpoint", "dense-checkpoint"])
@pytest.mark.parametrize("how", sorted(PRUNED_BEFORE_LOAD))
def test_a_model_pruned_before_the_load_is_judged_pruned(case, how, pruned) -> None:
    _write(case, how, pruned)
    judged_like_pytorch(case, True, "missing+unexpected")


@pytest.mark.parametrize("how", sorted(PRUNED_BEFORE_LOAD))
def test_static_inference_does_not_take_a_pruning_call_as_no_change(case, how) -> None:
    _write(case, how, True)
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, False)
    messages = [f.message for f in result.findings]
    assert not [f for f in result.findings if f.severity == "error"], messages
    assert any("prune" in m and f.code.startswith("unresolved") for f, m in zip(result.findings, messages)), messages


def test_a_library_function_that_only_reads_the_model_changes_nothing(case) -> None:
    """`nn.init` on a layer's weight and `clip_grad_norm_` keep the model judged statically."""
    case.write("net.py", NET)
    case.write("main.py", "import torch\nimport torch.nn as nn\n\nfrom net import Net\n\nmodel = Net()\n"
                          "nn.init.zeros_(model.fc.weight)\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
                          'model.load_state_dict(torch.load("w.pt"))\n')
    case.torch(SAVE.format(pruned=True))
    judged_like_pytorch(case, False, "missing+unexpected")


VALUES_AT_CONSTRUCTION = """
import numpy as np
import torch
import torch.nn as nn


class Diffusion(nn.Module):
    def __init__(self, timesteps, width={width}):
        super().__init__()
        betas = torch.linspace(1e-4, 2e-2, timesteps, dtype=torch.float64).numpy()
        alphas_cumprod = np.cumprod(1.0 - betas)
        self.register_buffer("alphas_cumprod", torch.tensor(alphas_cumprod, dtype=torch.float32))
        self.net = nn.Linear(4, width)


model = Diffusion(100)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_constructor_that_needs_tensor_values_is_built_on_the_cpu(case, width) -> None:
    """latent diffusion's `register_schedule` computes with `.numpy()`, which a meta tensor
    cannot give: the worker makes the (small) model again with real tensors."""
    case.write("main.py", VALUES_AT_CONSTRUCTION.format(width=width))
    case.torch("import sys, torch\nsys.argv = ['x']\nexec(open('main.py').read().split('model = ')[0].replace('{width}', '8'))\n"
               "torch.save(Diffusion(100, 8).state_dict(), 'w.pt')")
    judged_like_pytorch(case, True, "mismatched")


def test_a_large_model_is_not_made_again_on_the_cpu(case) -> None:
    """The CPU build is capped (2 GiB more): a model too large to make fails, said, and the
    server's worker stays usable."""
    case.write("main.py", VALUES_AT_CONSTRUCTION.format(width=8).replace("nn.Linear(4, width)", "nn.Linear(40000, 40000)"))
    case.torch("import torch\ntorch.save({}, 'w.pt')")
    result = analyze_alone(case, True)
    messages = [f.message for f in result.findings]
    assert not [f for f in result.findings if f.severity == "error"], messages
    assert any("exceeded the memory cap" in m for m in messages), messages
