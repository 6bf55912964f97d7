"""A model class named by a string and imported with `importlib` (stable-diffusion's
`instantiate_from_config`: `target: ldm.models.Net` in a YAML file): followed into the
workspace module, built there, its layers located on their own lines. Judged by real PyTorch,
in both modes."""

from __future__ import annotations

import pytest

from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width=4, depth=1):
        super().__init__()
        self.blocks = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])
        self.head = nn.Linear(width, 2)
"""

UTIL = """
import importlib


def get_obj_from_str(string, reload=False):
    module, cls = string.rsplit(".", 1)
    if reload:
        importlib.reload(importlib.import_module(module))
    return getattr(importlib.import_module(module, package=None), cls)


def instantiate_from_config(config):
    if "target" not in config:
        raise KeyError("Expected key `target` to instantiate.")
    return get_obj_from_str(config["target"])(**config.get("params", dict()))
"""

MAIN = """
import torch
from omegaconf import OmegaConf

from ldm.util import instantiate_from_config


def load_model_from_config(config, ckpt):
    sd = torch.load(ckpt)["state_dict"]
    model = instantiate_from_config(config.model)
    model.load_state_dict(sd)
    return model


config = OmegaConf.load("configs/model.yaml")
model = load_model_from_config(config, "model.ckpt")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_class_named_in_yaml_and_imported_by_importlib(case, width, execute) -> None:
    case.write("ldm/__init__.py", "")
    case.write("ldm/models/__init__.py", "")
    case.write("ldm/models/net.py", NET)
    case.write("ldm/util.py", UTIL)
    case.write("configs/model.yaml", f"model:\n  target: ldm.models.net.Net\n  params:\n    width: {width}\n"
                                     "    depth: 2\n")
    case.write("main.py", MAIN)
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom ldm.models.net import Net\n"
               "torch.save({'state_dict': Net(width=8, depth=2).state_dict()}, 'model.ckpt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1
    result = analyze_alone(case, execute)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    for finding in result.findings:  # each layer on its own line of net.py, not on the call
        assert finding.span.path.endswith("net.py"), (finding.span, finding.message)


def test_a_module_outside_the_workspace_stays_unknown(case) -> None:
    case.write("main.py", """
import importlib

import torch

cls = getattr(importlib.import_module("somewhere_else.models"), "Net")
model = cls(width=4)
model.load_state_dict(torch.load("model.ckpt"))
""")
    case.torch("import torch\ntorch.save({}, 'model.ckpt')")
    (report,) = analyze_alone(case, execute=False).reports
    assert report.how is None


BY_NAME = """
import importlib

import torch


def get_model(name, **kwargs):
    module = importlib.import_module(f"models.{{name}}")
    cls_name = "".join(part.capitalize() for part in name.split("_"))
    return getattr(module, cls_name)(**kwargs)


model = get_model("tiny_net", width={width})
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_class_name_made_from_the_module_name(case, width, execute) -> None:
    """`tiny_net` -> `models/tiny_net.py:TinyNet`, the name built with `str.capitalize()`."""
    case.write("models/__init__.py", "")
    case.write("models/tiny_net.py", NET.replace("class Net(", "class TinyNet("))
    case.write("main.py", BY_NAME.format(width=width))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom models.tiny_net import TinyNet\n"
               "torch.save(TinyNet(width=8).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    agrees_with_pytorch(analyze_alone(case, execute), truth["loads"][0], "mismatched")


GLOBALS_FACTORY = """
import torch
import torch.nn as nn


class TinyNet(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.fc = nn.Linear(4, width)


def tiny_net(**kwargs):
    return TinyNet(**kwargs)


def create_model(name, **kwargs):
    return globals()[name](**kwargs)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_factory_that_looks_its_model_up_in_globals(case, width, execute) -> None:
    """DeiT-style `create_model(name, **kwargs)` returning `globals()[name](**kwargs)`, in a
    module the script imports."""
    case.write("models.py", GLOBALS_FACTORY)
    case.write("main.py", f"import torch\nfrom models import create_model\n\nmodel = create_model('tiny_net', "
                          f"width={width})\nmodel.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom models import TinyNet\n"
               "torch.save(TinyNet(8).state_dict(), 'w.pt')")
    agrees_with_pytorch(analyze_alone(case, execute), pytorch_outcomes(case)["loads"][0], "mismatched")


VARS_MAIN = """
import importlib

import torch
import torch.nn as nn


def load_config(path):
    module = importlib.import_module(path[:-3].replace("/", "."))
    return {k: v for k, v in vars(module).items() if not k.startswith("_")}


cfg = load_config("configs/tiny.py")
model = nn.Linear(cfg["in_dim"], cfg["num_classes"])
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("classes", [19, 10], ids=["matches", "differs"])
def test_a_config_module_read_with_vars(case, classes) -> None:
    """mmseg-style `vars(importlib.import_module(...))` of a Python config file (corpus AJ02)."""
    case.write("main.py", VARS_MAIN)
    case.write("configs/__init__.py", "")
    case.write("configs/tiny.py", f"import os\n\nin_dim = 8\nnum_classes = {classes}\n_hidden = 3\n")
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(8, 19).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
