"""detectron2 / fvcore / fast-reid `Checkpointer._load_model`: a loop over the checkpoint's keys
that pops each key whose shape differs from the model's and records it in a list beside
(`incorrect_shapes.append((k, shape_checkpoint, shape_model))`). The list changes nothing the loop
does to the state dict; it is not known after the loop. Corpus CD; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.classifier = nn.Linear(8, classes)


model = Net({classes})
checkpoint_state_dict = torch.load("model_final.pth").pop("model")
model_state_dict = model.state_dict()
incorrect_shapes = []
for k in list(checkpoint_state_dict.keys()):
    if k in model_state_dict:
        shape_model = tuple(model_state_dict[k].shape)
        shape_checkpoint = tuple(checkpoint_state_dict[k].shape)
        if shape_model != shape_checkpoint:
            incorrect_shapes.append((k, shape_checkpoint, shape_model))
            checkpoint_state_dict.pop(k)
model.load_state_dict(checkpoint_state_dict{strict})
{after}
"""

SAVE = ("import torch, torch.nn as nn\n"
        "sd = {**{'body.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()},\n"
        "      **{'classifier.' + k: v for k, v in nn.Linear(8, 3).state_dict().items()}}\n"
        "torch.save({'model': sd}, 'model_final.pth')")


@pytest.mark.parametrize(("classes", "strict"), [(3, ""), (5, ""), (5, ", strict=False")])
def test_the_shape_filter_with_its_record(case, classes, strict) -> None:
    case.write("main.py", SCRIPT.format(classes=classes, strict=strict, after=""))
    case.torch(SAVE)
    resolved_like_pytorch(case, False, "missing" if classes != 3 and not strict else "")


def test_the_record_is_not_known_after_the_loop(case) -> None:
    """A load that reads the list after the loop is not judged from a guess of it."""
    case.write("main.py", SCRIPT.format(classes=5, strict=", strict=False", after=(
        "extra = nn.Linear(8, len(incorrect_shapes) + 1)\n"
        "extra.load_state_dict({'weight': torch.zeros(3, 8), 'bias': torch.zeros(3)})")))
    case.torch(SAVE)
    truth = pytorch_outcomes(case)
    assert [load["raises"] for load in truth["loads"]] == [False, False], truth  # (two shapes were recorded)
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
