"""Failed builds are cached by what they read, like successful ones; recipes that cannot
succeed are not sent to the worker (issue 11, item 9). Counted with the client's
`requests` / `skipped` counters, not by timing."""

from __future__ import annotations

import os
import time

import pytest

from weightmatch.types import Recipe
from weightmatch.worker import BuildError
from weightmatch.worker import client as client_module

FAILING = """
import torch.nn as nn
from blocks import WIDTH

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(WIDTH, 2)
        raise ValueError(f"width {WIDTH} is not supported")

def train():
    model = Net()
    return model
"""


def _edited(recipe: Recipe, source: str, line: int | None = None) -> Recipe:
    return Recipe(file=recipe.file, source=source, root=recipe.root, var=recipe.var,
                  constructor=recipe.constructor,
                  constructor_line=recipe.constructor_line if line is None else line, steps=list(recipe.steps))


def _fails(client, recipe: Recipe) -> BuildError:
    with pytest.raises(BuildError) as info:
        client.build(recipe)
    return info.value


def _touch(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
    later = time.time_ns() + 10_000_000
    os.utime(path, ns=(later, later))


def test_a_failed_build_is_asked_once_until_what_it_read_changes(client, make_recipe):
    recipe = make_recipe(FAILING, "Net()", files={"blocks.py": "WIDTH = 3\n"})
    recipe = _edited(recipe, recipe.source, line=11)
    before = client.requests
    first = _fails(client, recipe)
    assert first.kind == "user-code" and "width 3 is not supported" in first.message
    assert client.requests == before + 1

    # the same text again, and a comment and a changed training loop below the definitions:
    # nothing the replay reads changed, so the worker is not asked again
    assert _fails(client, recipe).message == first.message
    edited = _edited(recipe, recipe.source + "\n# tried a wider one\nprint('done')\n")
    assert _fails(client, edited).message == first.message
    assert client.requests == before + 1

    # the imported workspace file changes: asked again, with the new answer
    _touch(os.path.join(recipe.root, "blocks.py"), "WIDTH = 5\n")
    assert "width 5 is not supported" in _fails(client, recipe).message
    assert client.requests == before + 2
    assert "width 5" in _fails(client, edited).message and client.requests == before + 2

    # a line inserted above the class moves the lines the message names: asked again
    shifted = _edited(recipe, "# header\n" + recipe.source, line=12)
    again = _fails(client, shifted)
    assert client.requests == before + 3
    assert "train.py:10" in again.message and "train.py:9" in _fails(client, recipe).message

    # the class itself changes: asked again
    fixed = _edited(recipe, recipe.source.replace('raise ValueError(f"width {WIDTH} is not supported")', "pass"))
    assert sorted(client.build(fixed).keys()) == ["fc.bias", "fc.weight"]
    assert client.requests == before + 4


NEEDS_A_PARAMETER = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 2)

def restore(width, path):
    model = Net(width)
    return model

class Trainer:
    def setup(self):
        self.model = Net(self.width)
"""

RUNTIME_NAME = """
import argparse
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 2)

