"""Engine types → lsprotocol types. The only module that knows both.

Engine spans are 0-based lines and columns counted in characters (code points) of
the file's text; LSP positions are counted in the negotiated encoding (UTF-16 unless
the client chose otherwise), so columns are converted against the line's text when
it is known.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from weightmatch.textsafe import visible
from weightmatch.types import Checkpoint, Finding, Fix, Span, TensorInfo

SOURCE = "weightmatch"

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}

LinesFor = Callable[[str], "Sequence[str] | None"]


def uri_for(path: str) -> str:
    return from_fs_path(path) or path


def severity(level: str) -> types.DiagnosticSeverity | None:
    """An engine severity (or an override) as LSP's; None for "off"."""
    return _SEVERITY.get(level.lower()) if level.lower() != "off" else None


class Converter:
    """Converts for one client: its position encoding and what it supports."""

    def __init__(self, codec: PositionCodec, lines_for: LinesFor, capabilities: types.ClientCapabilities):
        self.codec = codec
        self.lines_for = lines_for
        self.caps = capabilities

    # -- positions -------------------------------------------------------------
    def position(self, path: str, line: int, column: int) -> types.Position:
        lines = self.lines_for(path)
        line, column = max(line, 0), max(column, 0)
        if lines is None or line >= len(lines):
            return types.Position(line=line, character=column)
        return self.codec.position_to_client_units(lines, ServerTextPosition(line, min(column, len(lines[line]))))

    def range(self, span: Span) -> types.Range:
        return types.Range(
            start=self.position(span.path, span.line, span.column),
            end=self.position(span.path, span.end_line, span.end_column),
        )

    def location(self, span: Span) -> types.Location:
        return types.Location(uri=uri_for(span.path), range=self.range(span))

    # -- diagnostics -----------------------------------------------------------
    @property
    def related_information(self) -> bool:
        pd = self.caps.text_document and self.caps.text_document.publish_diagnostics
        return bool(pd and pd.related_information)

    def diagnostic(self, finding: Finding, overrides: dict[str, str]) -> types.Diagnostic | None:
        """The diagnostic for a finding, or None when its code is overridden to "off"."""
        level = overrides.get(finding.code, finding.severity)
        sev = severity(level)
        if sev is None:
            return None
        related = None
        if self.related_information and finding.related:
            related = [
                types.DiagnosticRelatedInformation(location=self.location(span), message=visible(message))
                for span, message in finding.related
            ]
        return types.Diagnostic(
            range=self.range(finding.span),
            message=visible(finding.message),
            severity=sev,
            code=finding.code,
            source=SOURCE,
            related_information=related,
            data={"finding": finding_id(finding), "how": finding.how, "keys": list(finding.keys)},
        )

    # -- code actions ----------------------------------------------------------
    @property
    def document_changes(self) -> bool:
        ws = self.caps.workspace and self.caps.workspace.workspace_edit
        return bool(ws and ws.document_changes)

    @property
    def resolve_edits(self) -> bool:
        ca = self.caps.text_document and self.caps.text_document.code_action
        return bool(ca and ca.resolve_support and "edit" in (ca.resolve_support.properties or []))

    def workspace_edit(self, fix: Fix, versions: dict[str, int | None]) -> types.WorkspaceEdit:
        by_path: dict[str, list[types.TextEdit]] = {}
        for edit in fix.edits:
            by_path.setdefault(edit.span.path, []).append(types.TextEdit(range=self.range(edit.span), new_text=edit.new_text))
        if self.document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri_for(path), version=versions.get(path)),
                        edits=edits,
                    )
                    for path, edits in by_path.items()
                ]
            )
        return types.WorkspaceEdit(changes={uri_for(path): edits for path, edits in by_path.items()})

    def code_action(self, fix: Fix, diagnostics: list[types.Diagnostic], edit: types.WorkspaceEdit | None, data: Any) -> types.CodeAction:
        return types.CodeAction(
            title=fix.title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=diagnostics or None,
            is_preferred=fix.preferred or None,
            edit=edit,
            data=data,
        )

    # -- code lens and hover ---------------------------------------------------
    def code_lens(self, call: Span, title: str, command: str = "", arguments: list | None = None) -> types.CodeLens:
        start = self.position(call.path, call.line, call.column)
        # An empty command id makes a label that does nothing when clicked.
        return types.CodeLens(range=types.Range(start=start, end=start),
                              command=types.Command(title=title, command=command, arguments=arguments))

    def hover(self, markdown: str, span: Span | None) -> types.Hover:
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=self.range(span) if span is not None else None,
        )


def finding_id(finding: Finding) -> str:
    """A key that finds the same finding again in a later analysis of the same text."""
    s = finding.span
    c = finding.load_call
    return f"{finding.code}@{s.line}:{s.column}-{s.end_line}:{s.end_column}/{c.line}:{c.column}"


def fix_id(finding: Finding, index: int, fix: Fix) -> str:
    return f"{finding_id(finding)}#{index}:{fix.kind}"


def checkpoint_contents(path: str, ckpt: Checkpoint | None, entries: Iterable[tuple[str, TensorInfo | Any]], error: str | None) -> dict[str, Any]:
    """The `weightmatch/checkpointContents` answer (camelCase JSON for the TypeScript viewer)."""
    # Keys, globals and errors come from the file: control characters are escaped (`visible`)
    # before the viewer shows them.
    error = visible(error) if error is not None else None
    if ckpt is None:
        return {
            "path": path, "format": None, "size": None, "tensorCount": 0, "torchscript": False,
            "unsafeGlobals": [], "shards": [], "entries": [], "error": error,
        }
    rows = []
    for key, info in entries:
        if isinstance(info, TensorInfo):
            rows.append({
                "key": visible(key),
                "shape": list(info.shape) if info.shape is not None else None,
                "dtype": visible(info.dtype),
                "nbytes": info.nbytes,
            })
        else:  # a non-tensor value where a tensor could be: shown, never rebuilt
            rows.append({"key": visible(key), "shape": None, "dtype": visible(getattr(info, "name", type(info).__name__)),
                         "nbytes": 0})
    return {
        "path": ckpt.path,
        "format": ckpt.format,
        "size": ckpt.size,
        "tensorCount": ckpt.tensor_count or sum(1 for r in rows if r["shape"] is not None),
        "torchscript": ckpt.torchscript,
        "unsafeGlobals": [visible(g) for g in ckpt.unsafe_globals],
        "shards": list(ckpt.shards),
        "entries": rows,
        "error": error,
    }
