"""Configs and models changed in ways a reader can miss, each judged by real PyTorch (and real
OmegaConf): OmegaConf's own in-place changes, Enum members compared with their values, and a
model part found by a name known only at run time (`model.get_submodule(key)`, PEFT's way).
Where the change is followed the verdict is PyTorch's; where it is not, the load is unresolved,
never judged on the config or model as it was before the change (corpora AK06, AK12, AI10)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

OMEGA = """
import torch
import torch.nn as nn
from omegaconf import OmegaConf


class Net(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(depth))


def load_config(overrides):
    cfg = OmegaConf.load("hparams.yaml")
    {change}
    return cfg


cfg = load_config(["model.depth=3", "train.lr=0.1"])
model = Net(cfg.model.depth)
model.load_state_dict(torch.load("w.pt"))
"""

FOLLOWED = {"merge-with-dotlist": "cfg.merge_with_dotlist(overrides)",
            "update": 'OmegaConf.update(cfg, "model.depth", 3)',
            "merge-from-dotlist": "cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))"}
NOT_FOLLOWED = {"merge-with": 'cfg.merge_with({"model": {"depth": 3}})',
                "unknown-update": 'OmegaConf.update(cfg, "model", {"depth": 3}, merge=True)'}


def _omega_project(case, change: str, saved_depth: int) -> None:
    case.write("hparams.yaml", "model:\n  depth: 2\ntrain:\n  lr: 0.01\n")
    case.write("main.py", OMEGA.format(change=change))
    case.torch("import torch, torch.nn as nn\n"
               f"torch.save(nn.ModuleDict({{'blocks': nn.ModuleList(nn.Linear(4, 4) for _ in range({saved_depth}))}})"
               ".state_dict(), 'w.pt')")


@pytest.mark.parametrize("saved_depth", [3, 2], ids=["matches-the-change", "matches-the-file"])
@pytest.mark.parametrize("change", list(FOLLOWED))
def test_an_omegaconf_change_in_place_is_followed(case, change, saved_depth) -> None:
    _omega_project(case, FOLLOWED[change], saved_depth)
    resolved_like_pytorch(case, False, "missing+unexpected")


@pytest.mark.parametrize("change", list(NOT_FOLLOWED))
def test_an_omegaconf_change_not_followed_makes_the_config_unknown(case, change) -> None:
    """The checkpoint has the changed depth: PyTorch loads it; judging the file's depth (2)
    would report the third block's keys as unexpected."""
    _omega_project(case, NOT_FOLLOWED[change], 3)
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth
    result = analyze_alone(case, False)
    assert not [f.message for f in result.findings if f.severity == "error"]
    assert any(f.code.startswith("unresolved") for f in result.findings), [f.message for f in result.findings]


