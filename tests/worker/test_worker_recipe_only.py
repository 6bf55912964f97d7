"""Issue 14, item 10: the worker runs only the recipe. Each bypass the red team found
writes a canary file from code outside the recipe; the model must still build and the
canary must never appear."""

from __future__ import annotations

import pytest

SMALL = """
import os
import torch.nn as nn
CANARY = {canary!r}

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
"""

TOUCH = "open(CANARY, 'w').close()"

BYPASSES = {
    "safe name imported under another name": ("from os import system as len\n"
                                              "_x = len('touch ' + CANARY)\n", {}),
    "safe name rebound": "len = os.system\n_x = len('touch ' + CANARY)\n",
    "bool rebound in an if test": "bool = os.system\nif bool('touch ' + CANARY):\n    pass\n",
    "decorator of an unrelated function": (f"def deco(f):\n    {TOUCH}\n    return f\n\n"
                                           "@deco\ndef unrelated():\n    pass\n"),
    "default argument of an unrelated function": "def unrelated(x=open(CANARY, 'w')):\n    pass\n",
    "helper module __getattr__": ("import helpers\nX = helpers.anything\n",
                                  {"helpers.py": f"CANARY = {{canary!r}}\ndef __getattr__(name):\n    {TOUCH}\n    return 1\n"}),
    "metaclass __eq__ of an imported class": ("from shapes import E\nFLAG = E == 1\n",
                                              {"shapes.py": ("CANARY = {canary!r}\nclass Meta(type):\n"
                                                             f"    def __eq__(cls, other):\n        {TOUCH}\n        return True\n"
                                                             "    __hash__ = type.__hash__\n"
                                                             "class E(metaclass=Meta):\n    pass\n")}),
    "__class_getitem__ of an imported class": ("from shapes import E\nITEM = E[3]\n",
                                               {"shapes.py": ("CANARY = {canary!r}\nclass E:\n"
                                                              f"    def __class_getitem__(cls, item):\n        {TOUCH}\n        return cls\n")}),
}


@pytest.mark.parametrize("name", list(BYPASSES))
def test_code_outside_the_recipe_never_runs(client, make_recipe, tmp_path, name):
    canary = str(tmp_path / "CANARY")
    spec = BYPASSES[name]
    body, files = (spec, {}) if isinstance(spec, str) else spec
    files = {path: text.format(canary=canary) for path, text in files.items()}
    source = SMALL.format(canary=canary) + body
    state = client.build(make_recipe(source, "Small()", files=files))
    assert "fc.weight" in state.keys()
    assert not (tmp_path / "CANARY").exists(), f"{name}: code outside the recipe ran"


def test_a_decorated_builder_the_recipe_calls_still_builds(client, make_recipe, tmp_path):
    source = SMALL.format(canary=str(tmp_path / "unused")) + (
        "REGISTRY = {}\n\ndef register(f):\n    REGISTRY[f.__name__] = f\n    return f\n\n"
        "@register\ndef make(width: int = 3):\n    return Small()\n")
    state = client.build(make_recipe(source, "make()"))
    assert "fc.weight" in state.keys()


def test_aliases_of_workspace_classes_are_kept(client, make_recipe, tmp_path):
    files = {"nets.py": "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                        "        super().__init__()\n        self.fc = nn.Linear(2, 5)\n"}
    state = client.build(make_recipe("from nets import Net\nModel = Net\n", "Model()", files=files))
    assert state.keys()["fc.weight"].shape == (5, 2)


def test_an_object_the_analysis_followed_builds_with_its_class(client, make_recipe):
    """The recipe's `recipe_objects.made(Config, ...)`: the worker makes the object with the
    attributes given, its `__init__` not run again, its properties working; static inference
    reads the same recipe to the same model."""
    from weightmatch.static import build_static

    source = ("import torch.nn as nn\n\nclass Config:\n    def __init__(self):\n        raise RuntimeError('not replayed')\n\n"
              "    @property\n    def norm_class(self):\n        return getattr(nn, self.norm)\n\n"
              "class Net(nn.Module):\n    def __init__(self, cfg):\n        super().__init__()\n"
              "        self.norm = cfg.norm_class(cfg.width)\n")
    recipe = make_recipe(source, "Net(__import__('weightmatch.recipe_objects', fromlist=['made'])"
                                 ".made(Config, width=6, norm='LayerNorm'))")
    state = client.build(recipe)
    assert {k: v.shape for k, v in state.keys().items()} == {"norm.weight": (6,), "norm.bias": (6,)}
    assert build_static(recipe).keys() == state.keys()
