"""A function's scope as the tracker runs it: its own names over the scopes around it, with
`global` and `nonlocal` sending an assignment out, as Python does."""

from __future__ import annotations

import ast
from collections import ChainMap
from typing import Any

from weightmatch.pyfile import PyFile


class Scope(ChainMap):
    """A function's names over the scopes around it, where `global x` / `nonlocal x` make an
    assignment to `x` bind it in the module / the enclosing function, as Python does."""

    def declared(self, fn: ast.AST, module: dict, closure: Any) -> None:
        self.outside: dict[str, Any] = {}
        for node in _own_statements(fn):
            if isinstance(node, ast.Global):
                self.outside.update(dict.fromkeys(node.names, module))
            elif isinstance(node, ast.Nonlocal) and isinstance(closure, ChainMap):
                for name in node.names:
                    self.outside[name] = next((m for m in closure.maps[:-1] if name in m), closure.maps[0])

    def __setitem__(self, key: str, value: Any) -> None:
        target = getattr(self, "outside", {}).get(key)
        if target is not None:
            target[key] = value
        else:
            super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        target = getattr(self, "outside", {}).get(key)
        if target is not None:
            target.pop(key, None)
        else:
            super().__delitem__(key)


def _own_statements(fn: ast.AST):
    """The statements of a function's own body (not of the functions and classes it defines)."""
    stack = list(getattr(fn, "body", []))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))


def global_writes(pf: PyFile) -> frozenset[str]:
    """Names some function of the file declares `global`: what calling it may rebind (walked
    once per parsed file: it is asked at every call not followed)."""
    cached = pf.__dict__.get("_global_writes")
    if cached is None:
        cached = frozenset(name for node in ast.walk(pf.tree) if isinstance(node, ast.Global) for name in node.names)
        pf.__dict__["_global_writes"] = cached
    return cached
