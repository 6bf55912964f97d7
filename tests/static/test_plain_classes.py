"""Objects of the workspace's plain classes inside a model's construction: config classes with
properties and class methods, dataclasses, mixins, abstract bases. The truth is real torch
building the same source; what Python would refuse, or what a class could redefine, raises."""

from __future__ import annotations

import pytest

from oracle import HEADER, assert_same, recipe
from weightmatch.static import StaticUnsupported, build_static

CONFIG = HEADER + '''
from functools import cached_property, partial

PRESETS = {"tiny": dict(n_embd=16, n_layer=2, norm="LayerNorm")}


class Config:
    bias = False

    def __init__(self, n_embd=8, n_layer=1, norm="RMSNorm", heads=None):
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.norm = norm
        self.heads = heads if heads is not None else n_embd // 4

    @classmethod
    def from_name(cls, name, **kwargs):
        conf = PRESETS[name].copy()
        conf.update(kwargs)
        return cls(**conf)

    @property
    def norm_class(self):
        if self.norm == "RMSNorm":
            return partial(nn.RMSNorm, eps=1e-5)
        return getattr(torch.nn, self.norm)

    @cached_property
    def hidden(self):
        return self.n_embd * 4

    @staticmethod
    def round_up(n, k=8):
        return (n + k - 1) // k * k

    def head_size(self):
        return self.n_embd // self.heads


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm_1 = config.norm_class(config.n_embd)
        self.fc = nn.Linear(config.n_embd, Config.round_up(config.hidden + 1), bias=config.bias)
        self.proj = nn.Linear(config.head_size(), config.heads)


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        if hasattr(config, "missing") or getattr(config, "extra", None) is not None:
            self.extra = nn.Linear(1, 1)
'''


@pytest.mark.parametrize("ctor", ["GPT(Config())", "GPT(Config.from_name('tiny', n_layer=3))",
                                  "GPT(Config(n_embd=12, heads=3, norm='LayerNorm'))"])
def test_config_class_methods_and_properties(ctor):
    assert_same(CONFIG, ctor)


DATACLASSES = HEADER + '''
from dataclasses import dataclass, field
import dataclasses


@dataclass
class Base:
    n_embd: int = 8
    sizes: list = field(default_factory=lambda: [4, 6])


@dataclass(frozen=False)
class Config(Base):
    n_layer: int = 2
    padded: int = field(init=False, default=0)
    name: str = "x"

    def __post_init__(self):
        self.padded = self.n_embd * 2


@dataclasses.dataclass(frozen=True)
class Frozen:
    width: int
    depth: int = 1


class Net(nn.Module):
    def __init__(self, cfg, shape=Frozen(3)):
        super().__init__()
        self.fc = nn.Linear(cfg.padded, cfg.sizes[-1])
        self.layers = nn.Sequential(*[nn.Linear(cfg.n_embd, cfg.n_embd) for _ in range(cfg.n_layer)])
        self.shape = nn.Linear(shape.width, shape.depth)
'''


@pytest.mark.parametrize("ctor", ["Net(Config())", "Net(Config(4, [1, 2, 3], 1))",
                                  "Net(Config(n_layer=3, name='y'), Frozen(depth=2, width=5))"])
def test_dataclasses(ctor):
    assert_same(DATACLASSES, ctor)


MIXINS = HEADER + '''
import abc


class HeadMixin:
    def __init__(self, *args, head=3, **kwargs):
        super().__init__(*args, **kwargs)
        self.head = nn.Linear(self.width, head)

    def make_stem(self):
        return nn.Conv2d(3, self.width, 3)


class Sized(abc.ABC):
    @abc.abstractmethod
    def size(self):
        ...

    def doubled(self):
        return self.size() * 2


class Four(Sized):
    def size(self):
        return 4


class Trunk(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.width = width


class Net(HeadMixin, Trunk):
    def __init__(self, sized=None, **kwargs):
        super().__init__(**kwargs)
        self.stem = self.make_stem()
        if sized is not None:
            self.extra = nn.Linear(sized.doubled(), 1)
'''


@pytest.mark.parametrize("ctor", ["Net()", "Net(head=5, width=6)", "Net(Four(), width=2)"])
def test_mixins_and_abstract_bases(ctor):
    assert_same(MIXINS, ctor)


