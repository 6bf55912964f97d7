"""Where a size mismatch is reported when the model is built by the worker (static inference
steps aside: here a buffer made by a tensor method it does not model): a bare `nn.Parameter` of
a block on its own line in the block's class, through an `nn.ModuleList` made by a generator
(every element is made by its element expression). Judged by real PyTorch."""

from __future__ import annotations

from analysis_helpers import analyze_alone, judged_like_pytorch

MAIN = """
import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self, window):
        super().__init__()
        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, 2))
        self.register_buffer("index", torch.arange(window * window).flip(0).unsqueeze(1), persistent=False)


class Block(nn.Module):
    def __init__(self, window):
        super().__init__()
        self.attn = Attention(window)
        self.mlp = nn.Linear(4, 4)


class Net(nn.Module):
    def __init__(self, window, depth=2):
        super().__init__()
        self.blocks = nn.ModuleList(Block(window) for _ in range(depth))


model = Net(window=WINDOW)
model.load_state_dict(torch.load("w.pt"))
"""


def test_a_bare_parameter_of_a_block_in_a_generated_list(case) -> None:
    case.write("main.py", MAIN.replace("WINDOW", "8"))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\n"
               "exec(open('main.py').read().split('model = Net')[0])\n"
               "torch.save(Net(window=4).state_dict(), 'w.pt')")
    judged_like_pytorch(case, True, "mismatched")
    result = analyze_alone(case, True)
    (report,) = result.reports
    assert report.how == "executed"
    table = (case.dir / "main.py").read_text().splitlines().index(
        "        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, 2))")
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors and {f.span.line for f in errors} == {table}, [(f.span.line, f.message) for f in errors]
