"""How pytest calls a test function nothing in the workspace calls: once per parameter set of
its `@pytest.mark.parametrize` decorators (stacked ones multiply), with each set's values.
Fixtures and `indirect` parameters stay unknown; past MAX_SETS runs, the function is analysed
once with its parameters unknown, as before."""

from __future__ import annotations

import ast
from typing import Any, Callable

from weightmatch.values import Const

MAX_SETS = 16


def parameter_sets(fn: ast.FunctionDef | ast.AsyncFunctionDef, dotted: Callable[[ast.AST], str | None],
                   ev: Callable[[ast.expr], Any]) -> list[dict[str, Any]] | None:
    """One {parameter: value} per run pytest makes; None when `fn` is not parametrized this way
    (or its sets are not known, or too many)."""
    sets: list[dict[str, Any]] = [{}]
    found = False
    for d in reversed(fn.decorator_list):  # the closest first, in pytest's order of ids
        if not (isinstance(d, ast.Call) and dotted(d.func) == "pytest.mark.parametrize"):
            continue
        found = True
        runs = _one_decorator(d, dotted, ev)
        if runs is None or len(sets) * len(runs) > MAX_SETS:
            return None
        sets = [{**s, **r} for s in sets for r in runs]
    return sets if found else None


def _one_decorator(d: ast.Call, dotted, ev) -> list[dict[str, Any]] | None:
    argnames = d.args[0] if d.args else next((k.value for k in d.keywords if k.arg == "argnames"), None)
    argvalues = d.args[1] if len(d.args) > 1 else next((k.value for k in d.keywords if k.arg == "argvalues"), None)
    if argnames is None or argvalues is None or any(k.arg == "indirect" for k in d.keywords):
        return None
    names = ev(argnames)
    if not isinstance(names, Const):
        return None
    if isinstance(names.value, str):
        names = [n.strip() for n in names.value.split(",") if n.strip()]
    elif isinstance(names.value, (list, tuple)) and all(isinstance(n, str) for n in names.value):
        names = list(names.value)
    else:
        return None
    if not isinstance(argvalues, (ast.List, ast.Tuple)):
        return None
    runs = []
    for item in argvalues.elts:
        if isinstance(item, ast.Call) and dotted(item.func) == "pytest.param":
            values = [ev(a) for a in item.args]  # `pytest.param(4, marks=..., id=...)`
        elif len(names) == 1:
            values = [ev(item)]
        elif isinstance(item, (ast.Tuple, ast.List)):
            values = [ev(e) for e in item.elts]
        else:
            value = ev(item)
            if not (isinstance(value, Const) and isinstance(value.value, (list, tuple))):
                return None
            values = [Const(v, value.origin) for v in value.value]
        if len(values) != len(names):
            return None
        runs.append(dict(zip(names, values)))
    return runs


def describe(run: dict[str, Any]) -> str:
    """`width=4, bias=True`, for the call path a message names."""
    return ", ".join(f"{k}={v.value!r}" if isinstance(v, Const) else k for k, v in run.items())
