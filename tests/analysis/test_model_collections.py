"""Models held in a collection a comprehension makes (SpeechBrain's Pretrainer: `loadables = {k:
modules[k] for k in names}`, then `for name, obj in loadables.items(): transfer(obj, paths[name])`):
each load is judged per model, as PyTorch judges it."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes

MAIN = """
import torch
import torch.nn as nn

PATHS = {{"embedding_model": "embedding_model.ckpt", "classifier": "classifier.ckpt"}}


def transfer(obj, path):
    obj.load_state_dict(torch.load(path, map_location="cpu"), strict={strict})


def main():
    modules = {{"embedding_model": nn.Conv1d(24, 12, 1), "classifier": nn.Linear(12, 7)}}
    {pick}
    for name, obj in loadables{items}:
        transfer(obj, PATHS[name])


if __name__ == "__main__":
    main()
"""

PICKS = {
    "dict": ('loadables = {k: modules[k] for k in ["embedding_model", "classifier"]}', ".items()"),
    "list": ('loadables = [(k, modules[k]) for k in ["embedding_model", "classifier"]]', ""),
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("classes", [7, 5], ids=["matches", "differs"])
@pytest.mark.parametrize("pick", sorted(PICKS))
def test_models_picked_by_a_comprehension(case, pick, classes, strict, execute) -> None:
    case.write("main.py", MAIN.format(strict=strict, pick=PICKS[pick][0], items=PICKS[pick][1]))
    case.torch("import torch, torch.nn as nn\nsd = nn.Conv1d(24, 12, 1).state_dict()\n"
               "sd['mean_var_norm.glob_mean'] = torch.zeros(24)\ntorch.save(sd, 'embedding_model.ckpt')\n"
               f"torch.save(nn.Linear(12, {classes}).state_dict(), 'classifier.ckpt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 2, truth
    result = analyze_alone(case, execute)
    messages = [f.message for f in result.findings]
    assert result.reports and not [f for f in result.findings if f.code.startswith("unresolved")], messages
    raised = [load for load in truth["loads"] if load["raises"]]
    errors = [f for f in result.findings if f.severity == "error"]
    assert sorted(k for f in errors for k in f.keys) == \
        sorted(k for load in raised for kind in ("mismatched", "missing", "unexpected") for k in load[kind]), messages


OWN_LOADER = """
import torch
import torch.nn as nn


class InputNormalization(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("glob_mean", torch.zeros(1))

    def _load(self, path):
        stats = torch.load(path)
        self.glob_mean = stats["glob_mean"]


def transfer(obj, path):
    obj.load_state_dict(torch.load(path), strict=False)


def main():
    modules = {{"classifier": nn.Linear(2, {classes}), "norm": InputNormalization()}}
    loadables = {pick}
    for name, obj in loadables.items():
        if hasattr(obj, "_load"):
            obj._load(name + ".ckpt")
        else:
            transfer(obj, name + ".ckpt")


main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("classes", [3, 5], ids=["matches", "differs"])
@pytest.mark.parametrize("pick", ["modules", '{k: modules[k] for k in ["classifier", "norm"]}'], ids=["dict", "picked"])
def test_a_module_with_its_own_loader_is_not_given_a_state_dict(case, pick, classes, execute) -> None:
    """SpeechBrain's Pretrainer: `if hasattr(obj, "_load"): obj._load(path) else:
    torch_parameter_transfer(obj, path)`. The normalizer's class defines `_load`, so its statistics
    file never reaches `load_state_dict` (judging it there was a false size mismatch)."""
    case.write("main.py", OWN_LOADER.format(pick=pick, classes=classes))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(2, 3).state_dict(), 'classifier.ckpt')\n"
               "torch.save({'glob_mean': torch.zeros(12)}, 'norm.ckpt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    result = analyze_alone(case, execute)
    messages = [f.message for f in result.findings]
    errors = [f for f in result.findings if f.severity == "error"]
    assert sorted(k for f in errors for k in f.keys) == sorted(truth["loads"][0]["mismatched"]), messages
    assert not [f for f in result.findings if f.code.startswith("unresolved")], messages
