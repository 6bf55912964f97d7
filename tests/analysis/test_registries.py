"""Model registries as real projects write them, judged by real PyTorch in both modes: a timm-style
package whose `__init__.py` star-imports the model files, each registering its builders with a
decorator that fills a dict; an argparse namespace spread into a dict literal; a config read from
JSON spread into a call; a parser made by a helper and parsed in one chain; a module made in a
function and passed to a model's constructor."""

from __future__ import annotations

import pytest
from analysis_helpers import (
    agrees_with_pytorch,
    analyze_alone,
    judged_like_pytorch,
    pytorch_outcomes,
    save_layers,
)

REGISTRY = """
_model_entrypoints = {}


def register_model(fn):
    if fn.__name__ in _model_entrypoints:
        raise ValueError(f"{fn.__name__} is registered twice")
    _model_entrypoints[fn.__name__] = fn
    return fn


def create_model(model_name, pretrained=False, **kwargs):
    if model_name not in _model_entrypoints:
        raise RuntimeError(f"Unknown model ({model_name})")
    return _model_entrypoints[model_name](pretrained=pretrained, **kwargs)
"""

TINY = """
import torch.nn as nn

from .registry import register_model

__all__ = ["TinyNet"]


class TinyNet(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.stem = nn.Linear(4, width)
        self.head = nn.Linear(width, num_classes)


def _create(variant, pretrained=False, **kwargs):
    return TinyNet(**kwargs)


@register_model
def tiny_net(pretrained=False, **kwargs):
    return _create("tiny_net", pretrained=pretrained, **dict(dict(width=8), **kwargs))


@register_model
def wide_net(pretrained=False, **kwargs):
    return _create("wide_net", pretrained=pretrained, **dict(dict(width=16), **kwargs))
"""

MAIN = """
import argparse

import torch

import models


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="{name}")
    parser.add_argument("--num-classes", type=int, default=3)
    args = parser.parse_args()
    model = models.create_model(args.model, num_classes=args.num_classes)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("name", ["tiny_net", "wide_net"], ids=["matches", "differs"])
def test_a_registry_filled_by_a_decorator(case, name, execute) -> None:
    case.write("models/__init__.py", "from .registry import create_model, register_model\nfrom .tiny import *\n")
    case.write("models/registry.py", REGISTRY)
    case.write("models/tiny.py", TINY)
    case.write("main.py", MAIN.format(name=name))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom models.tiny import TinyNet\n"
               "torch.save(TinyNet(width=8, num_classes=3).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1
    result = analyze_alone(case, execute)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert all(f.span.path.endswith("tiny.py") for f in result.findings if f.severity == "error")


SHAPES = {
    "vars-in-dict": """
import argparse
extra = argparse.Namespace(n_in=4, n_out={n})
d = {{**vars(extra), "bias": True}}
model = nn.Linear(d["n_in"], d["n_out"], bias=d["bias"])
""",
    "json-spread": """
import json


def make(n_in=4, n_out=7):
    return nn.Linear(n_in, n_out)


with open("config.json") as f:
    cfg = json.load(f)
model = make(**cfg)
""",
    "chained-parser": """
import argparse


def get_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-out", type=int, default={n})
    return parser


args = get_parser().parse_args()
model = nn.Linear(4, args.n_out)
""",
    "module-into-constructor": """
class Probe(nn.Module):
    def __init__(self, encoder, n_out):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(n_out, 2)


def build():
    enc = nn.Linear(4, {n})
    return Probe(enc, {n})


probe = build()
model = probe.encoder
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [3, 5], ids=["matches", "differs"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_config_and_module_shapes(case, shape, n, execute) -> None:
    case.write("main.py", "import torch\nimport torch.nn as nn\n" + SHAPES[shape].format(n=n)
               + 'model.load_state_dict(torch.load("w.pt"))\n')
    (case.dir / "config.json").write_text(f'{{"n_out": {n}}}')
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 3).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


HEAD_IN_HELPER = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.fc = nn.Linear(8, 1000)


def build(num_classes):
    model = Net()
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


