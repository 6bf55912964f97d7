"""Config classes the way LLM code writes them (litgpt's shape): a dataclass with a
`from_name` class method over a table of presets, `__post_init__` filling derived sizes
through a checking helper, properties that give the norm and MLP classes (one imports the
model module inside the property), and mixins on the model. PyTorch is the judge."""

from __future__ import annotations

import pytest

from analysis_helpers import (
    agrees_with_pytorch, analyze_alone, judged_like_pytorch, pytorch_outcomes, resolved_like_pytorch, save_layers,
)

CONFIG = '''
from dataclasses import dataclass, field
from functools import partial


def check_indicator(params, required_length, def_val=1):
    if params is None:
        return [def_val] * required_length
    if len(params) != required_length:
        params = params[:required_length]
    if not set(params).issubset({0, 1}):
        raise ValueError("only 0 and 1")
    return params


@dataclass
class Config:
    name: str = ""
    n_embd: int = 8
    n_layer: int = 2
    n_head: int = 2
    head_size: int | None = None
    norm_class_name: str = "LayerNorm"
    mlp_class_name: str = "GptNeoxMLP"
    skip: list | None = None
    hf_config: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.head_size is None:
            self.head_size = self.n_embd // self.n_head
        self.skip = check_indicator(self.skip, self.n_layer)

    @classmethod
    def from_name(cls, name, **kwargs):
        if name not in name_to_config:  # the Hub's name
            try:
                conf = next(c for c in configs if c["hf_config"]["name"] == name)
            except StopIteration:
                raise ValueError(f"{name!r} is not a supported config name")
        else:
            conf = name_to_config[name]
        conf = conf.copy()
        conf.update(kwargs)
        return cls(**conf)

    @property
    def norm_class(self):
        import torch
        if self.norm_class_name == "RMSNorm":
            return partial(torch.nn.RMSNorm, eps=1e-5)
        return getattr(torch.nn, self.norm_class_name)

    @property
    def mlp_class(self):
        import lit.model
        return getattr(lit.model, self.mlp_class_name)


configs = [
    dict(name="tiny", hf_config=dict(name="tiny-hf"), n_embd=8, n_head=2),
    dict(name="llama-ish", hf_config=dict(name="Llama-ish-7b"), n_embd=12, n_head=3, norm_class_name="RMSNorm",
         mlp_class_name="LLaMAMLP", skip=[1, 0, 1, 0, 1]),
]
name_to_config = {c["name"]: c for c in configs}
'''

MODEL = '''
import torch.nn as nn

from lit.config import Config


class SizeMixin:
    def attn_size(self, config):
        return config.n_head * config.head_size


class GptNeoxMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)


class LLaMAMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc_1 = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.fc_2 = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)


class Block(SizeMixin, nn.Module):
    def __init__(self, config, i):
        super().__init__()
        self.norm_1 = config.norm_class(config.n_embd)
        self.attn = nn.Linear(config.n_embd, self.attn_size(config))
        self.mlp = config.mlp_class(config) if config.skip[i] else nn.Identity()


class GPT(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.h = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
'''


@pytest.fixture
def lit(case):
    case.write("lit/__init__.py", "")
    case.write("lit/config.py", CONFIG)
    case.write("lit/model.py", MODEL)
    return case


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("layers", [3, 4], ids=["matches", "differs"])
@pytest.mark.parametrize("name", ["tiny", "llama-ish", "Llama-ish-7b"])
def test_config_from_name_with_properties(lit, name, layers, execute) -> None:
    lit.write("main.py", "import torch\nfrom lit.config import Config\nfrom lit.model import GPT\n\n"
                         f"model = GPT(Config.from_name({name!r}, n_layer={layers}))\n"
                         'model.load_state_dict(torch.load("w.pt"))\n')
    lit.torch("import torch\nfrom lit.config import Config\nfrom lit.model import GPT\n"
              f"torch.save(GPT(Config.from_name({name!r}, n_layer=3)).state_dict(), 'w.pt')")
    judged_like_pytorch(lit, execute, "missing+unexpected")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 12], ids=["matches", "differs"])
