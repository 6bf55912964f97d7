"""nn.Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict: indexing,
item assignment and deletion, iteration, truth and `in`; and walking a module tree.
Mixed into modules.ModuleOps."""

from __future__ import annotations

from typing import Any

from . import layers
from .values import Module, StaticUnsupported, Tensor, Unknown, int_like


class Containers:
    def _index(self, m: Module, idx: Any) -> int:
        n = len(m.params) if m.kind == "parameterlist" else len(m.modules)
        if not int_like(idx):
            raise StaticUnsupported("an index not known statically")
        if not -n <= idx < n:
            raise StaticUnsupported(f"index {idx} is out of range (PyTorch raises)")
        return idx + n if idx < 0 else idx

    def getitem(self, m: Module, key: Any) -> Any:
        if m.kind in ("sequential", "modulelist"):
            items = list(m.modules.items())
            if isinstance(key, slice):
                new = layers.new_module(m.name if m.cls is None else "Sequential" if m.kind == "sequential" else "ModuleList")
                if m.cls is not None:
                    raise StaticUnsupported("slicing a subclassed container is not followed statically")
                picked = items[key]
                for i, (k, v) in enumerate(picked):
                    new.modules[k if m.kind == "sequential" else str(i)] = v
                return new
            return items[self._index(m, key)][1]
        if m.kind in ("moduledict", "parameterdict"):
            d = m.modules if m.kind == "moduledict" else m.params
            if key not in d:
                raise StaticUnsupported(f"key {key!r} is not in the {m.name} (PyTorch raises)")
            return d[key]
        if m.kind == "parameterlist":
            return self.getattr(m, str(self._index(m, key)))
        if m.cls is not None and m.cls.lookup("__getitem__") is not None:
            return self.interp.call(self.getattr(m, "__getitem__"), [key], {})
        raise StaticUnsupported(f"`{m.name}` is not subscriptable statically")

    def setitem(self, m: Module, key: Any, value: Any) -> None:
        if m.kind == "sequential":
            self.setattr(m, list(m.modules)[self._index(m, key)], value)
        elif m.kind == "modulelist":
            self.setattr(m, str(self._index(m, key)), value)
        elif m.kind == "moduledict":
            self.add_module(m, key, value)
        elif m.kind in ("parameterlist", "parameterdict"):
            name = str(self._index(m, key)) if m.kind == "parameterlist" else key
            self._set_param_item(m, name, value)
        else:
            raise StaticUnsupported(f"item assignment on `{m.name}` is not followed statically")

    def _set_param_item(self, m: Module, name: Any, value: Any) -> None:
        if not isinstance(name, str):
            raise StaticUnsupported("a parameter key not known statically")
        if isinstance(value, Tensor):
            value = Tensor(value.shape, value.dtype, True)  # ParameterList/Dict wrap plain tensors
        elif isinstance(value, Unknown):
            raise StaticUnsupported(f"a parameter not known statically: {value.reason}")
        self.setattr(m, name, value)

    def delitem(self, m: Module, key: Any) -> None:
        if m.kind == "sequential" and int_like(key):
            self.delattr(m, list(m.modules)[self._index(m, key)])
        elif m.kind == "modulelist" and int_like(key):
            del m.modules[str(self._index(m, key))]
            m.modules = {str(i): v for i, v in enumerate(m.modules.values())}
        else:
            raise StaticUnsupported(f"`del` of an item of `{m.name}` is not followed statically")

    def iterate(self, m: Module) -> list:
        if m.kind in ("sequential", "modulelist"):
            return list(m.modules.values())
        if m.kind == "moduledict":
            return list(m.modules)
        if m.kind == "parameterlist":
            return [v for k, v in m.params.items()]
        if m.kind == "parameterdict":
            return list(m.params)
        raise StaticUnsupported(f"iterating over `{m.name}` is not followed statically")

    def truth(self, m: Module) -> bool:
        if m.kind:
            return bool(self.iterate(m))
        return True

    def contains(self, m: Module, key: str) -> bool:
        if m.kind == "moduledict":
            return key in m.modules
        if m.kind == "parameterdict":
            return key in m.params
        raise StaticUnsupported(f"`in` on `{m.name}` is not followed statically")

    def _walk(self, m: Module, prefix: str = "", seen: set[int] | None = None) -> list[tuple[str, Module]]:
        seen = set() if seen is None else seen
        if id(m) in seen:
            return []
        seen.add(id(m))
        out = [(prefix, m)]
        for name, child in m.modules.items():
            if child is not None:
                out += self._walk(child, f"{prefix}.{name}" if prefix else name, seen)
        return out
