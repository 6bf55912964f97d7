"""A parsed Python file: tolerant parsing, spans, imports and nn.Module classes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from weightmatch.types import Span


@dataclass
class ClassInfo:
    name: str
    node: ast.ClassDef
    bases: list[str]  # dotted names as written, aliases resolved ("torch.nn.Module", "Block")

    def init(self) -> ast.FunctionDef | None:
        for stmt in self.node.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                return stmt
        return None


@dataclass
class PyFile:
    path: str
    text: str
    tree: ast.Module
    # the parse stopped early (code being typed): only lines before this parsed; None when whole
    parsed_until: int | None = None
    syntax_error: str | None = None
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted origin

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def classes(self) -> dict[str, ClassInfo]:
        out: dict[str, ClassInfo] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, ClassInfo(node.name, node, [self.dotted(b) or "" for b in node.bases]))
        return out

    @cached_property
    def parsed_text(self) -> str:
        """The part of the text the tree covers (all of it unless the parse stopped early)."""
        if self.parsed_until is None:
            return self.text
        return "".join(self.text.splitlines(keepends=True)[: self.parsed_until])

    def span(self, node: ast.AST) -> Span:
        """The node's range in characters (`ast` counts UTF-8 bytes within a line)."""
        line, end_line = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        return Span(self.path, line, self._chars(line, node.col_offset), end_line, self._chars(end_line, end_col))

    def _chars(self, line: int, byte_col: int) -> int:
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def dotted(self, node: ast.AST) -> str | None:
        """`nn.Linear` -> "torch.nn.Linear" through the file's imports; None if not a dotted name."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.imports.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])


def parse(path: str, text: str) -> PyFile:
    """Parse, keeping what parses when the file is half typed.

    On a syntax error the longest prefix of whole lines before the error that parses
    is used, so load calls above the line being typed keep their diagnostics.
    """
    try:
        tree = ast.parse(text, filename=path)
        pf = PyFile(path, text, tree)
    except (SyntaxError, ValueError) as exc:
        lines = text.splitlines(keepends=True)
        stop = min(getattr(exc, "lineno", None) or len(lines), len(lines))
        tree = None
        for end in range(stop - 1, -1, -1):
            try:
                tree = ast.parse("".join(lines[:end]), filename=path)
                break
            except (SyntaxError, ValueError):
                # only try a few cut points near the error, then give up on the rest
                if stop - end > 40:
                    break
        pf = PyFile(path, text, tree or ast.Module(body=[], type_ignores=[]), parsed_until=end if tree else 0,
                    syntax_error=f"{type(exc).__name__}: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})")
    pf.imports = _imports(pf.tree)
    return pf


def _imports(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.ImportFrom):
            mod = "." * node.level + (node.module or "")
            for a in node.names:
                out[a.asname or a.name] = f"{mod}.{a.name}" if node.module else f"{mod}{a.name}"
    return out
