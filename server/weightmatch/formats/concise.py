"""`--quiet` text: one line per diagnostic, `path:line:column: code message`, nothing else."""

from __future__ import annotations

from typing import TextIO

from weightmatch.report import rel
from weightmatch.types import Finding


def write_concise(findings: list[Finding], root: str, out: TextIO) -> None:
    for f in findings:
        message = " ".join(f.message.split())  # one line, whatever the message holds
        out.write(f"{rel(f.span.path, root)}:{f.span.line + 1}:{f.span.column + 1}: {f.code} {message}\n")
