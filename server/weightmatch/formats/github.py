"""`--output-format github`: GitHub Actions workflow commands, one per diagnostic.

`::error file=main.py,line=8,col=9,endLine=8,endColumn=31,title=weightmatch (size-mismatch)::message`
annotates the pull request at that line. Values are escaped as the Actions runner
unescapes them (its toolkit's `escapeData` / `escapeProperty`).
"""

from __future__ import annotations

from typing import TextIO

from weightmatch.report import rel
from weightmatch.types import Finding

LEVEL = {"error": "error", "warning": "warning", "information": "notice", "hint": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(f: Finding, root: str) -> str:
    props = {
        "file": rel(f.span.path, root),
        "line": f.span.line + 1,
        "col": f.span.column + 1,
        "endLine": f.span.end_line + 1,
        "endColumn": f.span.end_column + 1,
        "title": f"weightmatch ({f.code})",
    }
    message = f.message
    if f.span.cell is not None:
        # A notebook's lines are not the .ipynb file's (JSON) lines: the annotation goes on
        # the file, the cell and line into the message.
        for key in ("line", "col", "endLine", "endColumn"):
            del props[key]
        message = f"cell {f.span.cell + 1}, line {f.span.line + 1}: {message}"
    head = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items())
    return f"::{LEVEL.get(f.severity, 'notice')} {head}::{escape_data(message)}"


def write_github(findings: list[Finding], root: str, out: TextIO) -> None:
    for f in findings:
        out.write(command(f, root) + "\n")
