"""`--statistics`: how many diagnostics each code has, most first (like Ruff's)."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from weightmatch.codes import CODES
from weightmatch.types import Finding


def statistics(findings: list[Finding]) -> list[dict]:
    counts = Counter(f.code for f in findings)
    worst = {}
    order = {"error": 0, "warning": 1, "information": 2, "hint": 3}
    for f in findings:
        if f.code not in worst or order.get(f.severity, 9) < order.get(worst[f.code], 9):
            worst[f.code] = f.severity
    return [{"code": code, "count": n, "severity": worst[code], "description": CODES.get(code, "")}
            for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def write_statistics(findings: list[Finding], out: TextIO, fmt: str = "text") -> None:
    rows = statistics(findings)
    if fmt == "json":
        json.dump({"version": 1, "statistics": rows}, out, indent=2)
        out.write("\n")
        return
    width = max((len(r["code"]) for r in rows), default=0)
    for r in rows:
        out.write(f"{r['count']:>5}  {r['code']:<{width}}  {r['severity']:<11}  {r['description']}\n")
