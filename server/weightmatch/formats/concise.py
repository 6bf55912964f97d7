"""`--quiet` text: one line per diagnostic, `path:line:column: code message`
(`path:cell N:line:column: code message` in a notebook), nothing else."""

from __future__ import annotations

from typing import TextIO

from weightmatch.report import position
from weightmatch.types import Finding


def write_concise(findings: list[Finding], root: str, out: TextIO) -> None:
    for f in findings:
        message = " ".join(f.message.split())  # one line, whatever the message holds
        out.write(f"{position(f.span, root)}: {f.code} {message}\n")
