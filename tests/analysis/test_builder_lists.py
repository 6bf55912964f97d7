"""A builder function that fills a list with modules (`layers.append(nn.Linear(a, b))` in a
loop over known sizes, `+=`, `.extend`, `.insert`, a helper returning a block) and makes the
model of it (`nn.Sequential(*layers)`, `nn.ModuleList(layers)`): each module is written into
the recipe as its own constructor, and a layer's diagnostic sits where its module was made.
A list changed under a test known only at run time stays unknown, and says why. PyTorch is
the judge, in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, pytorch_outcomes, save_layers

LOOP = """
import torch
import torch.nn as nn

DEPTH = {depth}


def conv_block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
    )


def build(widths):
    blocks = []
    cin = 3
    for i in range(DEPTH):
        blocks.append(conv_block(cin, widths[i]))
        cin = widths[i]
    layers = [nn.Flatten()]
    layers += [nn.Linear(cin, 10)]
    return nn.Sequential(nn.Sequential(*blocks), *layers)


model = build([4, 8, 16])
model.load_state_dict(torch.load("w.pt"))
"""
CONV_LINE, BN_LINE, HEAD_LINE = 9, 10, 21


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("depth", [2, 3], ids=["matches", "one-more-block"])
def test_a_list_filled_in_a_loop_is_written_out_module_by_module(case, depth, execute) -> None:
    case.write("main.py", LOOP.format(depth=depth))
    save_layers(case, **{"0.0": "nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))",
                         "0.1": "nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8))",
                         "2": "nn.Linear(8, 10)"})
    judged_like_pytorch(case, execute, "mismatched+missing")


def test_each_diagnostic_sits_where_its_module_was_made(case) -> None:
    case.write("main.py", LOOP.format(depth=3))
    save_layers(case, **{"0.0": "nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))",
                         "0.1": "nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8))",
                         "2": "nn.Linear(8, 10)"})
    result = analyze_alone(case, False)
    lines = {k: f.span.line + 1 for f in result.findings if f.severity == "error" for k in f.keys}
    assert lines["0.2.0.weight"] == CONV_LINE and lines["0.2.1.running_mean"] == BN_LINE, lines
    assert lines["2.weight"] == HEAD_LINE, lines  # the Linear in `layers += [...]`


METHODS = """
import torch
import torch.nn as nn


def build():
    layers = []
    layers.append(nn.Linear(4, 4))
    layers.insert(0, nn.Linear(4, 4))
    layers.extend([nn.ReLU(), nn.Linear(4, {last})])
    return nn.ModuleList(layers)


build().load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("last", [2, 3], ids=["matches", "differs"])
def test_insert_extend_and_a_module_list(case, last, execute) -> None:
    case.write("main.py", METHODS.format(last=last))
    save_layers(case, **{"0": "nn.Linear(4, 4)", "1": "nn.Linear(4, 4)", "3": "nn.Linear(4, 2)"})
    judged_like_pytorch(case, execute, "mismatched")


UNDECIDED = """
import os
import torch
import torch.nn as nn


def build():
    layers = [nn.Linear(4, 4)]
    widths = [4]
    if os.environ.get("BIG"):
        layers.append(nn.Linear(4, 4))
        widths.append(8)
    return nn.Sequential(*layers, nn.Linear(4, widths[-1]))


build().load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_list_changed_under_a_test_known_only_at_run_time_stays_unknown(case, execute) -> None:
    """The change made under the `if` was undone with the branch's other changes: the list
    kept its first value, a clean verdict that holds only when BIG is unset."""
    case.write("main.py", UNDECIDED)
    save_layers(case, **{"0": "nn.Linear(4, 4)", "1": "nn.Linear(4, 4)"})
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False  # BIG unset here; set, it raises
    result = analyze_alone(case, execute)
    (report,) = result.reports
    assert report.how is None, [f.message for f in result.findings]
    (finding,) = result.findings
    assert 'depends on `os.environ.get("BIG")`, known only at run time' in finding.message, finding.message


ATTENTION = """
import torch
import torch.nn as nn


class Layer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 1)


class Net(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.layers = nn.ModuleList([Layer(dim) for _ in range(1)])


Net(4).load_state_dict(torch.load("w.pt"))
"""


def test_a_submodule_torch_makes_is_reported_on_its_parents_line(case) -> None:
    """`out_proj` is made inside torch's MultiheadAttention: its diagnostic goes on the attention's
    line (as `in_proj_weight`'s does), not on the ModuleList line around it."""
    case.write("main.py", ATTENTION)
    save_layers(case, **{"layers.0.attn": "nn.MultiheadAttention(8, 1)"})
    result = analyze_alone(case, False)
    lines = {k: f.span.line + 1 for f in result.findings if f.severity == "error" for k in f.keys}
    assert lines == {k: 8 for k in ("layers.0.attn.in_proj_weight", "layers.0.attn.in_proj_bias",
                                    "layers.0.attn.out_proj.weight", "layers.0.attn.out_proj.bias")}, lines