ENUM = """
from enum import Enum

import torch
import torch.nn as nn


class Size({bases}):
    SMALL = "small"
    LARGE = "large"


size = Size.SMALL
model = nn.Linear(4, 8 if size == "small" else 16)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("bases", ["Enum", "str, Enum"], ids=["plain-enum", "str-enum"])
@pytest.mark.parametrize("width", [8, 16])
def test_an_enum_member_is_not_its_value(case, bases, width) -> None:
    """`Size.SMALL == "small"` is False for a plain Enum and True for a `str` one; taking the
    member for its value judged the plain Enum's 16-wide load against an 8-wide layer."""
    case.write("main.py", ENUM.format(bases=bases))
    case.torch(f"import torch, torch.nn as nn\ntorch.save(nn.Linear(4, {width}).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None, truth
    result = analyze_alone(case, False)
    errors = [f for f in result.findings if f.severity == "error"]
    assert not errors or truth["loads"][0]["raises"], [f.message for f in errors]


PEFT = """
import torch
import torch.nn as nn


class Lora(nn.Module):
    def __init__(self, base, r=2):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(8, 8)
        self.out = nn.Linear(8, 8)


def inject(model, targets):
    keys = [key for key, _ in model.named_modules()]
    for key in keys:
        if not any(key.endswith(t) for t in targets):
            continue
        parent = model.get_submodule(".".join(key.split(".")[:-1]))
        setattr(parent, key.split(".")[-1], Lora(model.get_submodule(key)))
    return model


if __name__ == "__main__":
    model = inject(nn.Sequential(Block(), Block()), ["q_proj"])
    model.load_state_dict(torch.load("w.pt"))
"""


def test_a_layer_swapped_through_get_submodule_is_not_dropped(case) -> None:
    """The checkpoint was saved after the same injection: PyTorch loads it. Dropping the swap
    reported every `lora_A` / `lora_B` / `base.` key as unexpected."""
    case.write("main.py", PEFT)
    case.torch("import runpy, torch\nns = runpy.run_path('main.py', run_name='made')\n"
               "m = ns['inject'](torch.nn.Sequential(ns['Block'](), ns['Block']()), ['q_proj'])\n"
               "torch.save(m.state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth
    result = analyze_alone(case, False)
    assert not [f.message for f in result.findings if f.severity == "error"]
    assert any("get_submodule" in f.message or "setattr(parent" in f.message for f in result.findings), \
        [f.message for f in result.findings]


SET_DEFAULTS = """
import argparse
import csv

import torch
import torch.nn as nn


def load_config(path):
    out = {{}}
    for line in {lines}:
        key, _, value = {split}
        out[key.strip()] = int(value)
    return out


def config_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="run.txt")
    parser.add_argument("--width", type=int, default=8)
    return parser


def train():
    parser = config_parser()
    args = parser.parse_args()
    parser.set_defaults(**load_config(args.config))
    args = parser.parse_args()
    model = nn.Linear(4, args.width)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    train()
"""


@pytest.mark.parametrize("reader", ["csv", "lines"])
def test_defaults_set_from_a_file_not_read_make_the_options_unknown(case, reader) -> None:
    """nerf-pytorch's `parser.set_defaults(**load_config(args.config))` (corpus AH06): the file
    sets `width = 16`, the checkpoint is 16 wide and PyTorch loads it; the option's own default
    (8) judged it a size mismatch. Read by `csv.reader` (not followed) the options are unknown,
    said; read line by line (`for line in open(path)`) the file's value is the one used."""
    lines, split = ("csv.reader(open(path), delimiter='=')", "line[0], None, line[1]") if reader == "csv" else \
        ("open(path)", 'line.partition("=")')
    case.write("main.py", SET_DEFAULTS.format(lines=lines, split=split))
    case.write("run.txt", "width = 16\n")
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 16).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth
    result = analyze_alone(case, False)
    assert not [f.message for f in result.findings if f.severity == "error"]
    if reader == "csv":
        assert any("set_defaults" in f.message for f in result.findings), [f.message for f in result.findings]
    else:
        assert not result.findings and result.reports[0].how is not None


TRAINER = """
import torch
import torch.nn as nn
from omegaconf import OmegaConf


class Trainer:
    def __init__(self, path):
        self.cfg = OmegaConf.load(path)
        self.name = "run"
        self.cfg.merge_with({"model": {"depth": 3}})

    def load(self):
        model = nn.ModuleList(nn.Linear(4, 4) for _ in range(self.cfg.model.depth))
        model.load_state_dict(torch.load(self.name + ".pt"))


Trainer("hparams.yaml").load()
"""


def test_a_config_held_by_an_object_is_made_unknown_not_the_object(case) -> None:
    """`self.cfg.merge_with(...)` not followed makes `self.cfg` unknown, not `self`: the load
    still names the config as the reason (and the object's other attributes stay known)."""
    case.write("hparams.yaml", "model:\\n  depth: 2\\n")
    case.write("main.py", TRAINER)
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.ModuleList(nn.Linear(4, 4) for _ in range(3)).state_dict(), "
               "'run.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth
    result = analyze_alone(case, False)
    assert not [f.message for f in result.findings if f.severity == "error"]
    assert any("merge_with" in f.message for f in result.findings), [f.message for f in result.findings]
