"""A whole module pickled into a checkpoint (`torch.save(model, p)`) is read as data: the keys
and shapes its `state_dict()` gives, taken from the `_parameters`, `_buffers` and `_modules`
pickle stores, equal to what real PyTorch's `state_dict()` returns, with no class called."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn as nn
from weightmatch.checkpoint import read_checkpoint
from weightmatch.types import SavedModule


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width, bias=False)  # bias None: no key
        self.norm = nn.BatchNorm1d(width)
        self.register_buffer("scale", torch.ones(width))
        self.register_buffer("cache", torch.zeros(3), persistent=False)  # not in state_dict()
        self.register_buffer("unset", None)
        self.gone = None  # a child set to None: no keys


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "box": nn.Sequential(nn.Linear(4, 4), nn.GELU())})
        self.tied = self.heads["cls"]  # one module reached twice: saved under both names
        self.embed = nn.Parameter(torch.zeros(1, 5, 4))
        self.rnn = nn.LSTM(4, 6, num_layers=2)


class Thing:
    """Not a module, though its attributes say so."""


def _shapes(state: dict) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in state.items()}


@pytest.fixture
def main_module(monkeypatch):
    # torch.save pickles a class by module and name: make this file's classes importable
    monkeypatch.setitem(sys.modules, "saved_model_classes", sys.modules[__name__])
    for cls in (Block, Model, Thing):
        monkeypatch.setattr(cls, "__module__", "saved_model_classes")


def test_a_pickled_module_gives_the_keys_and_shapes_of_its_state_dict(tmp_path, main_module, canary) -> None:
    model = Model()
    torch.save({"model": model, "epoch": 3}, tmp_path / "full.pt")
    saved = read_checkpoint(str(tmp_path / "full.pt")).obj["model"]
    assert isinstance(saved, SavedModule) and saved.why == ""
    assert list(saved.state) == list(model.state_dict())  # the order state_dict() gives, too
    assert {k: v.shape for k, v in saved.state.items()} == _shapes(model.state_dict())
    assert saved.classes["blocks.1.norm"] == "torch.nn.modules.batchnorm.BatchNorm1d"
    assert saved.classes[""] == "saved_model_classes.Model" and "blocks.0.gone" not in saved.classes


def test_a_state_dict_hook_leaves_the_state_unknown(tmp_path, main_module) -> None:
    model = Model()
    model.stem = nn.utils.spectral_norm(model.stem)  # registers a state_dict hook
    torch.save(model, tmp_path / "full.pt")
    saved = read_checkpoint(str(tmp_path / "full.pt")).obj
    assert isinstance(saved, SavedModule) and saved.state == {}
    assert "has a state_dict hook" in saved.why and "`stem`" in saved.why


def test_objects_that_only_look_like_modules_are_not_read_as_modules(tmp_path, main_module) -> None:
    """A pickle that claims a `_modules` entry that is not a module: no state is made up."""
    fake = Thing()
    fake.__dict__.update(_parameters={}, _buffers={}, _modules={"a": 3})
    path = tmp_path / "fake.pt"
    torch.save(fake, path)
    saved = read_checkpoint(str(path)).obj
    assert isinstance(saved, SavedModule) and saved.state == {} and "`a`" in saved.why
