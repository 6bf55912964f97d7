"""f-strings of known values, formatted as Python formats them (`f"epoch_{e:03d}.pt"`)."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch.values import Const, Unknown, origins


def formatted(ev, node: ast.JoinedStr, env: dict) -> Any:
    """An f-string of known values, formatted as Python does (`f"epoch_{e:03d}.pt"`)."""
    parts: list[str] = []
    used: list[Const] = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append(str(v.value))
            continue
        inner = ev.ev(v.value, env) if isinstance(v, ast.FormattedValue) else None
        spec = ev.ev(v.format_spec, env) if isinstance(v, ast.FormattedValue) and v.format_spec else Const("")
        if not isinstance(inner, Const):
            return Unknown(f"`{ev.pf.segment(v.value)}` is not known") if inner is not None else \
                Unknown("formatted string")
        if not isinstance(spec, Const):
            return Unknown(f"the format of `{ev.pf.segment(v.value)}` is not known")
        value = {115: str, 114: repr, 97: ascii}.get(v.conversion, lambda x: x)(inner.value)
        try:
            parts.append(format(value, spec.value))
        except (TypeError, ValueError) as exc:  # the f-string itself raises at run time
            return Unknown(f"`{ev.pf.segment(v)}` raises {type(exc).__name__}")
        used.append(inner)
    return Const("".join(parts), origins(used))
