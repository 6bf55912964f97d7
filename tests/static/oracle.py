"""The truth for tests: build with real torch on the meta device and read what
load_state_dict would walk (`_modules`, `_parameters`, `_buffers`)."""

from __future__ import annotations

import sys
import textwrap

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from weightmatch.static import build_static
from weightmatch.types import ExpectedState, ModuleSpec, Recipe, TensorInfo

HEADER = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nfrom collections import OrderedDict\n"


def _info(t: torch.Tensor) -> TensorInfo:
    shape = None if isinstance(t, UninitializedParameter) else tuple(t.shape)
    return TensorInfo(shape, str(t.dtype).removeprefix("torch."))


def torch_state(model: nn.Module) -> ExpectedState:
    modules: dict[str, ModuleSpec] = {}

    def walk(m: nn.Module, path: str) -> None:
        cls = type(m)
        load = cls._load_from_state_dict
        modules[path] = ModuleSpec(
            path=path,
            type=f"{cls.__module__}.{cls.__qualname__}",
            params={k: _info(v) for k, v in m._parameters.items() if v is not None},
            buffers={k: _info(v) for k, v in m._buffers.items()
                     if v is not None and k not in m._non_persistent_buffers_set},
            children=list(m._modules),
            version=cls._version,
            norm_fixup=isinstance(m, _NormBase) and m.track_running_stats,
            extra_state=getattr(cls, "get_extra_state", nn.Module.get_extra_state) is not nn.Module.get_extra_state,
            custom_load=not load.__module__.startswith("torch.")
            or bool(m._load_state_dict_post_hooks)
            or (bool(m._load_state_dict_pre_hooks) and not isinstance(m, LazyModuleMixin)),
        )
        for name, child in m._modules.items():
            if child is not None:
                walk(child, f"{path}.{name}" if path else name)

    walk(model, "")
    return ExpectedState(modules, "executed", type(model).__name__)


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
