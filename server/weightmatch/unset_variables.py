"""A `try` that reads an environment variable the bare run does not set, with a handler for the
KeyError (arcface_torch's `try: rank = int(os.environ["RANK"]) except KeyError: rank = 0`): in the
run checked (`python script.py`, no launcher) the read raises there, so the handler runs, and what
it sets says so (`$RANK unset`). The same assumption as `os.environ.get("RANK", 0)`
(environment.py). Part of the Interpreter (interpret.py)."""

from __future__ import annotations

import ast

from weightmatch import environment
from weightmatch.values import Const

# what catches the KeyError of a missing variable
_CATCHES = {"KeyError", "LookupError", "Exception", "BaseException", "builtins.KeyError", "builtins.LookupError",
            "builtins.Exception", "builtins.BaseException"}


def run_try(ev, stmt: ast.Try, env: dict, functions: dict) -> bool:
    """Run `stmt` as the bare run does when a statement of its body surely reads a variable not set
    (the statements before it, then the handler that catches KeyError, then `finally`); False, and
    nothing run, when no statement does or no handler catches it."""
    raising = next(((i, name) for i, s in enumerate(stmt.body) for name in [_unset_read(ev, s, env)] if name), None)
    handler = next((h for h in stmt.handlers if _catches(ev, h)), None)
    if raising is None or handler is None or handler.name:
        return False
    index, name = raising
    if not all(map(_changes_no_environment, stmt.body[:index])):
        return False  # (`os.environ["RANK"] = "0"` before the read: decided when it runs, not here)
    ev.block(stmt.body[:index], env, functions)
    before = dict(env)
    ev.block(handler.body, env, functions)
    why = f"${name} unset, its KeyError handled at line {handler.lineno}"
    for key, value in env.items():
        if isinstance(value, Const) and before.get(key) is not value:
            env[key] = Const(value.value, f"{value.origin}; {why}" if value.origin else why)
    ev.block(stmt.finalbody, env, functions)
    return True


def _unset_read(ev, stmt: ast.stmt, env: dict) -> str | None:
    """The variable `stmt` surely reads by `os.environ["K"]` (in its value, not under a condition or
    inside a function) when the run checked does not set it; else None."""
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr)) or stmt.value is None:
        return None
    work: list[ast.AST] = [stmt.value]
    while work:
        node = work.pop()
        if isinstance(node, (ast.Lambda, ast.IfExp, ast.BoolOp, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.GeneratorExp)):
            continue  # (evaluated only under a condition, or later)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and ev.pf.dotted(node.value) == "os.environ" \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str) \
                and environment.given(ev, node.slice.value) is None:
            return node.slice.value
        work.extend(ast.iter_child_nodes(node))
    return None


def _changes_no_environment(stmt: ast.stmt) -> bool:
    """A statement before the read that calls nothing but `int` / `str` / `float` / `bool` and sets
    no item: it cannot set the variable the read asks for."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in ("int", "str", "float",
                                                                                                 "bool")):
            return False
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            return False
    return True


def _catches(ev, handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((ev.pf.dotted(n) or "") in _CATCHES for n in names)
