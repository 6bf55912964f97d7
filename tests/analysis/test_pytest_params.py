"""A test function pytest runs once per `@pytest.mark.parametrize` set: each run is judged with
its values, and the failing runs are named. Truth: pytest itself, run on the same file with real
PyTorch."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from analysis_helpers import analyze_alone

TEST_FILE = """
import pytest
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, depth=1):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("width, bias", [(4, True), pytest.param(8, False, id="wide")])
def test_roundtrip(width, bias, depth):
    model = Net(width, depth)
    model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_each_parameter_set_is_judged_and_the_failing_ones_named(case, execute) -> None:
    case.write("test_model.py", TEST_FILE)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.ModuleList([nn.Linear(4, 4)]).state_dict() and "
               "{'blocks.0.' + k: v for k, v in nn.Linear(4, 4).state_dict().items()}, 'w.pt')")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_model.py"],
                         cwd=case.dir, capture_output=True, text=True, timeout=300)
    failed = sorted(re.findall(r"FAILED test_model.py::test_roundtrip\[([^\]]+)\]", run.stdout))
    assert len(failed) == 3, run.stdout[-3000:]  # only width 4, depth 1 loads
    result = analyze_alone(case, execute, script="test_model.py")
    errors = [f for f in result.findings if f.severity == "error"]
    named = sorted({m for f in errors for m in re.findall(r"with (width=\d+, bias=\w+, depth=\d+)", f.message)})
    assert len(named) == 3, [f.message for f in result.findings]
    assert "width=4, bias=True, depth=1" not in named
    assert not [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]


UNITTEST_FILE = """
import unittest
import torch
import torch.nn as nn


class Base(unittest.TestCase):
    def setUp(self):
        self.width = {width}


class TestLoad(Base):
    def create_model(self):
        model = nn.Sequential(nn.Linear(4, self.width), nn.Linear(self.width, 2))
        return model, torch.load("w.pt")

    def test_load(self):
        model, state_dict = self.create_model()
        model.load_state_dict(state_dict)


class TestPlain:
    def setup_method(self, method):
        self.width = {width}

    def test_load(self):
        model = nn.Sequential(nn.Linear(4, self.width), nn.Linear(self.width, 2))
        model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_methods_of_test_classes_run_on_an_object_of_their_class(case, width, execute) -> None:
    """unittest and pytest make the test class's object without arguments and run `setUp` /
    `setup_method` first: `self.width` and `self.create_model()` are known."""
    case.write("test_model.py", UNITTEST_FILE.format(width=width))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).state_dict(), 'w.pt')")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_model.py"],
                         cwd=case.dir, capture_output=True, text=True, timeout=300)
    failed = sorted(re.findall(r"FAILED test_model.py::(\w+)::test_load", run.stdout))
    assert failed == ([] if width == 8 else ["TestLoad", "TestPlain"]), run.stdout[-3000:]
    result = analyze_alone(case, execute, script="test_model.py")
    assert not [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]
    errors = sorted({f.load_call.line + 1 for f in result.findings if f.severity == "error"})
    lines = UNITTEST_FILE.splitlines()
    loads = [i for i, text in enumerate(lines, 0) if "load_state_dict(" in text]
    assert errors == ([] if width == 8 else loads), [f.message for f in result.findings]
