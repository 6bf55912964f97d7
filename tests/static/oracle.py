"""The truth for tests: build with real torch on the meta device and describe it with
`worker.build.expected_state`, the function whose answers are judged against
load_state_dict itself (tests/compare/test_compare_oracle.py)."""

from __future__ import annotations

import sys
import textwrap

import torch
from torch import nn

from weightmatch.static import build_static
from weightmatch.types import ExpectedState, Recipe
from weightmatch.worker.build import expected_state

HEADER = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nfrom collections import OrderedDict\n"


def torch_state(model: nn.Module) -> ExpectedState:
    """The model's expected state by production's one function (the worker's), which
    tests/compare/test_compare_oracle.py judges by load_state_dict itself."""
    return expected_state(model)


def run_torch(source: str, constructor: str, steps: list[str] = (), var: str = "model", root: str | None = None):
    ns: dict = {"__name__": "__main__"}
    if root:
        sys.path.insert(0, root)
    try:
        with torch.device("meta"):
            exec(compile(source, "<script>", "exec"), ns)
            ns[var] = eval(constructor, ns)
            for step in steps:
                exec(step, ns)
    finally:
        if root:
            sys.path.remove(root)
            for name in [n for n, mod in sys.modules.items() if (getattr(mod, "__file__", "") or "").startswith(root)]:
                del sys.modules[name]
    return torch_state(ns[var])


def recipe(source: str, constructor: str, steps: list[str] = (), file: str = "/nonexistent/script.py",
           root: str = "/nonexistent") -> Recipe:
    return Recipe(file=file, source=source, root=root, var="model", constructor=constructor, steps=list(steps))


def assert_same(source: str, constructor: str, steps: list[str] = (), *, file: str = "/nonexistent/script.py",
                root: str = "/nonexistent") -> ExpectedState:
    source = textwrap.dedent(source)
    static = build_static(recipe(source, constructor, steps, file, root))
    real = run_torch(source, constructor, list(steps), root=root if root != "/nonexistent" else None)
    assert static.how == "static"
    assert list(static.keys().items()) == list(real.keys().items())
    assert static.modules == real.modules
    assert static.model_type == real.model_type
    return static
