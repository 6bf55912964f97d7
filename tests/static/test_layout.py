"""The static package stays simple to see (issue #10): its modules import each other one way
(the order drawn in static/__init__.py), and none is over ~600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import weightmatch.static

STATIC = Path(weightmatch.static.__file__).parent


def _siblings(path: Path) -> set[str]:
    """The package's modules that `path` imports, anywhere in it (TYPE_CHECKING and
    function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
    return out - {path.stem}


def test_static_imports_have_no_cycle():
    graph = {p.stem: _siblings(p) for p in STATIC.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, "import cycle: " + " -> ".join([*path[path.index(name):], name])
        if name in done or name not in graph:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_static_modules_are_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in STATIC.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 600} == {}
