"""Hover: saved versus current tensors, on a load call, a layer line or a checkpoint path.

Answers from the last finished analysis only; a hover never starts one, so it stays
fast while a model is being built.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import TYPE_CHECKING

from lsprotocol import types

from weightmatch.lsp import notebooks
from weightmatch.lsp.isolation import isolated
from weightmatch.textsafe import markdown_code, visible
from weightmatch.types import Finding, KeyRow, LoadReport, Span

if TYPE_CHECKING:
    from weightmatch.lsp.documents import Analysis
    from weightmatch.lsp.server import WeightMatchServer

MAX_ROWS = 20
_STRING = re.compile(r"""[rRbBuUfF]{0,2}("([^"\\]|\\.)*"|'([^'\\]|\\.)*')""")
_STATUS = {
    "ok": "✓",
    "size-mismatch": "✗ size mismatch",
    "missing": "missing",
    "unexpected": "unexpected",
    "not-a-tensor": "not a tensor",
    "ignored": "ignored",
    "unknown": "not known before it runs",
}
_HOW = {"executed": "built on the meta device", "static": "static inference from constructor arguments"}


def setup(server: "WeightMatchServer") -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @isolated()
    def hover(ls: "WeightMatchServer", params: types.HoverParams) -> types.Hover | None:
        analysis = ls.documents.latest(params.text_document.uri) if ls.documents else None
        position, cell = params.position, None
        if analysis is None:  # a notebook cell: asked of its notebook's joined text
            cell = notebooks.view(ls, params.text_document.uri)
            if cell is None:
                return None
            analysis, position = cell.analysis, cell.down(params.position)
        lines = analysis.lines
        pos = ls.workspace.position_codec.position_from_client_units(lines, position)
        found = target_at(analysis, pos.line, pos.character)
        if found is None:
            return None
        markdown, span = found
        answer = ls.converter(lambda p: lines if p == analysis.path else ls.lines_for(p)).hover(markdown, span)
        if cell is not None and answer.range is not None:
            answer.range = cell.up_range(answer.range) if cell.owns(answer.range) else None
        return answer


def target_at(analysis: "Analysis", line: int, column: int) -> tuple[str, Span | None] | None:
    """The hover's text and range at a position (code points), if there is something to say."""
    result = analysis.result
    path = analysis.path
    reports: list[LoadReport] = list(result.reports)
    for report in reports:
        if _same(report.call.path, path) and _contains(report.call, line, column):
            return report_markdown(report), report.call
    on_line = [f for f in result.findings if _same(f.span.path, path) and f.span.line <= line <= f.span.end_line]
    if on_line:
        on_line.sort(key=lambda f: (not _contains(f.span, line, column), f.span.end_line - f.span.line, f.severity != "error"))
        finding = on_line[0]
        report = _report_of(finding, reports)
        same_line = [f for f in on_line if f.span == finding.span]
        return finding_markdown(same_line, report), finding.span
    text_line = analysis.lines[line] if 0 <= line < len(analysis.lines) else ""
    for match in _STRING.finditer(text_line):
        if match.start() <= column <= match.end():
            value = match.group(1)[1:-1]
            for report in reports:
                ckpt = report.checkpoint
                if value and ckpt is not None and _names(ckpt.path, value):
                    span = Span(path, line, match.start(), line, match.end())
                    return report_markdown(report), span
    return None


def report_markdown(report: LoadReport) -> str:
    parts = [_headline(report), *_context(report), ""]
    problems = [f for f in report.findings]
    for finding in problems[:5]:
        parts.append(f"- **{finding.code}**: {_escape(finding.message)}")
    if len(problems) > 5:
        parts.append(f"- … {len(problems) - 5} more findings")
    if problems:
        parts.append("")
    parts.append(table(report.rows, report.strict))
    return "\n".join(parts)


def finding_markdown(findings: list[Finding], report: LoadReport | None) -> str:
    parts = []
    for finding in findings:
        parts.append(f"**{finding.code}**: {_escape(finding.message)}")
    if report is not None:
        parts += ["", *_context(report)]
    keys: dict[str, None] = {}
    rows: list[KeyRow] = []
    for finding in findings:
        for row in finding.rows:
            if row.key not in keys:
                keys[row.key] = None
                rows.append(row)
        for key in finding.keys:
            keys.setdefault(key, None)
    if not rows and report is not None:
        rows = [r for r in report.rows if r.key in keys]
    if rows:
        parts += ["", table(rows, report.strict if report else None)]
    return "\n".join(parts)


