"""Classes registered by a decorator the workspace defines (mmdetection's `@MODELS.register_module()`),
built from a config dict by the registry, judged by real PyTorch in both modes. The decorator is
followed; where it gives back the class unchanged, both builders define the class without it (in
a replay the registry object is run-time state); where it changes the class, nothing is assumed."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes, resolved_like_pytorch

REGISTRY = """
class Registry:
    def __init__(self, name):
        self.name = name
        self._modules = {}

    def register_module(self, name=None, force=False):
        def _register(cls):
            key = name or cls.__name__
            if key in self._modules and not force:
                raise KeyError(f"{key} is already registered in {self.name}")
            self._modules[key] = cls
            return cls
        return _register

    def get(self, key):
        return self._modules.get(key)

    def build(self, cfg, **default_args):
        args = dict(cfg)
        obj_type = args.pop("type")
        obj_cls = self.get(obj_type) if isinstance(obj_type, str) else obj_type
        if obj_cls is None:
            raise KeyError(f"{obj_type} is not in the {self.name} registry")
        for k, v in default_args.items():
            args.setdefault(k, v)
        return obj_cls(**args)


MODELS = Registry("models")
"""

NETS = """
import torch.nn as nn

from .registry import MODELS


@MODELS.register_module()
class TinyNet(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.body = nn.Linear(4, width)
        self.head = nn.Linear(width, num_classes)


@MODELS.register_module(name="Wide")
class WideNet(TinyNet):
    def __init__(self, num_classes=10):
        super().__init__(width=16, num_classes=num_classes)
"""

MAIN = """
import torch

import models.nets  # noqa: F401  (registers the models)
from models.registry import MODELS

cfg = dict(type="{kind}", num_classes={n})


def main():
    model = MODELS.build(cfg)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


def _project(case, kind: str, n: int) -> None:
    case.write("models/__init__.py", "")
    case.write("models/registry.py", REGISTRY)
    case.write("models/nets.py", NETS)
    case.write("main.py", MAIN.format(kind=kind, n=n))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom models.nets import TinyNet\n"
               "torch.save(TinyNet(width=8, num_classes=3).state_dict(), 'w.pt')")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize(("kind", "n"), [("TinyNet", 3), ("TinyNet", 5), ("Wide", 3)],
                         ids=["matches", "head-differs", "registered-name"])
def test_a_class_registered_by_a_decorator_factory(case, kind, n, execute) -> None:
    _project(case, kind, n)
    judged_like_pytorch(case, execute, "mismatched")


def test_the_layer_line_is_in_the_registered_class(case) -> None:
    _project(case, "TinyNet", 5)
    nets = case.dir / "models" / "nets.py"
    head = nets.read_text().splitlines().index("        self.head = nn.Linear(width, num_classes)")  # 0-based, as spans
    result = analyze_alone(case, False)
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors and all((f.span.path, f.span.line) == (str(nets), head) for f in errors), \
        [(f.span.path, f.span.line) for f in errors]


CHANGING = """
import torch
import torch.nn as nn

_REGISTRY = {}


def register(cls):
    _REGISTRY[cls.__name__] = cls
    cls.width = 16
    return cls


@register
class Net(nn.Module):
    width = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, self.width)


model = _REGISTRY["Net"]()
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_decorator_that_changes_the_class_is_not_dropped(case, execute) -> None:
    """`cls.width = 16` in the decorator: defining the class without it would build an 8-wide
    layer and raise a size mismatch PyTorch does not raise (the checkpoint is 16 wide)."""
    case.write("main.py", CHANGING)
    case.torch("import torch, torch.nn as nn\ntorch.save({'fc.weight': torch.zeros(16, 4), "
               "'fc.bias': torch.zeros(16)}, 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"]
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"]


NESTED = """
import torch.nn as nn

from .registry import MODELS


@MODELS.register_module()
class Head(nn.Module):
    def __init__(self, in_channels=8, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)


@MODELS.register_module()
class Classifier(nn.Module):
    def __init__(self, width, head):
        super().__init__()
        self.backbone = nn.Linear(4, width)
        self.head = MODELS.build(head, in_channels=width)
"""

NESTED_MAIN = """
import torch

import models.nets  # noqa: F401  (registers the models)
from models.registry import MODELS

