"""Parsing from several threads at once (the language server's and the worker client's threads):
CPython 3.11's AST constructor shares its recursion depth across threads, and an unguarded
`ast.parse` in two threads can raise `SystemError: AST constructor recursion depth mismatch`
(seen on CI in test_worker_build.py::test_concurrent_builds_from_threads)."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor

from weightmatch import parsing

# nested enough that building its AST takes many constructor frames
SOURCE = "\n".join(f"x{i} = " + "[" * 40 + str(i) + "]" * 40 for i in range(60)) + "\n"


def test_parses_from_many_threads_are_whole_and_equal() -> None:
    expected = ast.dump(ast.parse(SOURCE))

    def one(_: int) -> str:
        return ast.dump(parsing.parse(SOURCE, "<threads>"))

    with ThreadPoolExecutor(8) as pool:
        dumps = list(pool.map(one, range(400)))
    assert all(d == expected for d in dumps)
