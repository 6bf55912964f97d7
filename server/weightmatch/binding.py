"""Binding a call's arguments to a function's parameters as Python does, for both
interpreters: the source interpreter (interpret.py, calls.py), which records what it cannot
bind as unknown, and the constructor interpreter (static/), which steps aside. What differs
between them is a `Policy`; the rules are written once.

`inspect.Signature.bind` is not usable here: the functions are ASTs, not live objects, and a
default is evaluated by the caller's interpreter only when it is needed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Policy:
    default: Callable[[ast.expr], Any]
    """The value of a parameter's default expression (evaluated where the function is defined)."""
    problem: Callable[[str, str | None], Any]
    """Called with what Python would raise a TypeError for, and the parameter left without a
    value (None when there is none to bind): raises to step aside, or returns the parameter's
    value (an unknown saying why)."""
    pack_args: Callable[[list[Any]], Any] = tuple
    pack_kwargs: Callable[[dict[str, Any]], Any] = dict


def bind(spec: ast.arguments, name: str, args: list[Any], kwargs: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The function's locals on entry: each parameter's value, `*args` and `**kwargs` packed."""
    positional = [*spec.posonlyargs, *spec.args]
    bound: dict[str, Any] = dict(zip((p.arg for p in positional), args))
    extra = list(args[len(positional):])
    if spec.vararg is not None:
        bound[spec.vararg.arg] = policy.pack_args(extra)
    elif extra:
        policy.problem(f"`{name}` takes {len(positional)} positional arguments but {len(args)} were given", None)
    by_keyword = {p.arg for p in spec.args} | {p.arg for p in spec.kwonlyargs}
    rest: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in by_keyword:
            if key in bound:
                policy.problem(f"`{name}` got `{key}` twice", None)
            bound[key] = value
        elif spec.kwarg is not None:
            rest[key] = value
        else:
            policy.problem(f"`{name}` has no argument `{key}`", None)
    if spec.kwarg is not None:
        bound[spec.kwarg.arg] = policy.pack_kwargs(rest)
    defaults = dict(zip((p.arg for p in positional[len(positional) - len(spec.defaults):]), spec.defaults))
    defaults.update((p.arg, d) for p, d in zip(spec.kwonlyargs, spec.kw_defaults) if d is not None)
    for param in [*positional, *spec.kwonlyargs]:
        if param.arg not in bound:
            default = defaults.get(param.arg)
            bound[param.arg] = policy.default(default) if default is not None else \
                policy.problem(f"`{name}` is missing the argument `{param.arg}`", param.arg)
    return bound
