"""What a script reads of a model it holds, judged by real PyTorch in both modes: a tensor's shape
through the model's attributes (`model.head.bias.shape[0]`, `.size(0)`) deciding which checkpoint
keys a fine-tuning script deletes (DeiT's head check); and a module kept on a Trainer
(`self.model`) passed to another module's constructor (an EMA wrapper that deep-copies it under
`module.`)."""

from __future__ import annotations

import pytest
from analysis_helpers import judged_like_pytorch

HEAD_CHECK = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, num_classes)


model = Net(num_classes={n})
checkpoint_model = torch.load("w.pt")
for k in ["head.weight", "head.bias"]:
    if k in checkpoint_model and checkpoint_model[k].shape[0] != {read}:
        del checkpoint_model[k]
model.load_state_dict(checkpoint_model, strict={strict})
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("read", ["model.head.bias.shape[0]", "model.head.weight.size(0)"], ids=["shape", "size"])
@pytest.mark.parametrize(("n", "strict"), [(5, True), (3, False), (3, True)],
                         ids=["same-head", "new-head-not-strict", "new-head-strict"])
def test_a_head_deleted_when_its_shape_differs(case, n, strict, read, execute) -> None:
    case.write("main.py", HEAD_CHECK.format(n=n, read=read, strict=strict))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'body.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()}\n"
               "sd.update({'head.' + k: v for k, v in nn.Linear(8, 5).state_dict().items()})\n"
               "torch.save(sd, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected" if strict else "mismatched")


EMA = """
from copy import deepcopy

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width)


class ModelEma(nn.Module):
    def __init__(self, model, decay=0.999):
        super().__init__()
        self.module = deepcopy(model)
        self.decay = decay


class Trainer:
    def __init__(self, width):
        self.model = Net(width)
        self.model_ema = ModelEma(self.model, decay=0.99)

    def resume(self, path):
        ckpt = torch.load(path)
        self.model_ema.{target}.load_state_dict(ckpt["ema"])


Trainer({width}).resume("w.pt")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("target", ["module", "module.fc"], ids=["into-module", "into-layer"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_trainers_model_passed_to_an_ema_wrapper(case, width, target, execute) -> None:
    case.write("main.py", EMA.format(width=width, target=target))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'ema': {'module.fc.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()}}, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


BASE_PREFIX = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width)


class Classifier(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.bert = Encoder(width)
        self.classifier = nn.Linear(width, 2)


def load(model, path):
    sd = torch.load(path)
    if not hasattr(model, "bert") and any(k.startswith("bert.") for k in sd):
        sd = {{k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")}}
    model.load_state_dict(sd, strict={strict})


load({model}, "w.pt")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize(("model", "strict"), [("Encoder(3)", True), ("Classifier(3)", True), ("Encoder(5)", True),
                                               ("Classifier(5)", False)],
                         ids=["base-model", "whole-model", "base-differs", "whole-differs"])
def test_a_base_model_prefix_decided_by_hasattr(case, model, strict, execute) -> None:
    """Hugging Face's loading shape: a checkpoint of the whole model loaded into its base model
    strips the base model's prefix when the model has no attribute of that name."""
    case.write("main.py", BASE_PREFIX.format(model=model, strict=strict))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'bert.fc.' + k: v for k, v in nn.Linear(4, 3).state_dict().items()}\n"
               "sd.update({'classifier.' + k: v for k, v in nn.Linear(3, 2).state_dict().items()})\n"
               "torch.save(sd, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected" if strict else "mismatched")
