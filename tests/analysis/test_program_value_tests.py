"""Tests a script makes on values the program made, decided where Python decides them: a
function passed as an argument is not None (`if filter_fn is not None:`), a workspace module's
names (`if arch in nets.__dict__.keys():`, DINO), `argparse.BooleanOptionalAction` options
(`--compile` / `--no-compile`). Each script runs with real PyTorch; the tool must agree, in
both modes."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone, judged_like_pytorch, save_layers

FILTER = """
import torch
import torch.nn as nn


def drop_aux(sd):
    return {{k: v for k, v in sd.items() if not k.startswith("aux.")}}


def load_pretrained(model, path, filter_fn=None):
    state_dict = torch.load(path)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict)
    if not filter_fn:
        raise SystemExit("no filter")
    model.load_state_dict(state_dict)


model = nn.Sequential(nn.Linear(4, {n}))
load_pretrained(model, "w.pt", filter_fn=drop_aux)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [8, 6], ids=["matches", "differs"])
def test_a_function_passed_as_an_argument_is_not_none(case, n, execute) -> None:
    case.write("main.py", FILTER.format(n=n))
    save_layers(case, **{"0": "nn.Linear(4, 8)", "aux": "nn.Linear(2, 2)"})
    judged_like_pytorch(case, execute, "mismatched")


NETS = """
import torch.nn as nn
{extra}

def tiny(width=8):
    return nn.Sequential(nn.Linear(4, width))
"""

LOOKUP = """
import torch

import nets

arch = "{arch}"
if arch in nets.__dict__.keys():
    model = nets.__dict__[arch](width={n})
else:
    raise SystemExit(f"unknown arch {{arch}}")
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [8, 6], ids=["matches", "differs"])
def test_a_name_looked_up_in_a_workspace_modules_dict(case, n, execute) -> None:
    case.write("nets.py", NETS.format(extra=""))
    case.write("main.py", LOOKUP.format(arch="tiny", n=n))
    save_layers(case, **{"0": "nn.Linear(4, 8)"})
    judged_like_pytorch(case, execute, "mismatched")


def test_a_name_not_in_the_module_takes_the_other_branch(case) -> None:
    """`arch` is not defined in nets.py: the script exits before the load, as Python would."""
    case.write("nets.py", NETS.format(extra=""))
    case.write("main.py", LOOKUP.format(arch="huge", n=6))
    save_layers(case, **{"0": "nn.Linear(4, 8)"})
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


def test_a_star_import_leaves_the_modules_names_open(case) -> None:
    """`from torch.nn import *` in nets.py may bind any name: whether `huge` is one is not
    decided, and no verdict is given as if it were not."""
    case.write("nets.py", NETS.format(extra="from torch.nn import *\n"))
    case.write("main.py", LOOKUP.format(arch="huge", n=6))
    save_layers(case, **{"0": "nn.Linear(4, 8)"})
    result = analyze_alone(case, False)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]


BOOLEAN = """
import argparse

import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--wide", action=argparse.BooleanOptionalAction, default={default})
args = parser.parse_args()
model = nn.Linear(4, 8 if args.wide else 6)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize(("default", "args"), [("False", []), ("True", []), ("True", ["--no-wide"]),
                                               ("False", ["--wide"]), ("None", [])])
def test_a_boolean_optional_action(case, default, args, execute) -> None:
    case.write("main.py", BOOLEAN.format(default=default))
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 8).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched", args=args)


def test_an_action_class_of_the_scripts_own_is_not_taken_for_absent(case) -> None:
    """A custom `argparse.Action` decides the value: the option exists (no "the script has no
    option" message) and its value is unknown."""
    case.write("main.py", """
import argparse

import torch
import torch.nn as nn


class Width(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, int(values) * 2)


parser = argparse.ArgumentParser()
parser.add_argument("--width", action=Width, default=8)
args = parser.parse_args()
model = nn.Linear(4, args.width)
model.load_state_dict(torch.load("w.pt"))
""")
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 8).state_dict(), 'w.pt')")
    result = analyze_alone(case, False)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]
    text = " ".join(f.message for f in result.findings)
    assert "--width" in text and "no option" not in text, text
