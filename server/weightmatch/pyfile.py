"""A parsed Python file: tolerant parsing, spans, imports and nn.Module classes."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property

from weightmatch import parsing
from weightmatch.types import Span

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
# SyntaxErrors that are the parser's own limits, not mistakes in the code
_PARSER_LIMITS = ("too many nested parentheses", "too many statically nested blocks", "too many nested blocks",
                  "parser stack overflow", "too complex")


class TooDeep(RecursionError):
    """The file nests or chains further than the parser or the analysis can follow
    (`1+1+…` 100,000 times, a 5,000-branch elif): reported as one `too-deep` finding."""


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
    def source_lines(self) -> list[str]:
        """Lines with their endings, split where `ast` splits them (not at \\f or U+2028)."""
        return _LINE.findall(self.text)

    @cached_property
    def lines(self) -> list[str]:
        return [line.rstrip("\r\n") for line in self.source_lines]

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
        """The node's source text. (ast.get_source_segment splits the whole file on every
        call, which made large files quadratic; the lines are split once here.)"""
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None or end_line > len(self.source_lines):
            return ast.unparse(node)
        first, last = node.lineno - 1, end_line - 1
        head = self.source_lines[first].encode("utf-8")
        if first == last:
            return head[node.col_offset:end_col].decode("utf-8", errors="replace")
        tail = self.source_lines[last].encode("utf-8")[:end_col].decode("utf-8", errors="replace")
        return head[node.col_offset:].decode("utf-8", errors="replace") + \
            "".join(self.source_lines[first + 1:last]) + tail

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

    On a syntax error the longest prefix of whole lines before the error that parses is
    used, so load calls above the line being typed keep their diagnostics.
    """
    try:
        pf = PyFile(path, text, parsing.parse(text, path))
    except (RecursionError, MemoryError) as exc:  # CPython's parser gives up on deep nesting with these
        raise TooDeep(f"the parser gave up ({type(exc).__name__})") from None
    except (SyntaxError, ValueError) as exc:
        msg = str(getattr(exc, "msg", exc))
        if any(limit in msg for limit in _PARSER_LIMITS):
            raise TooDeep(f"the parser gave up ({msg}, line {getattr(exc, 'lineno', '?')})") from None
        lines = text.splitlines(keepends=True)
        stop = min(getattr(exc, "lineno", None) or len(lines), len(lines))
        end, tree = _longest_parsable_prefix(lines, stop, path)
        pf = PyFile(path, text, tree or ast.Module(body=[], type_ignores=[]), parsed_until=end if tree else 0,
                    syntax_error=f"{type(exc).__name__}: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})")
    pf.imports = _imports(pf.tree)
    return pf


def _try(lines: list[str], end: int, path: str) -> ast.Module | None:
    try:
        return parsing.parse("".join(lines[:end]), path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _longest_parsable_prefix(lines: list[str], stop: int, path: str) -> tuple[int, ast.Module | None]:
    # The usual case, a line being typed: a cut just above the error parses.
    for end in range(stop - 1, max(stop - 8, -1), -1):
        tree = _try(lines, end, path)
        if tree is not None:
            return end, tree
    # An unfinished block can be reported far below where it starts (a long `try:`): cut at
    # top-level statement starts instead, binary-searching for the last one that parses
    # (everything above a top-level start that parses is whole statements too).
    starts = [i for i in range(stop) if lines[i][:1] not in ("", " ", "\t", "\n", "\r", "#")]
    best: tuple[int, ast.Module | None] = (0, None)
    lo, hi = 0, len(starts) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        tree = _try(lines, starts[mid], path)
        if tree is not None:
            best = (starts[mid], tree)
            lo = mid + 1
        else:
            hi = mid - 1
    return best


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