args = argparse.ArgumentParser().parse_args()
model = Net(args.width)
"""


@pytest.mark.parametrize("source, constructor, line", [
    (NEEDS_A_PARAMETER, "Net(width)", 9),  # a parameter of the function the load sits in
    (NEEDS_A_PARAMETER, "Net(self.width)", 14),  # `self`
    (RUNTIME_NAME, "Net(args.width)", 10),  # set only when the script runs
    (NEEDS_A_PARAMETER, "Net({'a': 1, 'b': width}['b'])", 9),
])
def test_a_recipe_that_cannot_succeed_is_not_sent(client, make_recipe, monkeypatch, source, constructor, line):
    recipe = make_recipe(source, constructor)
    recipe = _edited(recipe, recipe.source, line=line)
    # what the worker itself says about it
    with monkeypatch.context() as m:
        m.setattr(client_module, "cannot_succeed", lambda *a: None)
        asked = client.requests
        worker_said = _fails(client, recipe)
        assert client.requests == asked + 1
    client._cache.clear()
    asked, skipped = client.requests, client.skipped
    said = _fails(client, recipe)
    assert client.requests == asked and client.skipped == skipped + 1
    assert (said.kind, said.message) == (worker_said.kind, worker_said.message)


@pytest.mark.parametrize("constructor", [
    "Net(3)",
    "Net(WIDTH if FLAG else width)",  # which branch runs is the worker's to find out
    "Net(len([w for w in range(3)]))",
    "Net(helper())",  # a function bound at module level may bind more
    "Net(3 if 1 > 2 > width else 3)",  # a chained comparison stops at its first false link
])
def test_what_may_succeed_is_still_sent(client, make_recipe, constructor):
    source = NEEDS_A_PARAMETER + "\nWIDTH = 3\nFLAG = True\n\ndef helper():\n    return 4\n"
    recipe = make_recipe(source, constructor)
    asked = client.requests
    assert sorted(client.build(recipe).keys()) == ["fc.bias", "fc.weight"]
    assert client.requests == asked + 1


@pytest.mark.parametrize("extra", ["from os.path import *\n", "globals()['width'] = 3\n",
                                   "def f():\n    global width\n    width = 3\n"])
def test_names_bound_out_of_sight_keep_the_recipe_for_the_worker(client, make_recipe, extra):
    recipe = make_recipe(NEEDS_A_PARAMETER + extra, "Net(width)")
    asked = client.requests
    _fails(client, recipe)
    assert client.requests == asked + 1


def test_an_analysis_does_not_start_the_worker_for_what_cannot_succeed(tmp_path):
    from weightmatch.project import Project, Settings

    script = tmp_path / "restore.py"
    # `cfg` is a local of load(), made by a library the engine does not follow: the recipe
    # `Net(cfg)` goes past static inference, and the worker could only say NameError
    script.write_text(NEEDS_A_PARAMETER + "\n\ndef load(path):\n    import torch\n"
                      "    from somewhere_else import make_config\n    cfg = make_config()\n"
                      "    net = Net(cfg)\n    net.load_state_dict(torch.load(path))\n")
    project = Project(str(tmp_path), Settings(execute=True))
    try:
        analysis = project.analyze(str(script))
        assert [f.message for f in analysis.findings if f.code == "unresolved-model"] == [
            "Cannot build the model `Net(cfg)`: `cfg` gets its value from code that runs only when "
            "the script runs (needed at restore.py:22)"]
        assert project._builder._worker is None  # never started: no torch import for nothing
    finally:
        project.close()


def test_prepared_definitions_run_fresh_on_every_build(client, make_recipe):
    """The worker keeps each file's compiled definitions between builds; their module state
    is still new on every build (a registry the constructor fills starts empty each time)."""
    files = {"registry.py": """
        import torch.nn as nn
        SEEN = []
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                SEEN.append(1)
                self.fc = nn.Linear(len(SEEN), 2)
    """}
    first = make_recipe("from registry import Net\n", "Net()", files=files)
    second = _edited(first, first.source + "# another text: another build\n", line=1)
    second = Recipe(file=second.file, source=second.source, root=second.root, var=second.var,
                    constructor="Net() if True else None", steps=[])
    for recipe in (first, second):
        assert client.build(recipe).keys()["fc.weight"].shape == (2, 1)
    _touch(os.path.join(first.root, "registry.py"), "import torch.nn as nn\nclass Net(nn.Module):\n"
           "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(5, 2)\n")
    assert client.build(first).keys()["fc.weight"].shape == (2, 5)  # the new text is prepared


def test_a_build_reports_the_workspace_files_it_imported(client, make_recipe):
    """The analysis keeps them among its dependencies (an edit to one re-analyses, and a reused
    analysis is dropped: project.py), whether the build ran or came from the cache, succeeded or failed."""
    layers = "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, n=2):\n        super().__init__()\n" \
             "        self.fc = nn.Linear(1, n)\n"
    recipe = make_recipe("from layers_here import Net\n", "Net()", files={"layers_here.py": layers})
    imported = os.path.join(recipe.root, "layers_here.py")
    read: dict = {}
    client.build(recipe, read)
    assert imported in read and read[imported] == os.stat(imported).st_mtime_ns
    cached: dict = {}
    client.build(recipe, cached)
    assert cached == read
    failing = make_recipe("from layers_here import Net\n", "Net(n=-1)", files={"layers_here.py": layers})
    for _ in range(2):  # built, then from the failure cache
        read = {}
        with pytest.raises(BuildError):
            client.build(failing, read)
        assert imported in read