def test_an_object_the_analysis_followed_keeps_its_class():
    """The recipe's stand-in for a config object made by code it does not replay: the class's
    properties work on the attributes it was given; an attribute it was not given is unknown,
    never missing (a `getattr(cfg, "x", default)` must not take the default)."""
    made = "__import__('weightmatch.recipe_objects', fromlist=['made']).made"
    assert_same(CONFIG, f"Block({made}(Config, n_embd=12, n_layer=2, norm='LayerNorm', heads=4, bias=True))")
    with pytest.raises(StaticUnsupported) as err:
        build_static(recipe(CONFIG, f"Block({made}(Config, n_embd=12, n_layer=2, heads=4))"))
    assert "`norm` of the `Config` object is not known" in err.value.reason
    with pytest.raises(StaticUnsupported) as err:  # GPT asks hasattr(config, "missing")
        build_static(recipe(CONFIG, f"GPT({made}(Config, n_embd=12, n_layer=2, norm='LayerNorm', heads=4))"))
    assert "`missing` of the `Config` object is not known" in err.value.reason


UNSUPPORTED = {
    "abstract method left": (MIXINS + "class Bad(Sized):\n    pass\n", "Net(Bad())", "abstract methods (size)"),
    "dataclass missing field": (DATACLASSES, "Net(Config(), Frozen())", "missing the argument `width`"),
    "dataclass unknown keyword": (DATACLASSES, "Net(Config(depth=1))", "unexpected keyword argument `depth`"),
    "frozen set": (DATACLASSES + "def grow(f):\n    f.width = 9\n    return f\n", "Net(Config(), grow(Frozen(2)))",
                   "frozen"),
    "library class after a mixin": (MIXINS + "class Wrong(nn.Module, HeadMixin):\n    pass\n", "Wrong()", "order"),
    "own __new__": (CONFIG + "class Odd(Config):\n    def __new__(cls, *a):\n        return Config()\n",
                    "GPT(Odd())", "__new__"),
    "metaclass": (CONFIG + "class Meta(type):\n    pass\nclass C2(metaclass=Meta):\n    n_embd = 4\n",
                  "nn.Linear(C2().n_embd, 2)", "class keywords"),
    "other decorator": (CONFIG + "def deco(c):\n    return c\n@deco\nclass C3:\n    n_embd = 4\n",
                        "nn.Linear(C3().n_embd, 2)", "decorator"),
    "missing attribute": (CONFIG, "nn.Linear(Config().width, 2)", "has no attribute `width`"),
    "object with arguments": (HEADER + "class Plain:\n    pass\n", "nn.Linear(Plain(3).x, 2)", "takes no arguments"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported(case):
    source, ctor, needle = UNSUPPORTED[case]
    with pytest.raises(StaticUnsupported) as err:
        build_static(recipe(source, ctor))
    assert needle in err.value.reason


COPIES = HEADER + '''
import copy
from copy import deepcopy


def get_clones(module, n):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class Cfg:
    def __init__(self, widths):
        self.widths = widths


class Net(nn.Module):
    def __init__(self, n=3, cfg=None):
        super().__init__()
        layer = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        layer.scale = nn.Parameter(torch.ones(2))
        self.layers = get_clones(layer, n)
        base = cfg or Cfg([4, 6])
        other = deepcopy(base)
        other.widths.append(8)
        shallow = copy.copy(base)
        shallow.widths.append(5)
        self.a = nn.Linear(base.widths[-1], other.widths[-1])
        d = dict(k=3)
        args = [d, d]
        scaled = [deepcopy(a) for a in args]
        scaled[0]["k"] = 5
        self.b = nn.Conv2d(3, args[0]["k"], scaled[0]["k"])
'''


@pytest.mark.parametrize("ctor", ["Net()", "Net(2, Cfg([3]))"])
def test_copies(ctor):
    assert_same(COPIES, ctor)


def test_membership_in_a_set_literal():
    source = HEADER + ("class Net(nn.Module):\n    def __init__(self, norm='bn'):\n        super().__init__()\n"
                       "        if norm in {'bn', 'batch'}:\n            self.norm = nn.BatchNorm1d(4)\n"
                       "        elif norm not in {'none', ('a', 1)}:\n            self.norm = nn.LayerNorm(4)\n")
    for ctor in ("Net()", "Net('ln')", "Net('none')"):
        assert_same(source, ctor)
    with pytest.raises(StaticUnsupported, match="cannot iterate"):
        build_static(recipe(HEADER + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                                     "        self.fcs = nn.ModuleList([nn.Linear(4, len(n)) for n in {'a', 'bb'}])\n", "Net()"))
