"""A load inside `try:` whose `except` catches what load_state_dict raises.

PyTorch raises RuntimeError for missing, unexpected and mismatched keys; a script that catches
it and goes on (`except RuntimeError: model.load_state_dict(sd, strict=False)`) does not stop
there. Such a finding stays visible, as a warning that says which `except` catches it (the load
did not happen: the layers keep what they had), and no longer fails a CI run. A handler that
re-raises or exits keeps the error.
"""

from __future__ import annotations

import ast
import contextvars
import os
from dataclasses import dataclass, replace

from weightmatch.pyfile import PyFile


@dataclass(frozen=True)
class Catch:
    line: int  # 1-based line of the `except`
    file: str  # the file's name, for the message
    text: str  # "except RuntimeError"
    catches_all: bool  # bare `except:`, `except Exception`, `except BaseException`


# The catching handlers of the `try` bodies being interpreted, innermost last (a helper called
# inside the `try` runs under them too).
CURRENT_CATCH: contextvars.ContextVar[tuple[Catch, ...]] = contextvars.ContextVar("catch", default=())

_ALL = {"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"}
_RUNTIME = {"RuntimeError", "builtins.RuntimeError"}
_EXITS = {"sys.exit", "exit", "quit", "os._exit", "builtins.exit", "builtins.quit"}
# what load_state_dict raises as RuntimeError (error_msgs); the rest only a catch-all handler catches
RUNTIME_CODES = {"size-mismatch", "missing-keys", "unexpected-keys", "prefix-mismatch", "not-a-tensor"}
ANY_CODES = RUNTIME_CODES | {"not-a-state-dict", "load-error"}


def catch_of(stmt: ast.Try, pf: PyFile) -> Catch | None:
    """The handler that receives a RuntimeError from the `try` body, when it lets the script go on."""
    for h in stmt.handlers:
        names = _names(h.type, pf)
        if names is None:
            return None  # a type not known statically: nothing is assumed
        catches_all = h.type is None or bool(names & _ALL)
        if catches_all or names & _RUNTIME:
            if _stops(h.body, pf):
                return None
            first = pf.segment(h).split("\n", 1)[0].rstrip(":").strip() if h.type is not None else "except"
            return Catch(h.lineno, os.path.basename(pf.path), first, catches_all)
    return None


def downgrade(findings: list, catch: Catch | None) -> None:
    """The errors load_state_dict raises, caught by `catch`: warnings that say so."""
    if catch is None:
        return
    codes = ANY_CODES if catch.catches_all else RUNTIME_CODES
    for i, f in enumerate(findings):
        if f.severity == "error" and f.code in codes:
            findings[i] = replace(f, severity="warning", message=(
                f"{f.message}; the `{catch.text}` at {catch.file}:{catch.line} catches that, and the script goes on "
                "without this load"))


def _names(node: ast.expr | None, pf: PyFile) -> set[str] | None:
    if node is None:
        return set()
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    out = set()
    for item in items:
        name = pf.dotted(item) if isinstance(item, (ast.Name, ast.Attribute)) else None
        if name is None:
            return None
        out.add(name)
    return out


def _stops(body: list[ast.stmt], pf: PyFile) -> bool:
    """A `raise` or an exit anywhere in the handler (outside nested definitions)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and (pf.dotted(node.func) or "") in _EXITS:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False
