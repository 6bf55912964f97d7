"""Code lens above each load call: the verdict in one line.

`✓ 364/364 tensors match`, `✗ 2 size mismatches · 1 missing`,
`⚠ strict=False: 2 missing (keep initial values)`, `? model not resolved`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from lsprotocol import types

from weightmatch.lsp import notebooks
from weightmatch.lsp.isolation import isolated
from weightmatch.lsp.convert import uri_for
from weightmatch.types import LoadReport

if TYPE_CHECKING:
    from weightmatch.lsp.server import WeightMatchServer

SHOW_CHECKPOINT = "weightmatch.showCheckpoint"
# How long a lens request waits for the analysis of the current text before it
# answers from the previous one (a refresh follows when the analysis lands).
SETTLE_TIMEOUT = 60.0
_WHOLE_LOAD = {
    "prefix-mismatch": "key prefix mismatch",
    "not-a-state-dict": "not a state dict",
}
_CAUSES = {
    "unsafe-checkpoint": "needs weights_only=False",
    "checkpoint-unreadable": "checkpoint unreadable",
    "checkpoint-not-found": "checkpoint not found",
}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def lens_title(report: LoadReport) -> str:
    counts = Counter(row.status for row in report.rows)
    codes = [f.code for f in report.findings]
    expected = sum(1 for row in report.rows if row.current is not None)
    size, missing, unexpected = counts["size-mismatch"], counts["missing"], counts["unexpected"]

    if report.raises is None or "unresolved-model" in codes:
        if "checkpoint-not-found" in codes:
            return "? checkpoint not found"
        if "unresolved-model" in codes or not report.rows:
            return "? model not resolved"
        return "? outcome unknown"

    if report.raises:
        for code, label in _WHOLE_LOAD.items():
            if code in codes:
                return f"✗ {label}: loads 0 of {expected} tensors"
        parts = []
        if size:
            parts.append(_plural(size, "size mismatch", "size mismatches"))
        if missing:
            parts.append(f"{missing} missing")
        if unexpected:
            parts.append(f"{unexpected} unexpected")
        if not parts:
            parts = [_CAUSES.get(code, code) for code in dict.fromkeys(codes)] or ["raises"]
        return "✗ " + " · ".join(parts)

    if missing or unexpected or any(code in _WHOLE_LOAD for code in codes):
        return _lenient_title(codes, expected, missing, unexpected)
    return f"✓ {counts['ok']}/{expected} tensors match"


def _lenient_title(codes: list[str], expected: int, missing: int, unexpected: int) -> str:
    """A strict=False load that does not raise but skips tensors."""
    for code, label in _WHOLE_LOAD.items():
        if code in codes:
            return f"⚠ strict=False: {label}, loads 0 of {expected} tensors"
    parts = []
    if missing:
        parts.append(f"{missing} missing (keep initial values)")
    if unexpected:
        parts.append(f"{unexpected} unexpected (ignored)")
    return "⚠ strict=False: " + " · ".join(parts)


def setup(server: "WeightMatchServer") -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    @isolated(list)
    async def code_lens(ls: "WeightMatchServer", params: types.CodeLensParams) -> list[types.CodeLens]:
        if ls.documents is None:
            return []
        uri = params.text_document.uri
        cell = None
        if uri not in ls.documents.docs:  # a notebook cell: its notebook's lenses that sit in it
            notebook = ls.workspace.get_notebook_document(cell_uri=uri)
            if notebook is None:
                return []
            await ls.documents.settled(notebook.uri, SETTLE_TIMEOUT)
            cell = notebooks.view(ls, uri)
            if cell is None:
                return []
        analysis = cell.analysis if cell is not None else await ls.documents.settled(uri, SETTLE_TIMEOUT)
        if analysis is None:
            return []
        lines = analysis.lines
        convert = ls.converter(lambda p: lines if p == analysis.path else ls.lines_for(p))
        viewer = SHOW_CHECKPOINT in ls.client_commands
        lenses = []
        for report in analysis.result.reports:
            if report.call.path != analysis.path:
                continue
            if viewer and report.checkpoint is not None:
                # clicking the verdict opens the checkpoint it was reached on, in the viewer
                lenses.append(convert.code_lens(report.call, lens_title(report), SHOW_CHECKPOINT,
                                                [uri_for(report.checkpoint.path)]))
            else:
                lenses.append(convert.code_lens(report.call, lens_title(report)))
        if cell is not None:
            lenses = [lens for lens in lenses if cell.owns(lens.range)]
            for lens in lenses:
                lens.range = cell.up_range(lens.range)
        return lenses

    def refresh(uri: str, analysis) -> None:
        ws = server.client_capabilities.workspace
        if ws is not None and ws.code_lens is not None and ws.code_lens.refresh_support:
            server.workspace_code_lens_refresh(None)

    # The document store is made by the diagnostics feature's setup, which runs first.
    if server.documents is not None:
        server.documents.listeners.append(refresh)
