"""CLI output: ruff-like text, or the JSON contract of design.md (1-based lines and columns)."""

from __future__ import annotations

import json
import os
from typing import Iterable, TextIO

from weightmatch.types import Finding, Span

HOW_TEXT = {"executed": "built on the meta device", "static": "inferred statically (no code ran)"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "information": 2, "hint": 3}


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
        "how": f.how, "fixes": [fix.title for fix in f.fixes],
    }, f.span) for f in findings]}


def write_json(findings: list[Finding], root: str, out: TextIO) -> None:
    json.dump(to_json(findings, root), out, indent=2)
    out.write("\n")


def write_text(findings: list[Finding], root: str, out: TextIO, read_line) -> None:
    """read_line(span): the text of the span's first line (in a notebook: of its cell), or None."""
    for f in findings:
        out.write(f"{position(f.span, root)}: {f.code} {f.message}\n")
        line = read_line(f.span)
        if line is not None:
            num = str(f.span.line + 1)
            pad = " " * len(num)
            end = f.span.end_column if f.span.end_line == f.span.line else len(line)
            width = max(1, min(end, len(line)) - f.span.column)
            out.write(f"{pad} |\n{num} | {line}\n{pad} | {' ' * f.span.column}{'^' * width}\n")
            shown = [r for r in f.rows if r.status != "ok"][:8]
            for r in shown:
                saved = r.saved.shape_text() if r.saved else "—"
                current = r.current.shape_text() if r.current else "—"
                out.write(f"{pad} = {r.key}: checkpoint {saved}, model {current} ({r.status})\n")
            if f.load_call != f.span:
                out.write(f"{pad} = loaded at {position(f.load_call, root).rsplit(':', 1)[0]}\n")
            if f.how:
                out.write(f"{pad} = model {HOW_TEXT.get(f.how, f.how)}\n")
            for fix in f.fixes:
                out.write(f"{pad} = fix available: {fix.title}\n")
        out.write("\n")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITY_ORDER}
    if findings:
        parts = [f"{n} {s}{'s' if n != 1 and s != 'information' else ''}" for s, n in counts.items() if n]
        out.write("Found " + ", ".join(parts) + ".\n")
