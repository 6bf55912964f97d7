"""The keys of a state dict taken as a list (`keys = sorted(state_dict.keys())`) and walked by a
test or a comprehension: fvcore's / detectron2's `_strip_prefix_if_present`, which strips a prefix
only when every key has it. The keys are the checkpoint's own, read from the file; the verdict is
PyTorch's, in both modes (corpus AE10)."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

STRIP = """
import os
from urllib.parse import urlparse

import torch
import torch.nn as nn


def _strip_prefix_if_present(state_dict, prefix):
    keys = {keys}
    if not all({test}):
        return state_dict
    return {{key[len(prefix):]: state_dict[key] for key in keys}}


def load(model, url):
    path = os.path.join("cache", os.path.basename(urlparse(url).path))
    state_dict = _strip_prefix_if_present(torch.load(path), "module.")
    model.load_state_dict(state_dict)


model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, {n}))
load(model, "https://dl.example.com/zoo/tiny/model_final.pth?download=1")
"""

KEYS = {"sorted-keys": ("sorted(state_dict.keys())", "key.startswith(prefix) for key in keys"),
        "list-of-keys": ("list(state_dict)", "[key.startswith(prefix) for key in keys]"),
        "walks-the-dict": ("sorted(state_dict)", "key.startswith(prefix) for key in state_dict")}


PREFIXES = {"prefixed": ("module.", 3), "prefixed-head-differs": ("module.", 5), "plain": ("", 3),
            "plain-head-differs": ("", 5), "partly": ("mod", 3)}
CASES = [*((False, shape, p) for shape in KEYS for p in ("prefixed-head-differs", "plain", "partly")),
         *((True, "sorted-keys", p) for p in PREFIXES)]


@pytest.mark.parametrize(("execute", "shape", "kind"), CASES,
                         ids=[f"{'worker' if e else 'static'}-{s}-{p}" for e, s, p in CASES])
def test_a_prefix_stripped_only_when_every_key_has_it(case, execute, shape, kind) -> None:
    keys, test = KEYS[shape]
    prefix, n = PREFIXES[kind]
    case.write("main.py", STRIP.format(keys=keys, test=test, n=n))
    rename = "'module.' + k if i else k" if prefix == "mod" else f"{prefix!r} + k"  # "partly": one key plain
    case.torch("import os, torch, torch.nn as nn\nos.makedirs('cache')\n"
               "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
               f"torch.save({{{rename}: v for i, (k, v) in enumerate(m.state_dict().items())}}, "
               "'cache/model_final.pth')")
    resolved_like_pytorch(case, execute, "missing+unexpected" if prefix == "mod" else "mismatched")
