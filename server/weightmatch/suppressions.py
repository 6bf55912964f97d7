"""Inline suppressions: `# weightmatch: ignore[code, ...]` and a bare `# weightmatch: ignore`.

The contract (README, "Suppressing a diagnostic"): the comment sits on a line of the
diagnostic — the first or last line of the layer definition it points at, or of the load
call it belongs to — and silences that diagnostic when its code is listed (a bare
`ignore` silences every code). Codes are comma-separated, spaces allowed. Only real
comments count (found with `tokenize`), not text inside strings.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Iterable

from weightmatch.types import Finding, Span

DIRECTIVE = re.compile(r"#\s*weightmatch:\s*ignore(?:\[(?P<codes>[^\]]*)\]|(?![\w\[-]))")


@dataclass(frozen=True)
class Directive:
    line: int  # 0-based
    column: int  # 0-based, where `# weightmatch` starts
    end_column: int
    codes: tuple[str, ...] | None  # None: a bare ignore (every code)


def parse_directive(comment: str) -> tuple[int, int, tuple[str, ...] | None] | None:
    """(start, end, codes) of the directive in a comment's text, or None."""
    m = DIRECTIVE.search(comment)
    if m is None:
        return None
    codes = m.group("codes")
    parsed = None if codes is None else tuple(c.strip() for c in codes.split(",") if c.strip())
    return m.start(), m.end(), parsed


def directives(text: str) -> dict[int, Directive]:
    """The suppression comments of a file's text, by 0-based line."""
    out: dict[int, Directive] = {}
    if DIRECTIVE.search(text) is None:
        return out  # no comment can hold one (tokenizing a long file takes tens of ms)
    lines = text.splitlines()
    done = 0  # lines before this one were tokenized completely
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                _add(out, tok.start[0] - 1, tok.start[1], tok.string)
            done = tok.start[0] - 1
    except (tokenize.TokenError, SyntaxError):
        # Half-typed code (an unclosed bracket or string): the lines tokenize could not
        # reach are read line by line; a `#` there is taken as a comment.
        for number in range(max(done, 0), len(lines)):
            if number not in out and (i := lines[number].find("#")) >= 0:
                _add(out, number, i, lines[number][i:])
    return out


def _add(out: dict[int, Directive], line: int, column: int, comment: str) -> None:
    found = parse_directive(comment)
    if found is not None:
        start, end, codes = found
        out[line] = Directive(line, column + start, column + end, codes)


@dataclass
class Applied:
    kept: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    # (path, line) -> the codes it silenced ("*" for any under a bare ignore)
    used: dict[tuple[str, int], set[str]] = field(default_factory=dict)


TextOf = Callable[[str], "str | None"]


class Suppressions:
    """The directives of the files a run reads, each file parsed once."""

    def __init__(self, text_of: TextOf):
        self._text_of = text_of
        self._cache: dict[str, dict[int, Directive]] = {}

    def of(self, path: str) -> dict[int, Directive]:
        if path not in self._cache:
            text = self._text_of(path)
            self._cache[path] = directives(text) if text is not None else {}
        return self._cache[path]

    def apply(self, findings: Iterable[Finding], applied: Applied | None = None) -> Applied:
        applied = applied or Applied()
        for f in findings:
            hit = self.silencing(f)
            if hit is None:
                applied.kept.append(f)
            else:
                applied.suppressed.append(f)
                directive = self.of(hit[0])[hit[1]]
                applied.used.setdefault(hit, set()).add("*" if directive.codes is None else f.code)
        return applied

    def silencing(self, f: Finding) -> tuple[str, int] | None:
        """(path, line) of the directive that silences `f`, or None."""
        for span in (f.span, f.load_call):
            for line in dict.fromkeys((span.line, span.end_line)):
                d = self.of(span.path).get(line)
                if d is not None and (d.codes is None or f.code in d.codes):
                    return span.path, line
        return None

    def unused(self, paths: Iterable[str], used: dict[tuple[str, int], set[str]]) -> list[Finding]:
        """An `unused-ignore` finding for each directive in `paths` that silenced nothing,
        or that lists codes it silenced nothing of."""
        out = []
        for path in dict.fromkeys(paths):
            for line, d in sorted(self.of(path).items()):
                got = used.get((path, line), set())
                if d.codes is None:
                    if got:
                        continue
                    message = "Unused `weightmatch: ignore`: no diagnostic on this line"
                else:
                    idle = [c for c in d.codes if c not in got]
                    if not idle:
                        continue
                    message = f"Unused `weightmatch: ignore` code{'s' if len(idle) > 1 else ''}: {', '.join(idle)}"
                span = Span(path, line, d.column, line, d.end_column)
                out.append(Finding("unused-ignore", "error", message, span, span))
        return out


def add_code(line: str, code: str) -> tuple[int, int, str] | None:
    """The edit that makes `line` (without its newline) silence `code`: (start, end, text)
    replacing line[start:end]; None when it already does."""
    found = parse_directive(line) if "#" in line else None
    if found is not None:
        start, end, codes = found
        if codes is None or code in codes:
            return None
        return start, end, f"# weightmatch: ignore[{', '.join((*codes, code))}]"
    body = line.rstrip()
    return len(body), len(line), f"  # weightmatch: ignore[{code}]"
