"""Keep torchvision's model definitions usable when its compiled ops are not.

A torchvision wheel built for another torch fails on import ("operator torchvision::nms
does not exist"), yet its model builders are plain Python. When, and only when, the real
`import torchvision` raises, the half-imported package object is turned in place into a
bare package: same `__path__` (the real folder), no `__init__` code, and a module
`__getattr__` that imports submodules on first access, so `import torchvision.models`,
`from torchvision import models` and `torchvision.models.resnet18(...)` all work.

`install()` puts a one-shot finder at the front of `sys.meta_path`; a process that never
imports torchvision pays nothing. `note()` tells whether the fallback was taken.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

_state: dict[str, str] = {}  # "reason" once the fallback was taken
_KEEP = {"__name__", "__path__", "__file__", "__spec__", "__loader__", "__package__", "__doc__"}


def note() -> str | None:
    reason = _state.get("reason")
    if reason is None:
        return None
    return f"torchvision's compiled ops are unavailable ({reason}); model definitions loaded without them"


class _FallbackLoader(importlib.abc.Loader):
    def __init__(self, real: importlib.machinery.ModuleSpec) -> None:
        self.real = real

    def create_module(self, spec: Any) -> None:
        return None  # the default module object; exec_module decides what it becomes

    def exec_module(self, module: types.ModuleType) -> None:
        try:
            self.real.loader.exec_module(module)  # type: ignore[union-attr]
            return
        except Exception as exc:  # noqa: BLE001 - any failure of the real package
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        # Drop what the failed import left behind (torchvision.extension, ...) and keep the
        # module object itself: it is already in sys.modules and maybe bound by the importer.
        for name in [n for n in sys.modules if n.startswith("torchvision.")]:
            del sys.modules[name]
        for key in [k for k in module.__dict__ if k not in _KEEP]:
            del module.__dict__[key]
        module.__dict__["__getattr__"] = _lazy_submodule(module)
        _state["reason"] = reason


def _lazy_submodule(package: types.ModuleType) -> Any:
    folders = list(getattr(package, "__path__", []))

    def __getattr__(attr: str) -> Any:
        if attr == "__version__":
            return importlib.import_module("torchvision.version").__version__
        if not attr.startswith("__") and any(
            os.path.isdir(os.path.join(d, attr)) or os.path.isfile(os.path.join(d, attr + ".py"))
            for d in folders
        ):
            return importlib.import_module("torchvision." + attr)
        raise AttributeError(f"module 'torchvision' has no attribute {attr!r}")

    return __getattr__


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "torchvision":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one shot: later imports use the result
        real = importlib.machinery.PathFinder.find_spec(name)
        if real is None or real.loader is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, _FallbackLoader(real), origin=real.origin, is_package=True)
        spec.submodule_search_locations = list(real.submodule_search_locations or [])
        spec.has_location = real.has_location
        return spec


def install() -> None:
    if "torchvision" in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