model = build({n})
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [3, 5], ids=["matches", "differs"])
def test_a_head_replaced_in_a_helper_through_the_models_own_name(case, n, execute) -> None:
    """`model.fc = nn.Linear(model.fc.in_features, num_classes)`: the step changes the model
    itself (once written in as a new model, so the step changed a copy: a false alarm)."""
    case.write("main.py", HEAD_IN_HELPER.format(n=n))
    save_layers(case, body="nn.Linear(4, 8)", fc="nn.Linear(8, 3)")
    judged_like_pytorch(case, execute, "mismatched")


PARTIALS = """
import argparse
from functools import partial

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, hidden, norm_layer=None):
        super().__init__()
        self.norm = (norm_layer or nn.LayerNorm)(dim)
        self.fc = nn.Linear(dim, hidden)


class Net(nn.Module):
    def __init__(self, dim=4, hidden=8, num_classes=10, norm_layer=None):
        super().__init__()
        self.block = Block(dim, hidden, norm_layer=norm_layer)
        self.head = nn.Linear(hidden, num_classes)


MODELS = {{
    "small": partial(Net, hidden=8, norm_layer=partial(nn.LayerNorm, eps=1e-6)),
    "wide": partial(partial(Net, hidden=16), dim=4),
}}


class Config:
    def __init__(self, arch="small", num_classes=10):
        self.arch = arch
        self.num_classes = num_classes

    @classmethod
    def from_dict(cls, d, **kwargs):
        config = cls(**d)
        for key, value in kwargs.items():
            if hasattr(config, key):
                setattr(config, key, value)
        return config


def get_args_parser():
    parser = argparse.ArgumentParser("eval", add_help=False)
    parser.add_argument("--arch", default="{arch}")
    return parser


def main(args):
    cfg = Config.from_dict({{"arch": args.arch}}, num_classes=3, not_an_option=1)
    model = MODELS[cfg.arch](num_classes=cfg.num_classes)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser("eval", parents=[get_args_parser()])
    main(parser.parse_args())
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("arch", ["small", "wide"], ids=["matches", "differs"])
def test_partials_in_a_registry_hasattr_and_a_parent_parser(case, arch, execute) -> None:
    """timm/DeiT idioms: `MODELS = {"small": partial(Net, ...)}` (a partial of a partial, a
    partial layer class as an argument), a config's `from_dict` that sets only the attributes
    `hasattr` finds, and the options of `ArgumentParser(parents=[get_args_parser()])`."""
    case.write("main.py", PARTIALS.format(arch=arch))
    save_layers(case, **{"block.norm": "nn.LayerNorm(4, eps=1e-6)", "block.fc": "nn.Linear(4, 8)",
                         "head": "nn.Linear(8, 3)"})
    judged_like_pytorch(case, execute, "mismatched")


MMCV_STYLE = """
import inspect
from pathlib import Path

import torch
import torch.nn as nn
import yaml

ROOT = Path(__file__).resolve().parents[0]


class Registry:
    def __init__(self, name):
        self._module_dict = dict()

    def get(self, key):
        return self._module_dict.get(key, None)

    def register_module(self):
        def _register(fn):
            self._module_dict[fn.__name__] = fn
            return fn
        return _register


MODELS = Registry("model")


@MODELS.register_module()
def tiny_head(in_features, out_features):
    return nn.Linear(in_features, out_features)


def build_from_cfg(cfg, registry):
    args = dict(cfg)
    obj_type = args.pop("type")
    if isinstance(obj_type, str):
        obj_cls = registry.get(obj_type)
    elif inspect.isclass(obj_type):
        obj_cls = obj_type
    else:
        raise TypeError("bad type")
    return obj_cls(**args)


with open(ROOT / "configs" / "head.yaml") as f:
    cfg = yaml.safe_load(f)
model = build_from_cfg(cfg["model"], MODELS)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("out", [6, 5], ids=["matches", "differs"])
def test_an_mmcv_style_registry_of_builders(case, out, execute) -> None:
    """A registry object of the workspace's own (`MODELS.register_module()` fills its dict,
    `registry.get(name)` reads it), mmcv's `build_from_cfg` (`isinstance(obj_type, str)`), and a
    config found from `Path(__file__).resolve().parents[0]` (yolov5's ROOT)."""
    case.write("main.py", MMCV_STYLE)
    case.write("configs/head.yaml", f"model:\n  type: tiny_head\n  in_features: 4\n  out_features: {out}\n")
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 6).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


