"""Functions the interpreter applies itself to known plain values, where a builtin takes a
function: `sorted(names, key=lambda f: int("".join(filter(str.isdigit, f))))` (VITS's newest
checkpoint), `list.sort(key=...)`, `filter(str.isdigit, name)`, `map(int, parts)`. A lambda's body
is evaluated by the interpreter over each item (nothing the user wrote runs); `str` methods and
a few builtins are Python's own."""

from __future__ import annotations

import ast
from collections import ChainMap
from typing import Any, Callable

from weightmatch.values import Const

_STR_METHODS = {"isdigit", "isalpha", "isalnum", "isdecimal", "isnumeric", "isspace", "islower", "isupper",
                "strip", "lstrip", "rstrip", "lower", "upper", "title", "casefold"}
_BUILTINS: dict[str, Callable] = {"int": int, "float": float, "str": str, "len": len, "abs": abs, "bool": bool}


class NotKnown(Exception):
    """The function's result for an item is not known statically (its message says why)."""


def function(ev, node: ast.expr | None, env: dict) -> Callable[[Any], Any] | None:
    """A Python function computing what `node` computes for one plain value; None when `node` is
    not a function the interpreter applies itself."""
    if isinstance(node, ast.Lambda):
        a = node.args
        if len(a.args) != 1 or a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            return None
        name, body = a.args[0].arg, node.body

        def apply(item: Any) -> Any:
            got = ev.ev(body, ChainMap({name: Const(item)}, env))
            if not isinstance(got, Const):
                raise NotKnown(getattr(got, "reason", "") or f"`{ast.unparse(body)}` is not known statically")
            return got.value
        return apply
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "str" \
            and "str" not in env and node.attr in _STR_METHODS:
        return getattr(str, node.attr)
    if isinstance(node, ast.Name) and node.id in _BUILTINS and node.id not in env and ev.pf.dotted(node) == node.id:
        return _BUILTINS[node.id]
    return None
