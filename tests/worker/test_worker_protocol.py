"""Packing a built model for the pipe: order, paths, and speed for big models."""

from __future__ import annotations

import time

import torch
from torch import nn

from weightmatch.worker import build, protocol

from .conftest import real_keys


def _round_trip(model: nn.Module):
    with protocol.gc_paused():
        packed = build.pack(model)
    line = protocol.dumps({"ok": True, "state": packed})
    return protocol.unpack_state(protocol.loads(line)["state"], ["n"])


def test_round_trip_keeps_load_state_dict_order_and_paths():
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.BatchNorm2d(4), nn.Identity()), nn.Linear(4, 2))
        model.add_module("none", None)
        model.add_module("tied", model[2])
    state = _round_trip(model)
    assert list(state.modules) == ["", "0", "1", "1.0", "1.1", "2", "tied"]
    assert state.modules[""].children == ["0", "1", "2", "none", "tied"]
    assert {k: (v.shape, v.dtype) for k, v in state.keys().items()} == real_keys(model)
    assert list(state.keys()) == list(model.state_dict())
    assert state.notes == ["n"] and state.how == "executed" and state.model_type == "Sequential"


def test_100k_parameters_pack_and_unpack_under_a_second():
    with torch.device("meta"):
        # one layer at 50,000 places: load_state_dict visits (and we pack) each place,
        # 100,000 parameters, without paying for 50,000 constructors in the test
        model = nn.ModuleList([nn.Linear(2, 2)] * 50_000)
    began = time.process_time()  # CPU time: the shared machine's load does not count
    state = _round_trip(model)
    elapsed = time.process_time() - began
    assert len(state.keys()) == 100_000
    print(f"100k parameters: pack+json+unpack {elapsed:.2f}s CPU")
    assert elapsed < 1.5  # ~0.6 s measured: 50,000 modules is the worst case per parameter
