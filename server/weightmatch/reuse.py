"""The last analysis of a file, reused when its text changed only in comment and blank lines.

Such an edit cannot change what the analysis finds, only where it is: the previous result is
taken with its positions moved to the new lines (issue 11, item 9). A new text is such an
edit of the old one ("a shift") when

- its code lines (lines that are neither blank nor only a comment) are the old ones, in
  order, character for character: every column, every source segment a message or a fix
  quotes, every line's indentation is unchanged;
- every run of blank and comment lines that differs lies between two logical lines: the
  code line after it begins a statement (a decorator, an `except` clause) at its indentation
  in the old tree, the code line before it does not end with a backslash, and no multi-line string
  of the old tree reaches into it. There the tokenizer skips a blank or comment line
  whatever it holds, so the new text has the old tokens: the same tree without positions,
  and no expression spans a changed line;
- no changed line could change how the file is read or what is searched in its whole text:
  an encoding declaration on the first two lines, a NUL or an unencodable character (a
  syntax error), or, with its neighbouring code lines, what the worker's precheck looks for
  in comments too (`globals(`, `builtins`, ...: `precheck.opaque`).

The result's positions in the file move with their lines (columns never change); a position
on a blank or comment line moves only when that run of lines is unchanged. A text of the
result that names a line at or after the first line that moved (`line 12`, `main:12`, or
`main.py:12` in `main.py`: a line of a file with another name is not one of these) keeps
the old analysis from being reused. New texts are compared with the text of the last full
analysis, which a reuse does not replace. Everything else the analysis reads (other files,
checkpoints, settings) is the caller's part of the key (project.py).
"""

from __future__ import annotations

import ast
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable

from weightmatch.analyze import FileAnalysis
from weightmatch.types import Finding, Span

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where `ast` and LSP count lines (not at \f or U+2028)
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=]")
# "line 12", "main:12" (a caller), or a line of a named file: "model.py line 12", "train.py:12"
_LINE_REF = re.compile(r"(?:(?P<file>[\w.-]+\.pyi?)(?::|\s+line\s+)|\blines?\s+|[\w)\]]:)(?P<line>\d+)")
_BLANK = " \t\f"  # what the tokenizer takes for white space at the start of a line


def _is_code(line: str) -> bool:
    rest = line.lstrip(_BLANK)
    return bool(rest) and rest[0] != "#"


@dataclass
class Base:
    """An analysed text, as much of it as a new text is compared with."""

    text: str
    lines: list[str]
    code: list[int]  # 0-based indices of the code lines
    starts: frozenset[int]  # lines where a statement or except clause begins, at the line's indentation
    strings: list[tuple[int, int]]  # first and last line of each string literal over several lines

    @classmethod
    def of(cls, text: str, tree: ast.Module) -> "Base":
        lines = _LINE_BREAK.split(text)
        starts: set[int] = set()
        stack: list[Any] = list(tree.body)
        while stack:
            node = stack.pop()
            index = node.lineno - 1
            if 0 <= index < len(lines):
                line = lines[index]
                if node.col_offset == len(line) - len(line.lstrip(_BLANK)):
                    starts.add(index)
            for decorator in getattr(node, "decorator_list", ()):
                at = decorator.lineno - 1  # `@` begins a logical line of its own
                if 0 <= at < len(lines) and lines[at].lstrip(_BLANK).startswith("@"):
                    starts.add(at)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.stmt, ast.excepthandler)):
                    stack.append(child)
                elif isinstance(child, ast.match_case):
                    stack.extend(child.body)
        strings = sorted((n.lineno - 1, n.end_lineno - 1) for n in ast.walk(tree)
                         if isinstance(n, (ast.Constant, ast.JoinedStr)) and n.end_lineno is not None
                         and n.end_lineno > n.lineno)
        return cls(text, lines, [i for i, line in enumerate(lines) if _is_code(line)], frozenset(starts), strings)


class Shift:
    """Where each line of the old text is in the new one."""

    def __init__(self, lines: list[int]):
        self._lines = lines  # old line -> new line, -1: nowhere known
        self.first_moved = next((i for i, j in enumerate(lines) if i != j), len(lines))

    def line(self, old: int) -> int | None:
        if not 0 <= old < len(self._lines) or self._lines[old] < 0:
            return None
        return self._lines[old]

    def names_moved_line(self, text: str, name: str) -> bool:
        """`text` names a line number at or after the first line that moved, of the file
        called `name` or of no file named (it may be this one)."""
        if self.first_moved >= len(self._lines):
            return False
        return any(int(m.group("line")) - 1 >= self.first_moved
                   for m in _LINE_REF.finditer(text) if m.group("file") in (None, name))


