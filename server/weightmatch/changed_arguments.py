"""Known data a model's constructor changes in place: PyTorch-VAE's `hidden_dims.reverse()` in
`VanillaVAE.__init__` reverses the very list `**config["model_params"]` passed, so a second
model made from the same config is built the other way round. The constructor itself runs in
static inference or the worker, not here, so what it does to its arguments is not followed:
a list or dict it changes in place becomes unknown wherever the script holds it (a later
model made from it stays unresolved, said, rather than built from the old value)."""

from __future__ import annotations

import ast
import posixpath
from collections import ChainMap
from typing import Any

from weightmatch import journal
from weightmatch.values import ClassVal, Const, Unknown

# methods that change a list, dict or set in place
_CHANGING = {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "sort", "reverse", "update",
             "setdefault", "add", "discard"}
_MAX_DEPTH = 4  # how deep a holder's data is searched for the changed object


def changed_params(fn: ast.FunctionDef) -> dict[str, tuple[str, int]]:
    """The parameters `fn` changes in place, each with the first change, as written, and its line."""
    cached = fn.__dict__.get("_changed_params")
    if cached is not None:
        return cached
    names = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
    found: dict[str, tuple[str, int]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _CHANGING \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in names:
            found.setdefault(node.func.value.id, (_short(node), node.lineno))
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            base = t.value if isinstance(t, ast.Subscript) else t if isinstance(node, ast.AugAssign) else None
            if isinstance(base, ast.Name) and base.id in names:
                text = f"del {_short(t)}" if isinstance(node, ast.Delete) else \
                    _short(t) + (" = …" if isinstance(node, ast.Assign) else " += …")
                found.setdefault(base.id, (text, node.lineno))
    fn.__dict__["_changed_params"] = found
    return found


def forget_changed_arguments(ev, node: ast.Call, env: dict, cls: Any) -> None:
    """After `node` made a model of the workspace class `cls`: the known lists and dicts its
    `__init__` methods change in place become unknown in every name and config holding them."""
    if not isinstance(cls, ClassVal):
        return
    inits = [(s, c.file) for c in ev.class_chain(cls) for s in c.node.body
             if isinstance(s, ast.FunctionDef) and s.name == "__init__"]
    changed = {name: (how, pf) for fn, pf in reversed(inits) for name, how in changed_params(fn).items()}
    if not changed:
        return
    first = inits[0][0]
    positional = [a.arg for a in [*first.args.posonlyargs, *first.args.args]][1:]
    passed: list[tuple[str, Any]] = [(positional[i], node.args[i]) for i in range(min(len(positional), len(node.args)))
                                     if not isinstance(node.args[i], ast.Starred)]
    passed += [(k.arg, k.value) for k in node.keywords if k.arg is not None]
    objects = [(name, ev.ev(expr, env)) for name, expr in passed if name in changed]
    for k in node.keywords:
        spread = ev.ev(k.value, env) if k.arg is None else None
        if isinstance(spread, Const) and isinstance(spread.value, dict):
            objects += [(name, Const(spread.value[name])) for name in changed if name in spread.value]
    for name, value in objects:
        if isinstance(value, Const) and isinstance(value.value, (list, dict, set)):
            (text, line), pf = changed[name]
            reason = f"`{name}` is changed in place by {cls.node.name}.__init__ (`{text}`, " \
                     f"{posixpath.basename(pf.path)}:{line})"
            _forget(ev, value.value, reason, env)


def _forget(ev, obj: Any, reason: str, env: dict) -> None:
    modules = {id(m): path for path, m in ev.module_envs.items()}
    for m in [*(env.maps if isinstance(env, ChainMap) else [env]), *ev.module_envs.values()]:
        for name, value in list(m.items()):
            if isinstance(value, Const) and _holds(value.value, obj, 0):
                journal.put(m, name, Unknown(reason))
                if id(m) in modules:  # a recipe replayed in that file would define it from its text again
                    ev.forgotten.add((modules[id(m)], name))


def _holds(data: Any, obj: Any, depth: int) -> bool:
    if data is obj:
        return True
    if depth >= _MAX_DEPTH:
        return False
    items = data.values() if isinstance(data, dict) else data if isinstance(data, (list, tuple)) else ()
    return any(_holds(v, obj, depth + 1) for v in items)


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