MM_REGISTRY = """
def build_from_cfg(cfg, registry):
    args = dict(cfg)
    obj_type = args.pop("type")
    obj_cls = registry.get(obj_type) if isinstance(obj_type, str) else obj_type
    return obj_cls(**args)


class Registry:
    def __init__(self, name, build_func=None):
        self._name = name
        self._module_dict = {}
        self.build_func = build_func or build_from_cfg

    def get(self, key):
        return self._module_dict.get(key)

    def register_module(self):
        def _register(cls):
            self._module_dict[cls.__name__] = cls
            return cls
        return _register

    def build(self, cfg):
        return self.build_func(cfg, self)


MODELS = Registry("models")
"""

MM_MODEL = """
import torch.nn as nn

from registry import MODELS


@MODELS.register_module()
class TinyClassifier(nn.Module):
    def __init__(self, width, num_classes):
        super().__init__()
        self.body = nn.Linear(4, width)
        self.head = nn.Linear(width, num_classes)
"""

MM_CONFIG_READER = """
import runpy


class Config(dict):
    @classmethod
    def fromfile(cls, filename):
        ns = runpy.run_path(filename)
        return cls({k: v for k, v in ns.items() if not k.startswith("__")})

    def __getattr__(self, name):
        return self[name]
"""

MM_MAIN = """
import torch

import model  # noqa: F401 (registers TinyClassifier)
from config import Config
from registry import MODELS

cfg = Config.fromfile("configs/tiny.py")
net = MODELS.build(cfg.model)
net.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("num_classes", [10, 100], ids=["matches", "differs"])
def test_an_mm_style_registry_built_from_a_python_config(case, num_classes) -> None:
    """mmcv's shape: a Python config file read with `runpy.run_path` (`Config.fromfile`), a
    `Registry` whose `build_func` defaults to `build_from_cfg`, classes registered by decorator."""
    case.write("registry.py", MM_REGISTRY)
    case.write("model.py", MM_MODEL)
    case.write("config.py", MM_CONFIG_READER)
    case.write("configs/tiny.py", f"width = 8\nmodel = dict(type='TinyClassifier', width=width, num_classes={num_classes})\n")
    case.write("main.py", MM_MAIN)
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom model import TinyClassifier\n"
               "torch.save(TinyClassifier(8, 10).state_dict(), 'w.pt')")
    agrees_with_pytorch(analyze_alone(case, False), pytorch_outcomes(case)["loads"][0], "mismatched")


MM_IMPORTED_CONFIG_READER = """
import os.path as osp
import sys
from importlib import import_module


class Config(dict):
    @staticmethod
    def fromfile(filename):
        config_dir, config_file = osp.split(osp.abspath(filename))
        sys.path.insert(0, config_dir)
        mod = import_module(osp.splitext(config_file)[0])
        sys.path.pop(0)
        return Config({k: v for k, v in mod.__dict__.items() if not k.startswith("__")})

    def __getattr__(self, name):
        value = self[name]
        return Config(value) if isinstance(value, dict) else value
"""


@pytest.mark.parametrize("num_classes", [10, 100], ids=["matches", "differs"])
def test_a_python_config_imported_from_its_own_folder(case, num_classes) -> None:
    """Older mmcv's `Config.fromfile`: the config's folder put on `sys.path`, the file imported
    by its stem with `import_module`, its `__dict__` read as the config."""
    case.write("registry.py", MM_REGISTRY)
    case.write("model.py", MM_MODEL)
    case.write("config.py", MM_IMPORTED_CONFIG_READER)
    case.write("configs/tiny_cls.py", f"import os\nwidth = 8\nmodel = dict(type='TinyClassifier', width=width, "
                                      f"num_classes={num_classes})\n")
    case.write("main.py", MM_MAIN.replace("configs/tiny.py", "configs/tiny_cls.py"))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom model import TinyClassifier\n"
               "torch.save(TinyClassifier(8, 10).state_dict(), 'w.pt')")
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, pytorch_outcomes(case)["loads"][0], "mismatched")
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]
