"""CLI output: ruff-like text, or the JSON contract of design.md (1-based lines and columns)."""

from __future__ import annotations

import json
import os
from typing import Iterable, TextIO

from weightmatch.textsafe import visible
from weightmatch.types import Finding, Span

HOW_TEXT = {"executed": "built on the meta device", "static": "inferred statically (no code ran)"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "information": 2, "hint": 3}


def is_unresolved(finding: Finding) -> bool:
    """A load whose model or checkpoint is known only at run time (unresolved-model, unresolved-checkpoint)."""
    return finding.code.startswith("unresolved-")


def rel(path: str, root: str) -> str:
    try:
        r = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if r.startswith("..") else r.replace(os.sep, "/")


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """Findings of several analyses (a class file shared by two scripts) without repeats, sorted."""
    seen = set()
    out = []
    for f in findings:
        ident = (f.code, f.span, f.load_call, tuple(f.keys), f.message)
        if ident not in seen:
            seen.add(ident)
            out.append(f)
    out.sort(key=lambda f: (f.span.path, f.span.line, f.span.column, SEVERITY_ORDER.get(f.severity, 9), f.code))
    return out


def position(span: Span, root: str) -> str:
    """`path:line:column`, or in a notebook `path:cell N:line:column` (Ruff's form; N counts
    every cell from 1, the line is the cell's own)."""
    cell = f"cell {span.cell + 1}:" if span.cell is not None else ""
    return f"{rel(span.path, root)}:{cell}{span.line + 1}:{span.column + 1}"


def _with_cell(out: dict, span: Span) -> dict:
    """In a notebook, `"cell": N` after the path (N counts every cell from 1)."""
    if span.cell is None:
        return out
    path = out.pop("path")
    return {"path": path, "cell": span.cell + 1, **out}


def to_json(findings: list[Finding], root: str) -> dict:
    return {"version": 1, "diagnostics": [_with_cell({
        "path": rel(f.span.path, root), "line": f.span.line + 1, "column": f.span.column + 1,
        "end_line": f.span.end_line + 1, "end_column": f.span.end_column + 1,
        "severity": f.severity, "code": f.code, "message": f.message, "keys": list(f.keys),
        "load_call": _with_cell({"path": rel(f.load_call.path, root), "line": f.load_call.line + 1}, f.load_call),
        "how": f.how, "fixes": [fix.title for fix in f.fixes], "inexact": list(f.inexact),
    }, f.span) for f in findings]}


def write_json(findings: list[Finding], root: str, out: TextIO) -> None:
    out.write(json.dumps(to_json(findings, root), indent=2) + "\n")  # one write, not one per token


def write_text(findings: list[Finding], root: str, out: TextIO, read_line, show_unresolved: bool = False) -> None:
    """Ruff-like text. Unresolved loads are summed up in one last line unless `show_unresolved`.
    read_line(span): the text of the span's first line (in a notebook: of its cell), or None.
    Everything written that comes from a file (a checkpoint's keys in messages, paths, the source
    line) goes through `visible`: no escape sequence or newline reaches the terminal."""
    unresolved = [] if show_unresolved else [f for f in findings if is_unresolved(f)]
    if unresolved:
        findings = [f for f in findings if not is_unresolved(f)]
    for f in findings:
        out.write(f"{visible(position(f.span, root))}: {visible(f.code)} {visible(f.message)}\n")
        line = read_line(f.span)
        if line is not None:
            line = visible(line, keep_tabs=True)  # the carets may drift on such a line; nothing is forged
            num = str(f.span.line + 1)
            pad = " " * len(num)
            end = f.span.end_column if f.span.end_line == f.span.line else len(line)
            width = max(1, min(end, len(line)) - f.span.column)
            out.write(f"{pad} |\n{num} | {line}\n{pad} | {' ' * f.span.column}{'^' * width}\n")
            shown = [r for r in f.rows if r.status != "ok"][:8]
            for r in shown:
                saved = r.saved.shape_text() if r.saved else "—"
                current = r.current.shape_text() if r.current else "—"
                out.write(f"{pad} = {visible(r.key)}: checkpoint {saved}, model {current} ({r.status})\n")
            if f.load_call != f.span:
                out.write(f"{pad} = loaded at {visible(position(f.load_call, root).rsplit(':', 1)[0])}\n")
            if f.how:
                out.write(f"{pad} = model {HOW_TEXT.get(f.how, f.how)}\n")
            for fix in f.fixes:
                out.write(f"{pad} = fix available: {visible(fix.title)}\n")
        out.write("\n")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITY_ORDER}
    if findings:
        parts = [f"{n} {s}{'s' if n != 1 and s != 'information' else ''}" for s, n in counts.items() if n]
        out.write("Found " + ", ".join(parts) + ".\n")
    if unresolved:
        n = len({(f.load_call.path, f.load_call.line, f.load_call.column) for f in unresolved})
        out.write(f"{n} load{'s' if n != 1 else ''} not checked (model or checkpoint known only at run time): "
                  "--show-unresolved lists them\n")
