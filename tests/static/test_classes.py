"""User module classes: defaults, kwargs, nesting, imports, loops, comprehensions,
buffers, parameters, steps; and every unsupported construct raises instead of guessing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from oracle import HEADER, assert_same, recipe
from weightmatch.static import StaticUnsupported, build_static

NET = HEADER + '''
HIDDEN = 8 * 2
class Base(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.width = width
        self.stem = nn.Conv2d(3, width, 3, padding=1)

class Block(nn.Module):
    expansion = 2
    def __init__(self, c, k=3, act=nn.ReLU):
        super(Block, self).__init__()
        self.conv = nn.Conv2d(c, c * self.expansion, k, bias=False)
        self.bn = nn.BatchNorm2d(c * self.expansion)
        self.act = act()

def make_mlp(sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])

class Net(Base):
    def __init__(self, num_classes=10, depth=2, use_head=True, **kw):
        super().__init__(width=4)
        self.blocks = nn.ModuleList([Block(self.width * 2 ** i) for i in range(depth)])
        for i in range(depth):
            setattr(self, f"extra{i}", nn.Linear(i + 1, 2))
        self.add_module("pool", nn.AdaptiveAvgPool2d(1))
        if use_head:
            self.head = make_mlp([self.width * 2 ** depth, HIDDEN, max(num_classes, 2)])
        else:
            self.head = nn.Identity()
        self.register_buffer("mask", torch.ones(3, 4, dtype=torch.bool))
        self.register_buffer("cache", torch.zeros(5), persistent=False)
        self.register_buffer("causal", torch.tril(torch.ones(4, 4)).view(1, 1, 4, 4))  # nanoGPT's mask
        self.register_buffer("upper", torch.ones(2, 3).triu(1))
        self.scale = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.gamma = nn.Parameter(torch.full((2, 2), 3.0))
        self.not_registered = [nn.Linear(2, 2)]
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
'''


@pytest.mark.parametrize("ctor", ["Net()", "Net(num_classes=3, depth=3)", "Net(5, 1, False, extra=1)"])
def test_user_class(ctor):
    assert_same(NET, ctor)


def test_steps():
    assert_same(NET, "Net()", ["model.head[2] = nn.Linear(16, 7)", "model.pool = nn.Sequential()",
                               "model.blocks.append(Block(2))", "model = model.to('meta').eval()",
                               "model.extra0 = nn.Linear(model.extra0.in_features, 9)"])
    assert_same(HEADER, "nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))",
                ["model[2] = nn.Linear(8, 5)", "model.half()"])


def test_sequential_subclass_and_versions():
    assert_same(HEADER + '''
class ConvBN(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 1), nn.BatchNorm2d(o))

class Old(nn.Module):
    _version = 3
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(OrderedDict(a=ConvBN(1, 2), b=nn.GRU(2, 3, 2, bidirectional=True)))
        self.body.add_module("c", nn.LSTM(6, 4, proj_size=2))
        self.heads = nn.ModuleDict({k: nn.Linear(2, n) for k, n in [("x", 1), ("y", 2)]})
    def _load_from_state_dict(self, *args):
        return super()._load_from_state_dict(*args)
    def get_extra_state(self):
        return {}
    def set_extra_state(self, state):
        pass
''', "Old()")


def test_imported_classes(tmp_path):
    pkg = tmp_path / "models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(HEADER + "class Block(nn.Module):\n    def __init__(self, c):\n"
                                   "        super().__init__()\n        self.fc = nn.Linear(c, c)\n")
    (pkg / "net.py").write_text(HEADER + "from .blocks import Block\nWIDTH = 3\nclass Net(nn.Module):\n"
                                "    def __init__(self, n=2):\n        super().__init__()\n"
                                "        self.layers = nn.Sequential(*(Block(WIDTH) for _ in range(n)))\n")
    script = tmp_path / "train.py"
    source = HEADER + "from models.net import Net\nimport models.blocks as mb\n"
    script.write_text(source)
    assert_same(source, "Net(n=3)", ["model.extra = mb.Block(4)"], file=str(script), root=str(tmp_path))


UNSUPPORTED = {
    "unknown function": ("from helpers import make_head\nclass M(nn.Module):\n    def __init__(self):\n"
                         "        super().__init__()\n        self.head = make_head(3)\n", "M()", "make_head"),
    "argparse": ("import argparse\nargs = argparse.ArgumentParser().parse_args()\n", "nn.Linear(args.n, 2)", "argparse"),
    "torchvision": ("import torchvision\n", "torchvision.models.resnet18(num_classes=2)", "torchvision"),
    "while loop": ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        i = 0\n"
                   "        while i < 2:\n            i += 1\n", "M()", "while"),
    "conditional constant": ("import os\nif os.environ.get('BIG'):\n    W = 8\nelse:\n    W = 4\n", "nn.Linear(W, 2)", "W"),
    "reassigned constant": ("W = 4\nW = 8\n", "nn.Linear(W, 2)", "W"),
    "module passed to unknown": ("from helpers import patch\nclass M(nn.Module):\n    def __init__(self):\n"
                                 "        super().__init__()\n        patch(self)\n", "M()", "patch"),
    "forward during init": ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                            "        self.f = nn.Conv2d(1, 2, 3)\n        n = self.f(torch.zeros(1, 1, 8, 8)).numel()\n"
                            "        self.fc = nn.Linear(n, 2)\n", "M()", "line"),
    "bad groups": ("", "nn.Conv2d(3, 4, 3, groups=2)", "divisible"),
    "missing super": ("class M(nn.Module):\n    def __init__(self):\n        self.x = 1\n", "M()", "super"),
    "unknown base": ("from lib import Fancy\nclass M(Fancy):\n    pass\n", "M()", "base"),
    "try block": ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        try:\n"
                  "            self.a = nn.Linear(1, 1)\n        except Exception:\n            pass\n", "M()", "try"),
    "unknown step": ("from lib import convert\n", "nn.Linear(2, 2)", "convert"),
    "unknown dtype cast": ("from lib import DT\n", "nn.Linear(2, 2)", "dtype"),
    "missing argument": ("class M(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n", "M()", "missing"),
    "raise": ("class M(nn.Module):\n    def __init__(self, n=1):\n        super().__init__()\n"
              "        if n < 2:\n            raise ValueError('n')\n", "M()", "raises"),
    "hook changes state_dict": ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                                "        self.register_state_dict_pre_hook(print)\n", "M()", "register_state_dict_pre_hook"),
    "dict passed to unknown": ("from lib import load_cfg\nCFG = {'w': 4}\nclass M(nn.Module):\n    def __init__(self):\n"
                               "        super().__init__()\n        load_cfg(CFG)\n        self.fc = nn.Linear(CFG['w'], 2)\n",
                               "M()", "could change it"),
    "callback passed to unknown": ("from lib import run\nW = [4]\ndef grow():\n    W.append(8)\n"
                                   "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                                   "        run(grow)\n        self.fc = nn.Linear(W[-1], 2)\n", "M()", "function"),
    "bound method passed to unknown": ("import json\nCFG = {'w': 4}\nclass M(nn.Module):\n    def __init__(self):\n"
                                       "        super().__init__()\n        json.loads('{}', object_hook=CFG.update)\n"
                                       "        self.fc = nn.Linear(CFG['w'], 2)\n", "M()", "could change it"),
    "default dtype changed": ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                              "        torch.set_default_dtype(torch.float64)\n        self.fc = nn.Linear(2, 2)\n",
                              "M()", "set_default_dtype"),
}
STEPS = {"unknown step": ["convert(model)"], "unknown dtype cast": ["model.to(DT)"]}


def test_a_call_not_known_statically_that_cannot_change_anything_is_passed_over():
    assert_same(HEADER + "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        dims = (2, 3)\n"
                "        print('dims', dims)\n        open('/dev/null').read()\n        self.fc = nn.Linear(*dims)\n", "M()")


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported(case):
    source, ctor, needle = UNSUPPORTED[case]
    with pytest.raises(StaticUnsupported) as err:
        build_static(recipe(HEADER + source, ctor, STEPS.get(case, [])))
    assert needle in err.value.reason


def test_reason_names_the_statement_and_line():
    source = HEADER + "from cfg import make_head\nclass M(nn.Module):\n    def __init__(self, cfg=None):\n" \
                      "        super().__init__()\n        self.head = make_head(cfg)\n"
    with pytest.raises(StaticUnsupported) as err:
        build_static(recipe(source, "M()"))
    line = source.splitlines().index("        self.head = make_head(cfg)") + 1
    assert err.value.reason.startswith("`self.head = make_head(cfg)`:")
    assert err.value.reason.endswith(f"(line {line})")
    assert err.value.line == line - 1


def test_import_does_not_import_torch():
    code = "import weightmatch.static, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
