"""The keys of a state dict taken as a list (`list(self.network.state_dict().keys())`) and read in a
loop that rebuilds the checkpoint's dict: nnU-Net's `load_checkpoint_ram` strips `module.` only
from keys the model does not have. Judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

TRAINER = """
from collections import OrderedDict

import torch
import torch.nn as nn


class Trainer:
    def __init__(self):
        self.network = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    def load_checkpoint(self, fname):
        checkpoint = torch.load(fname, map_location="cpu")
        new_state_dict = OrderedDict()
        curr_state_dict_keys = {keys}
        for k, value in checkpoint["state_dict"].items():
            key = k
            if key not in curr_state_dict_keys and key.startswith("module."):
                key = key[7:]
            new_state_dict[key] = value
        self.network.load_state_dict(new_state_dict)


Trainer().load_checkpoint("model_final_checkpoint.model")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("keys", ["list(self.network.state_dict().keys())", "sorted(self.network.state_dict())",
                                  "tuple(self.network.state_dict())"], ids=["list", "sorted", "tuple"])
@pytest.mark.parametrize("saved", ["module.", "", "module.module."], ids=["wrapped", "bare", "twice"])
@pytest.mark.parametrize("width", [3, 5], ids=["matches", "differs"])
def test_keys_of_the_model_read_in_a_key_loop(case, width, saved, keys, execute) -> None:
    case.write("main.py", TRAINER.format(keys=keys))
    case.torch("import torch, torch.nn as nn\n"
               f"net = nn.Sequential(nn.Linear(4, {width}), nn.ReLU(), nn.Linear({width}, 2))\n"
               f"torch.save({{'state_dict': {{{saved!r} + k: v for k, v in net.state_dict().items()}}}}, "
               "'model_final_checkpoint.model')")
    resolved_like_pytorch(case, execute, "mismatched+missing+unexpected")


RWKV = """
import types

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.emb = nn.Embedding(20, args.n_embd)
        self.blocks = nn.Sequential(*[nn.Linear(args.n_embd, args.n_embd) for _ in range({layers})])


args = types.SimpleNamespace(n_embd=1024, n_layer=24)
w = torch.load("model.pth", map_location="cpu")
args.n_embd = w["emb.weight"].shape[1]
n_layer = 0
for x in list(w.keys()):
    layer_id = int(x.split(".")[1]) if ("blocks." in x) else 0
    n_layer = max(n_layer, layer_id + 1)
args.n_layer = n_layer
Net(args).load_state_dict(w)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("layers", ["args.n_layer", 'getattr(args, "n_layer", 3)', 'getattr(args, "n_layer", 2)'],
                         ids=["attribute", "getattr-right-default", "getattr-wrong-default"])
def test_a_name_a_key_loop_sets_is_not_taken_from_before_it(case, layers, execute) -> None:
    """RWKV counts its layers from the checkpoint's keys in a loop over them: the count is not
    the value before the loop (0 layers: a false `unexpected-keys`), nor a `getattr` default."""
    case.write("main.py", RWKV.format(layers=layers))
    case.torch("import torch, torch.nn as nn\nm = nn.Module()\nm.emb = nn.Embedding(20, 12)\n"
               "m.blocks = nn.Sequential(*[nn.Linear(12, 12) for _ in range(3)])\ntorch.save(m.state_dict(), 'model.pth')")
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, execute)
    assert not [f.message for f in result.findings if f.severity in ("error", "warning")]
    assert any(f.code.startswith("unresolved") for f in result.findings), [f.message for f in result.findings]


FILTERED_BY_LIST = """
import torch
import torch.nn as nn


class Trainer:
    def __init__(self):
        self.network = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))

    def load(self, path):
        sd = torch.load(path)
        keys = list(self.network.state_dict().keys())
        for k in list(keys):
            if k.startswith("1."):
                sd.pop(k)
        self.network.load_state_dict(sd)


Trainer().load("w.pt")
"""


def test_a_loop_over_a_copy_of_a_key_list_is_no_loop_over_a_state_dict(case) -> None:
    """`for k in list(keys): ... sd.pop(k)` walks a list of the model's keys and changes another
    dict: not taken for a loop changing `keys` (which left `sd` whole: a clean load, where PyTorch
    raises for the two keys popped)."""
    case.write("main.py", FILTERED_BY_LIST)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict(), 'w.pt')")
    assert pytorch_outcomes(case)["loads"][0]["raises"]
    result = analyze_alone(case, True)
    assert [f for f in result.findings if f.severity == "error" or f.code.startswith("unresolved")], \
        "taken as a clean load"