def table(rows: list[KeyRow], strict: bool | None) -> str:
    if not rows:
        return "_No tensors._"
    lines = ["| key | saved | current | dtype | status |", "| --- | --- | --- | --- | --- |"]
    problems = [r for r in rows if r.status != "ok"]
    fine = [r for r in rows if r.status == "ok"]
    shown = problems[:MAX_ROWS]
    for row in shown:
        lines.append(_row(row, strict))
    if len(problems) > len(shown):
        lines.append(f"| … {len(problems) - len(shown)} more | | | | |")
    if len(rows) <= MAX_ROWS:
        lines += [_row(r, strict) for r in fine]
    else:
        # Long loads: matching tensors are grouped ("layer1.{0,1}.conv1.weight"),
        # problems stay listed one per row.
        groups = _group_keys([r.key for r in fine])
        for group in groups[:MAX_ROWS]:
            lines.append(f"| {_cell(markdown_code(group))} | | | | ✓ |")
        if len(groups) > MAX_ROWS:
            lines.append(f"| … {len(groups) - MAX_ROWS} more matching groups | | | | |")
    return "\n".join(lines)


def _group_keys(keys: list[str]) -> list[str]:
    try:
        from weightmatch.keygroups import group_keys

        return group_keys(keys, names=True)
    except Exception:  # the grouping is cosmetic: fall back to top-level modules
        groups: OrderedDict[str, int] = OrderedDict()
        for key in keys:
            top = key.split(".", 1)[0]
            groups[top] = groups.get(top, 0) + 1
        return [f"{top}.* ({n})" if n > 1 else top for top, n in groups.items()]


def _row(row: KeyRow, strict: bool | None) -> str:
    saved = row.saved.shape_text() if row.saved else "—"
    current = row.current.shape_text() if row.current else "—"
    dtypes = [t.dtype for t in (row.saved, row.current) if t is not None]
    dtype = " → ".join(dict.fromkeys(dtypes)) if dtypes else ""
    status = _STATUS.get(row.status, row.status)
    if row.status == "missing" and strict is False:
        status = "missing (keeps its initial value)"
    elif row.status == "unexpected" and strict is False:
        status = "unexpected (ignored)"
    return f"| {_cell(markdown_code(row.key))} | {saved} | {current} | {_escape(dtype)} | {status} |"


def _headline(report: LoadReport) -> str:
    if report.raises is None:
        verdict = "outcome unknown"
    elif report.raises:
        verdict = "✗ raises RuntimeError"
    else:
        verdict = "✓ loads"
    strict = "" if report.strict is None else f" (strict={report.strict})"
    return f"**load_state_dict**{strict}: {verdict}"


def _context(report: LoadReport) -> list[str]:
    out = []
    if report.model:
        how = _HOW.get(report.how or "", "")
        model = report.model if (not how or "(" in report.model) else f"{report.model} ({how})"
        out.append(f"Model: {_escape(model)}  ")
    if report.checkpoint is not None:
        ckpt = report.checkpoint
        out.append(f"Checkpoint: {markdown_code(ckpt.path)} · {human_size(ckpt.size)} · {ckpt.format}  ")
    if report.source:
        out.append(f"Loads: {_escape(report.source)}  ")
    inexact = next((f.inexact for f in report.findings if f.inexact), None)
    if inexact:
        shown = ", ".join(f"`{p or '(the model)'}`" for p in inexact[:5]) + (" …" if len(inexact) > 5 else "")
        out.append(f"Not exact: {shown} load{'s' if len(inexact) == 1 else ''} its own way "
                   "(own `_load_from_state_dict` or load hooks); what happens there is not checked  ")
    return out


def human_size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _report_of(finding: Finding, reports: list[LoadReport]) -> LoadReport | None:
    for report in reports:
        if finding in report.findings or report.call == finding.load_call:
            return report
    return None


def _contains(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def _same(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def _names(path: str, text: str) -> bool:
    """Whether a string literal names this checkpoint file."""
    text = text.replace("\\\\", "\\")
    norm = os.path.normpath(path)
    return norm.endswith(os.path.normpath(text)) or os.path.basename(norm) == os.path.basename(text)


def _cell(text: str) -> str:
    """In a GFM table a `|` ends the cell even inside a code span unless backslashed."""
    return text.replace("|", "\\|")


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|#~!])")


def _escape(text: str) -> str:
    """Plain text inside Markdown: control characters escaped (`visible`), and the
    characters that would start links, HTML, emphasis or table cells backslashed."""
    return _MARKDOWN.sub(r"\\\1", visible(text))