def test_a_config_made_in_a_test_function(lit, width, execute) -> None:
    """pytest's shape: the config is made in a test function nothing calls, then changed."""
    lit.write("test_gpt.py", "import torch\nfrom lit.config import Config\nfrom lit.model import GPT\n\n\n"
                             "def test_load():\n"
                             "    config = Config.from_name('tiny')\n"
                             f"    config.n_embd = {width}\n"
                             "    model = GPT(config)\n"
                             '    model.load_state_dict(torch.load("w.pt"))\n')
    lit.torch("import torch\nfrom lit.config import Config\nfrom lit.model import GPT\n"
              "torch.save(GPT(Config.from_name('tiny')).state_dict(), 'w.pt')")
    lit.write("main.py", "from test_gpt import test_load\ntest_load()\n")
    truth = pytorch_outcomes(lit, "main.py")
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    agrees_with_pytorch(analyze_alone(lit, execute, "test_gpt.py"), truth["loads"][0], "mismatched")


UNKNOWN_FIELD = '''
import string
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Config:
    vocab_size: int = 50257
    dim: int = 8
    {extra}


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.head = nn.Linear(cfg.dim, getattr(cfg, "vocab_size", 7))


model = Net(Config(vocab_size=len(string.printable)))
model.load_state_dict(torch.load("w.pt"))
'''


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("extra", ["", "@property\n    def size(self):\n        return self.dim"], ids=["fields", "property"])
def test_a_field_given_a_value_not_known_does_not_take_its_default(case, execute, extra) -> None:
    """`Config(vocab_size=len(string.printable))`: the object written into the recipe leaves the
    field out; reading it gave the class's default (50257), a false size-mismatch on a clean load."""
    case.write("main.py", UNKNOWN_FIELD.format(extra=extra))
    case.torch("import torch, torch.nn as nn, string\nn = len(string.printable)\n"
               "torch.save({'embed.weight': torch.zeros(n, 8), 'head.weight': torch.zeros(n, 8),"
               " 'head.bias': torch.zeros(n)}, 'w.pt')")
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, execute)
    (finding,) = result.findings
    assert finding.code == "unresolved-model", finding.message
    assert "`vocab_size` of the `Config` object is not known statically (`len(string.printable)`" in finding.message, \
        finding.message


DATASET_SIZES = """
import torch
import torch.nn as nn
from torch.utils.data import Dataset


class SortDataset(Dataset):
    def __init__(self, split, length=6, num_digits=3):
        self.split = split
        self.length = length
        self.num_digits = num_digits

    def __len__(self):
        return 100

    def get_vocab_size(self):
        return self.num_digits

    def get_block_size(self):
        return self.length * 2 - 1


class TinyGPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_embd=8):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)


train_dataset = SortDataset("train", length={length})
model = TinyGPT(train_dataset.get_vocab_size(), train_dataset.get_block_size())
model.load_state_dict(torch.load("model.pt"))
"""


@pytest.mark.parametrize("length", [6, 8], ids=["matches", "differs"])
def test_sizes_from_a_datasets_methods(case, length) -> None:
    """minGPT: the vocabulary and block sizes come from methods of a `torch.utils.data.Dataset`
    subclass, an object of plain Python (corpus W01/W02)."""
    case.write("main.py", DATASET_SIZES.format(length=length))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'wte.weight': torch.zeros(3, 8), 'wpe.weight': torch.zeros(11, 8)}, 'model.pt')")
    resolved_like_pytorch(case, False, "mismatched")


GETITEM = """
import functools
import os

import torch
import torch.nn as nn


class ConfigParser:
    def __init__(self, config):
        self.config = config

    def __getitem__(self, key):
        return self.config[key]


@functools.lru_cache(maxsize=None)
def channels():
    return (3, {width})


def main():
    parser = ConfigParser({{"num_classes": 2, "ckpt": "model.pt"}})
    c_in, width = channels()
    net = nn.Sequential(nn.Conv2d(c_in, width, 3), nn.Conv2d(width, parser["num_classes"], 1))
    path = parser["ckpt"] if os.path.isabs(parser["ckpt"]) else os.path.join(".", parser["ckpt"])
    net.load_state_dict(torch.load(path))


main()
"""