model = MODELS.build(dict(type="Classifier", width=8, head=dict(type="Head", num_classes={n})))
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [3, 5], ids=["matches", "head-differs"])
@pytest.mark.parametrize("table", ["{}", "dict()"], ids=["dict-literal", "dict-call"])
def test_a_model_that_builds_its_parts_from_the_registry(case, n, execute, table) -> None:
    """mmdetection's way: `self.head = MODELS.build(head)` inside `__init__`. The registry is
    written into the recipe as the object the decorators filled (Recipe.registries), its table
    made by a literal or by mmcv's `self._module_dict = dict()` (corpus AE01)."""
    case.write("models/__init__.py", "")
    case.write("models/registry.py", REGISTRY.replace("self._modules = {}", f"self._modules = {table}"))
    case.write("models/nets.py", NESTED)
    case.write("main.py", NESTED_MAIN.format(n=n))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nimport models.nets\nfrom models.registry import MODELS\n"
               "m = MODELS.build(dict(type='Classifier', width=8, head=dict(type='Head', num_classes=3)))\n"
               "torch.save(m.state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


FAIRSEQ_REGISTRY = """
MODEL_REGISTRY = {}


def register_model(name):
    def register_model_cls(cls):
        MODEL_REGISTRY[name] = cls
        return cls
    return register_model_cls


def build_model(args, ntok):
    return MODEL_REGISTRY[args.arch].build_model(args, ntok)
"""

FAIRSEQ_MODEL = """
import torch.nn as nn

from lm.registry import register_model


@register_model("tiny_lm")
class TinyLM(nn.Module):
    def __init__(self, args, ntok):
        super().__init__()
        self.embed = nn.Embedding(ntok, args.dim)

    @classmethod
    def build_model(cls, args, ntok):
        return cls(args, ntok)
"""

FAIRSEQ_MAIN = """
import torch

import lm

state = torch.load("ckpt.pt", weights_only=False)
args = state["args"]
model = lm.build_model(args, 12)
model.load_state_dict(state["model"])
"""


@pytest.mark.parametrize("saved_dim", [8, 6], ids=["matches", "differs"])
def test_a_package_that_imports_its_own_modules_to_register_them(case, saved_dim) -> None:
    """fairseq's shape: the package's `__init__` ends with `from . import tiny_lm`, whose decorator
    fills the registry; the model class is given the argparse namespace saved in the checkpoint
    whole (corpus W03)."""
    case.write("lm/__init__.py", "from .registry import MODEL_REGISTRY, build_model, register_model  # noqa: F401\n"
                                 "from . import tiny_lm  # noqa: E402,F401\n")
    case.write("lm/registry.py", FAIRSEQ_REGISTRY)
    case.write("lm/tiny_lm.py", FAIRSEQ_MODEL)
    case.write("main.py", FAIRSEQ_MAIN)
    case.torch("import argparse, torch\n"
               f"torch.save({{'args': argparse.Namespace(arch='tiny_lm', dim=8), 'model': {{'embed.weight': torch.zeros(12, {saved_dim})}}}},"
               " 'ckpt.pt')")
    resolved_like_pytorch(case, False, "mismatched")


DISPLAY = """
import torch
from torch import nn


class SRModel:
    def __init__(self, opt):
        self.opt = opt
        self.net_g = nn.Conv2d(3, opt["num_feat"], 3)
        self.load_network(self.net_g, "net_g.pth")

    def load_network(self, net, load_path):
        net.load_state_dict(torch.load(load_path)["params"])


def build_model(opt):
    return {"SRModel": SRModel, "Other": None}[opt["model_type"]](opt)


build_model({"model_type": "SRModel", "num_feat": 8})
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("saved", [8, 16], ids=["matches", "differs"])
def test_a_class_picked_from_a_dict_display(case, saved, execute) -> None:
    """BasicSR's `build_model` written as `{"SRModel": SRModel}[opt["model_type"]](opt)`: the class
    picked from the display is made, and its constructor's load followed."""
    case.write("main.py", DISPLAY)
    case.torch(f"import torch, torch.nn as nn\ntorch.save({{'params': nn.Conv2d(3, {saved}, 3).state_dict()}}, 'net_g.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
