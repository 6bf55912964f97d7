"""Applying TextEdits to a text (for `--fix`-style use and for tests that run fixed code)."""

from __future__ import annotations

from weightmatch.types import TextEdit


def _offset(line_starts: list[int], text: str, line: int, column: int) -> int:
    if line >= len(line_starts):
        return len(text)
    return min(line_starts[line] + column, len(text))


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """Apply non-overlapping edits (0-based line/column spans); later edits first."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    spans = sorted(((_offset(starts, text, e.span.line, e.span.column),
                     _offset(starts, text, e.span.end_line, e.span.end_column), e.new_text) for e in edits),
                   reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text