@pytest.mark.parametrize("width", [8, 16], ids=["matches", "differs"])
def test_a_config_class_read_by_subscript_and_a_cached_helper(case, width) -> None:
    """MONAI-shaped: `parser["num_classes"]` through the class's `__getitem__`; a helper under
    `functools.lru_cache`; `os.path.isabs` of a known path (corpus ZA05, ZA06, ZA07)."""
    case.write("main.py", GETITEM.format(width=width))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 2, 1)).state_dict(), 'model.pt')")
    resolved_like_pytorch(case, False, "mismatched")


SWA_MODELS = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, *args, num_classes=10, width=8):
        super().__init__()
        self.fc = nn.Linear(4 + len(args), width)
        self.head = nn.Linear(width, num_classes)


class NetSmall:
    base = Net
    args = list()
    kwargs = {"width": 8}
"""

SWA_MAIN = """
import argparse

import torch

import models


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="NetSmall")
    parser.add_argument("--num_classes", type=int, default={n})
    args = parser.parse_args()
    model_cfg = getattr(models, args.model)
    model = model_cfg.base(*model_cfg.args, num_classes=args.num_classes, **model_cfg.kwargs)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [10, 7], ids=["matches", "differs"])
def test_a_config_class_with_an_empty_list_made_by_list(case, n, execute) -> None:
    """timgaripov/swa's model configs: `args = list()`, read through `getattr(models, args.model)`
    (corpus AI01)."""
    case.write("main.py", SWA_MAIN.format(n=n))
    case.write("models.py", SWA_MODELS)
    save_layers(case, fc="nn.Linear(4, 8)", head="nn.Linear(8, 10)")
    resolved_like_pytorch(case, execute, "mismatched")


NESTED_DATACLASS = """
from dataclasses import dataclass, field

import torch
import torch.nn as nn


@dataclass
class ModelConfig:
    hidden: int = {hidden}
    blocks: int = 1


def default_heads():
    return ModelConfig(hidden=4, blocks=2)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    head: ModelConfig = field(default_factory=default_heads)
    tags: list = field(default_factory=list)


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc = nn.Linear(8, cfg.model.hidden)
        self.head = nn.Linear(cfg.model.hidden, cfg.head.hidden * cfg.head.blocks)


def main():
    cfg = TrainConfig()
    model = Net(cfg)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [16, 12], ids=["matches", "differs"])
def test_a_nested_dataclass_made_by_default_factory(case, hidden, execute) -> None:
    """`model: ModelConfig = field(default_factory=ModelConfig)` (and a factory function): the
    nested config's defaults reach the model."""
    case.write("main.py", NESTED_DATACLASS.format(hidden=hidden))
    save_layers(case, fc="nn.Linear(8, 16)", head="nn.Linear(16, 8)")
    resolved_like_pytorch(case, execute, "mismatched")


FIELDS_PARSER = """
import argparse
from dataclasses import dataclass, field, fields

import torch
import torch.nn as nn


@dataclass
class Args:
    n_hidden: int = {hidden}
    lr: float = field(default=3e-4)
    tags: list = field(default_factory=list)


parser = argparse.ArgumentParser()
for f in fields(Args):
    if f.name != "tags":
        parser.add_argument(f"--{{f.name}}", type=type(f.default), default=f.default)
args = Args(**vars(parser.parse_args()))

model = nn.Linear(3, args.n_hidden)
model.load_state_dict(torch.load("ckpt.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [32, 16], ids=["matches", "differs"])
def test_options_made_from_a_dataclass_fields_defaults(case, hidden, execute) -> None:
    """A tyro-like helper of CleanRL-shaped scripts: `parser.add_argument(f"--{f.name}",
    type=type(f.default), default=f.default)` for each of `fields(Args)`."""
    case.write("main.py", FIELDS_PARSER.format(hidden=hidden))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(3, 32).state_dict(), 'ckpt.pt')")
    resolved_like_pytorch(case, execute, "mismatched")


def test_a_default_factory_field_has_no_default(case) -> None:
    """`Field.default` of a `default_factory` field is `dataclasses.MISSING`: not taken for a value."""
    case.write("main.py", FIELDS_PARSER.format(hidden=32).replace('if f.name != "tags":', "if True:"))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(3, 32).state_dict(), 'ckpt.pt')")
    result = analyze_alone(case, True)
    assert not [f for f in result.findings if f.severity == "error"]
