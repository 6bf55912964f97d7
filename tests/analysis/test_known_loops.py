"""Loops over known data with `break` / `continue`, and copies of known dicts: litgpt's shape
(a module-level list of configs built in a loop that skips some, a `from_name` classmethod
that copies one with `.copy()` and updates it). Each is judged against real PyTorch, in both
modes; a `continue` under a test known only at run time leaves the configs unknown (the
load unresolved, never judged from a guess)."""

from __future__ import annotations

import pytest
from analysis_helpers import (
    analyze_alone,
    judged_like_pytorch,
    pytorch_outcomes,
    save_layers,
)

CONFIGS = """
import os
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Config:
    name: str = ""
    n_embd: int = 8
    n_layer: int = 1

    @classmethod
    def from_name(cls, name, **kwargs):
        conf_dict = name_to_config[name].copy()
        conf_dict.update(kwargs)
        return cls(**conf_dict)


family = [dict(name="tiny", n_embd=16, n_layer=2), dict(name="skip", n_embd=4, n_layer=1),
          dict(name="base", n_embd=32, n_layer=4)]
configs = []
for c in family:
    if {skip_test}:
        continue
    for suffix in ("", "-chat"):
        made = dict(c)
        made["name"] = c["name"] + suffix
        configs.append(made)
    if c["name"] == "{last}":
        break
name_to_config = {{config["name"]: config for config in configs}}


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.h = nn.ModuleList([nn.Linear(config.n_embd, config.n_embd) for _ in range(config.n_layer)])


model = GPT(Config.from_name("{name}", n_layer=2))
model.load_state_dict(torch.load("w.pt"))
"""

CHECKPOINT = ("import torch, torch.nn as nn\n"
              "h = nn.ModuleList([nn.Linear(16, 16) for _ in range(2)])\n"
              "torch.save({'h.' + k: v for k, v in h.state_dict().items()}, 'w.pt')")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("name, last", [("tiny-chat", "base"), ("base", "base"), ("tiny", "tiny")],
                         ids=["matches", "differs", "break-before-base"])
def test_continue_and_break_over_known_configs(case, name, last, execute) -> None:
    case.write("main.py", CONFIGS.format(skip_test='c["name"] in ("skip",)', name=name, last=last))
    case.torch(CHECKPOINT)
    judged_like_pytorch(case, execute, "mismatched")


def test_a_break_past_the_name_makes_the_lookup_raise(case) -> None:
    """`break` after "tiny": "base" is never in the table, so `from_name("base")` raises KeyError
    before the load; the load is not judged (and no error is claimed)."""
    case.write("main.py", CONFIGS.format(skip_test='c["name"] in ("skip",)', name="base", last="tiny"))
    case.torch(CHECKPOINT)
    truth = pytorch_outcomes(case)
    assert truth["crash"]["type"] == "KeyError" and truth["loads"] == []
    result = analyze_alone(case, execute=False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


def test_a_continue_known_only_at_run_time_leaves_the_configs_unknown(case) -> None:
    case.write("main.py", CONFIGS.format(skip_test='os.environ.get("SKIP_" + c["name"])', name="base",
                                         last="base"))
    case.torch(CHECKPOINT)
    result = analyze_alone(case, execute=False)
    (report,) = result.reports
    assert report.how is None
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


MAYBE = """
import os
import torch
import torch.nn as nn

width = 3
for _ in range(int(os.environ.get("REPEAT") or "0")):
    width = 5
try:
    depth = 4
except KeyError:
    depth = 6
while os.environ.get("GROW"):
    depth += 1
model = nn.Linear(depth, width)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_name_bound_in_a_block_that_may_not_run_is_not_known_after_it(case, execute) -> None:
    """A loop over data known only at run time, an `except` block, a `while`: what they bind
    holds only if they ran. The bare run binds nothing in them and loads cleanly; taking their
    values was a false alarm (size mismatch [5, 6])."""
    case.write("main.py", MAYBE)
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 3).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and truth["loads"][0]["raises"] is False, truth
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


SCOPES = """
import torch
import torch.nn as nn

WIDTH = 3
args = None


def configure(width):
    global WIDTH
    WIDTH = width


def parse():
    global args
    args = dict(depth={depth})


def counter():
    n = 4

    def bump():
        nonlocal n
        n = {depth}
    bump()
    return n


configure({width})
parse()
model = nn.Sequential(nn.Linear(counter(), WIDTH), nn.Linear(WIDTH, args["depth"]))
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width, depth", [(3, 4), (5, 4), (3, 6)], ids=["matches", "global-differs", "nonlocal-differs"])
def test_global_and_nonlocal_rebind_outside_the_function(case, width, depth, execute) -> None:
    """`global WIDTH; WIDTH = width` in a function the script calls rebinds the module's name
    (it was kept at its first value: a load PyTorch refuses was judged clean)."""
    case.write("main.py", SCOPES.format(width=width, depth=depth))
    save_layers(case, **{"0": "nn.Linear(4, 3)", "1": "nn.Linear(3, 4)"})
    judged_like_pytorch(case, execute, "mismatched")


def test_a_global_some_function_rebinds_is_unknown_in_functions_nothing_calls(case) -> None:
    case.write("main.py", "import torch\nimport torch.nn as nn\n\nWIDTH = 3\n\n\ndef configure(width):\n"
                          "    global WIDTH\n    WIDTH = width\n\n\ndef restore(path):\n"
                          "    model = nn.Linear(4, WIDTH)\n    model.load_state_dict(torch.load(path))\n")
    result = analyze_alone(case, execute=False)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]


IGNORE_KEYS = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.fc = nn.Linear(4, out)

    def init_from_ckpt(self, path, ignore_keys=("loss",)):
        sd = torch.load(path, map_location="cpu")["state_dict"]
        keys = list(sd.keys())
        for k in keys:
            for ik in ignore_keys:
                if k.startswith(ik):
                    del sd[k]
        self.load_state_dict(sd, strict={strict})


Net({out}).init_from_ckpt("w.ckpt")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize(("out", "strict"), [(6, True), (5, True), (6, False)], ids=["clean", "size", "not-strict"])
def test_ignore_keys_deleted_in_a_nested_loop(case, out, strict, execute) -> None:
    """latent-diffusion's `init_from_ckpt`: `keys = list(sd.keys())`, then a loop over a known
    list inside the loop over the keys deletes some."""
    case.write("main.py", IGNORE_KEYS.format(out=out, strict=strict))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'fc.' + k: v for k, v in nn.Linear(4, 6).state_dict().items()}\n"
               "torch.save({'state_dict': {**sd, 'loss.logvar': torch.zeros(1)}}, 'w.ckpt')")
    judged_like_pytorch(case, execute, "mismatched+unexpected")
    result = analyze_alone(case, execute)  # the loop is followed: no "cannot tell" beside the verdict
    assert all(f.severity == "error" for f in result.findings), [f.message for f in result.findings]