def shift(base: Base, text: str, opaque: Callable[[str], bool]) -> Shift | None:
    """The shift from `base` to `text`, or None when `text` is not a pure shift of it.
    `opaque(window)`: whether a window of lines holds what a whole-text search looks for."""
    old = base.lines
    new = _LINE_BREAK.split(text)
    code = [j for j, line in enumerate(new) if _is_code(line)]
    if len(code) != len(base.code):
        return None
    moved = [-1] * len(old)
    for i, j in zip(base.code, code):
        if old[i] != new[j]:
            return None
        moved[i] = j
    old_bounds = [-1, *base.code, len(old)]
    new_bounds = [-1, *code, len(new)]
    for k in range(len(old_bounds) - 1):
        a, b, c, d = old_bounds[k], old_bounds[k + 1], new_bounds[k], new_bounds[k + 1]
        if old[a + 1:b] == new[c + 1:d]:
            for t in range(b - a - 1):
                moved[a + 1 + t] = c + 1 + t
        elif not _safe_gap(base, new, a, b, c, d, opaque):
            return None
    return Shift(moved)


def _safe_gap(base: Base, new: list[str], a: int, b: int, c: int, d: int, opaque: Callable[[str], bool]) -> bool:
    """The blank and comment lines between code lines a and b (old; c and d new) may change."""
    old = base.lines
    if b < len(old) and b not in base.starts:
        return False
    if a >= 0 and old[a].rstrip(_BLANK).endswith("\\"):
        return False
    if any(first <= b - 1 and last >= a + 1 for first, last in base.strings):
        return False
    for index, line in [*((i, old[i]) for i in range(a + 1, b)), *((j, new[j]) for j in range(c + 1, d))]:
        if index < 2 and _CODING.match(line) or "\0" in line:
            return False
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            return False
    before = [old[a]] if a >= 0 else []
    after = [old[b]] if b < len(old) else []
    return not (opaque("\n".join([*before, *old[a + 1:b], *after]))
                or opaque("\n".join([*before, *new[c + 1:d], *after])))


class _Unmoved(Exception):
    """A position or a text of the result that cannot follow the shift."""


def moved(result: FileAnalysis, path: str, by: Shift | None) -> FileAnalysis | None:
    """A copy of `result` with the positions in `path` moved by `by` (None: a plain copy), or
    None when one of them cannot be. The copy shares nothing a caller may change."""
    memo: dict[int, Finding] = {}
    name = os.path.basename(path)

    def span(s: Span) -> Span:
        if by is None or s.path != path:
            return s
        line, end = by.line(s.line), by.line(s.end_line)
        if line is None or end is None:
            raise _Unmoved()
        return s if (line, end) == (s.line, s.end_line) else replace(s, line=line, end_line=end)

    def said(text: str) -> str:
        if by is not None and by.names_moved_line(text, name):
            raise _Unmoved()
        return text

    def finding(f: Finding) -> Finding:
        out = memo.get(id(f))
        if out is None:
            out = memo[id(f)] = replace(
                f, message=said(f.message), span=span(f.span), load_call=span(f.load_call),
                keys=list(f.keys), rows=list(f.rows), inexact=list(f.inexact),
                related=[(span(s), said(m)) for s, m in f.related],
                fixes=[replace(x, title=said(x.title), edits=[replace(e, span=span(e.span), new_text=said(e.new_text))
                                                              for e in x.edits]) for x in f.fixes])
        return out

    try:
        reports = [replace(r, call=span(r.call), model=said(r.model), source=said(r.source), rows=list(r.rows),
                           findings=[finding(f) for f in r.findings]) for r in result.reports]
        return FileAnalysis(result.path, reports, [finding(f) for f in result.findings],
                            [said(e) for e in result.errors], set(result.dependencies))
    except _Unmoved:
        return None


@dataclass
class _Entry:
    base: Base
    key: Any  # what else the analysis depended on, compared with ==
    inputs: Any  # the files it read, as the caller fingerprints them
    result: FileAnalysis


class Reuse:
    """The last analysis of each file (the newest `limit` files), for its next text."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # analyses answered from an earlier one (tests, weightmatch/status)

    def get(self, path: str, text: str, key: Any, unchanged: Callable[[Any], bool],
            opaque: Callable[[str], bool]) -> FileAnalysis | None:
        """The earlier analysis of `path` moved to `text`, when `key` is the one it was made
        under, `unchanged(inputs)` holds and `text` is a shift of its text; else None."""
        with self._lock:
            entry = self._entries.get(path)
        if entry is None or entry.key != key:
            return None
        by = None
        if text != entry.base.text:
            by = shift(entry.base, text, opaque)
            if by is None:
                return None
        if not unchanged(entry.inputs):
            return None
        out = moved(entry.result, path, by)
        if out is not None:
            with self._lock:
                self.hits += 1
        return out

    @property
    def enabled(self) -> bool:
        return self._limit > 0

    def put(self, path: str, text: str, tree: ast.Module, key: Any, inputs: Any, result: FileAnalysis) -> None:
        kept = moved(result, path, None)
        if kept is None:
            return
        entry = _Entry(Base.of(text, tree), key, inputs, kept)
        with self._lock:
            self._entries.pop(path, None)
            self._entries[path] = entry
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def forget(self, path: str | None = None) -> None:
        """Drop the entry of `path`, or every entry."""
        with self._lock:
            if path is None:
                self._entries.clear()
            else:
                self._entries.pop(path, None)
