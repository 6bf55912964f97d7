"""`ast.parse` for the server process, one thread at a time.

CPython 3.11 keeps the AST constructor's recursion depth in state that threads share: two
threads parsing at once can fail with `SystemError: AST constructor recursion depth mismatch`
(python/cpython#106905, seen here when the worker client keyed four builds from four threads).
The language server and the worker client parse from several threads, so every parse in this
process goes through one lock (a parse takes milliseconds; the worker child, single-threaded,
uses ast.parse directly).
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    with _LOCK:
        return ast.parse(source, filename, mode)
