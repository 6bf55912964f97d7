"""A `pathlib.Path` is no `str` (yolov5's `isinstance(weights, (str, Path))`, a model sized by
`isinstance(p, str)`): the analysis keeps a Path apart from a string in type tests and equality,
and a recipe makes it again as a Path; judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes

MAIN = """
from pathlib import Path

import torch
import torch.nn as nn

p = {path}
model = nn.Linear(4, 8 if {test} else 5)
model.load_state_dict(torch.load(p))
"""

TESTS = {"isinstance-str": "isinstance(p, str)", "isinstance-either": "isinstance(p, (str, Path))",
         "isinstance-path": "isinstance(p, Path)", "equals-text": 'p == "w.pt"'}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("path", ['Path("w.pt")', '"w.pt"', 'Path(".") / "w.pt"', 'Path(".").joinpath("w.pt")'],
                         ids=["path", "text", "joined", "joinpath"])
@pytest.mark.parametrize("test", list(TESTS))
def test_a_path_is_no_string(case, execute, path, test) -> None:
    case.write("main.py", MAIN.format(path=path, test=TESTS[test]))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 5).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None, truth
    result = analyze_alone(case, execute)
    errors = [f.message for f in result.findings if f.severity == "error"]
    assert bool(errors) == truth["loads"][0]["raises"] or not errors and any(
        f.code.startswith("unresolved") for f in result.findings), (errors, truth)
