"""Quick fixes from the engine's Fix objects.

Each fix comes with its edits already computed; with a client that resolves code
actions the edit is only converted on codeAction/resolve, which then looks the fix
up again in the latest analysis (by finding and fix identity) so a stale action
never applies edits computed for older text.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from weightmatch.lsp.convert import finding_id, fix_id
from weightmatch.lsp import notebooks
from weightmatch.lsp.isolation import isolated
from weightmatch.types import Finding, Fix, Span, TextEdit

if TYPE_CHECKING:
    from weightmatch.lsp.documents import Analysis
    from weightmatch.lsp.server import WeightMatchServer


def setup(server: "WeightMatchServer") -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True),
    )
    @isolated(list)
    def code_actions(ls: "WeightMatchServer", params: types.CodeActionParams) -> list[types.CodeAction]:
        only = params.context.only
        if only and not any(types.CodeActionKind.QuickFix.value.startswith(str(getattr(k, "value", k))) for k in only):
            return []
        uri = params.text_document.uri
        found = _analysis_with_findings(ls, uri)
        if found is None:
            return _suppression_actions(ls, params)
        analysis, findings = found
        cell = notebooks.view_of(analysis, uri)  # a notebook cell: ranges of the joined text below
        convert = _converter(ls, analysis)
        matched = _matched(ls, analysis, findings, params, convert, cell)
        actions: list[types.CodeAction] = []
        seen: set[tuple] = set()
        lazy = convert.resolve_edits
        for finding, diags in matched:
            for index, fix in enumerate(finding.fixes):
                identity = (fix.kind, fix.title, tuple((e.span, e.new_text) for e in fix.edits))
                if identity in seen:  # one load's fix is offered by each of its findings
                    continue
                seen.add(identity)
                data = {"uri": uri, "fix": fix_id(finding, index, fix), "fixKind": fix.kind}
                edit = None if lazy else _edit(ls, convert, analysis, fix)
                actions.append(convert.code_action(fix, diags, edit, data))
        actions.sort(key=lambda a: not a.is_preferred)
        return actions + _suppression_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @isolated(lambda: None)
    def resolve(ls: "WeightMatchServer", action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else _plain(action.data)
        if not isinstance(data, dict) or action.edit is not None:
            return action
        found = _analysis_with_findings(ls, data.get("uri", ""))
        if found is None:
            return action
        analysis, findings = found
        fix = _find_fix(findings, data.get("fix", ""))
        if fix is None:
            ls.log("info", f"Quick fix {action.title!r} is out of date; ask again")
            return action
        action.edit = _edit(ls, _converter(ls, analysis), analysis, fix)
        return action


def _edit(ls: "WeightMatchServer", convert, analysis: "Analysis", fix: Fix) -> types.WorkspaceEdit:
    """The fix as a workspace edit; in a notebook, on the cells its edits fall in."""
    versions = _versions(ls)
    edit = convert.workspace_edit(fix, versions)
    if analysis.notebook is None:
        return edit
    return notebooks.split_edit(edit, analysis.notebook, analysis.uri, versions)


def _suppression_actions(ls: "WeightMatchServer", params: types.CodeActionParams) -> list[types.CodeAction]:
    """"Silence <code> on this line": adds `# weightmatch: ignore[code]` (or the code to the
    line's directive) on the diagnostic's first line. Built from the diagnostics the
    client sends, so it works in any file a diagnostic shows in."""
    from pygls.uris import to_fs_path

    from weightmatch.lsp.convert import SOURCE
    from weightmatch.suppressions import add_code

    uri = params.text_document.uri
    in_notebook = ls.workspace.get_notebook_document(cell_uri=uri) is not None
    if in_notebook:  # the cell's own lines; the edit is retargeted to the cell below
        path = f"/<cell>/{uri}"
        lines = list(ls.workspace.get_text_document(uri).lines)
        convert = ls.converter(lambda p: lines if p == path else ls.lines_for(p))
    else:
        path = os.path.normpath(to_fs_path(uri) or "")
        lines = ls.lines_for(path)
        convert = ls.converter()
    if not lines:
        return []
    out: list[types.CodeAction] = []
    seen: set[tuple[int, str]] = set()
    for d in params.context.diagnostics:
        if d.source != SOURCE or d.code is None or d.code == "internal-error":
            continue
        code, line_no = str(d.code), d.range.start.line
        if line_no >= len(lines) or (line_no, code) in seen:
            continue
        seen.add((line_no, code))
        edit = add_code(lines[line_no].rstrip("\r\n"), code)
        if edit is None:
            continue
        start, end, text = edit
        fix = Fix(f"Silence {code} on this line (# weightmatch: ignore[{code}])", "suppress",
                  [TextEdit(Span(path, line_no, start, line_no, end), text)])
        edit = convert.workspace_edit(fix, _versions(ls))
        if in_notebook:
            edit = notebooks.retarget(edit, uri, ls.workspace.get_text_document(uri).version)
        out.append(convert.code_action(fix, [d], edit, {"uri": uri, "fixKind": "suppress"}))
    return out


def _matched(ls: "WeightMatchServer", analysis: "Analysis", findings: list[Finding], params: types.CodeActionParams,
             convert, cell=None) -> list[tuple[Finding, list[types.Diagnostic]]]:
    """The findings the request is about: those of the diagnostics it names, else those in its
    range. `cell`: the notebook cell asked about (its ranges map to the notebook's joined text)."""
    matched: list[tuple[Finding, list[types.Diagnostic]]] = []
    if params.context.diagnostics:
        for finding in findings:
            diags = [d for d in params.context.diagnostics if _matches(d, finding, convert, cell)]
            if diags:
                matched.append((finding, diags))
        return matched
    overrides = ls.settings_for(ls.root_for(analysis.path)).editor_overrides()
    asked = cell.down_range(params.range) if cell is not None else params.range
    for finding in findings:
        if _overlaps(convert.range(finding.span), asked):
            d = convert.diagnostic(finding, overrides)
            if d is not None and cell is not None:
                d.range = cell.up_range(d.range)
            matched.append((finding, [d] if d else []))
    return matched


def _analysis_with_findings(ls: "WeightMatchServer", uri: str) -> tuple["Analysis", list[Finding]] | None:
    """The last analysis of the document at `uri` (of a cell: of its notebook), with the
    findings that have fixes."""
    analysis = ls.documents.latest(uri) if ls.documents else None
    if analysis is None and (cell := notebooks.view(ls, uri)) is not None:
        analysis = cell.analysis
    if analysis is None:
        return None
    findings = [f for f in analysis.result.findings if f.fixes]
    return analysis, findings


def _converter(ls: "WeightMatchServer", analysis: "Analysis"):
    lines = analysis.lines
    return ls.converter(lambda p: lines if os.path.normpath(p) == analysis.path else ls.lines_for(p))


def _versions(ls: "WeightMatchServer") -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for uri, doc in (ls.documents.docs.items() if ls.documents else []):
        if doc.notebook:  # its cells' versions, by cell URI
            nb = doc.latest.notebook if doc.latest is not None else None
            for cell_uri in notebooks.cell_uris(nb) if nb is not None else []:
                try:
                    out[cell_uri] = ls.workspace.get_text_document(cell_uri).version
                except Exception:
                    pass
            continue
        try:
            out[doc.path] = ls.workspace.get_text_document(uri).version
        except Exception:
            pass
    return out


def _matches(diagnostic: types.Diagnostic, finding: Finding, convert, cell=None) -> bool:
    data = diagnostic.data if isinstance(diagnostic.data, dict) else _plain(diagnostic.data)
    if isinstance(data, dict) and data.get("finding"):
        return data["finding"] == finding_id(finding)
    r = cell.down_range(diagnostic.range) if cell is not None else diagnostic.range
    return str(diagnostic.code) == finding.code and r == convert.range(finding.span)


def _find_fix(findings: list[Finding], wanted: str) -> Fix | None:
    for finding in findings:
        for index, fix in enumerate(finding.fixes):
            if fix_id(finding, index, fix) == wanted:
                return fix
    return None


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    return value
