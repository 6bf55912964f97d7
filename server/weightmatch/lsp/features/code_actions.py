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
        convert = _converter(ls, analysis)
        matched = _matched(ls, analysis, findings, params, convert)
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
                edit = None if lazy else convert.workspace_edit(fix, _versions(ls))
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
        action.edit = _converter(ls, analysis).workspace_edit(fix, _versions(ls))
        return action


def _suppression_actions(ls: "WeightMatchServer", params: types.CodeActionParams) -> list[types.CodeAction]:
    """"Silence <code> on this line": adds `# weightmatch: ignore[code]` (or the code to the
    line's directive) on the diagnostic's first line. Built from the diagnostics the
    client sends, so it works in any file a diagnostic shows in."""
    from pygls.uris import to_fs_path

    from weightmatch.lsp.convert import SOURCE
    from weightmatch.suppressions import add_code

    uri = params.text_document.uri
    path = os.path.normpath(to_fs_path(uri) or "")
    lines = ls.lines_for(path)
    if not lines:
        return []
    convert = ls.converter()
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
        out.append(convert.code_action(fix, [d], convert.workspace_edit(fix, _versions(ls)),
                                       {"uri": uri, "fixKind": "suppress"}))
    return out


def _matched(ls: "WeightMatchServer", analysis: "Analysis", findings: list[Finding], params: types.CodeActionParams,
             convert) -> list[tuple[Finding, list[types.Diagnostic]]]:
    """The findings the request is about: those of the diagnostics it names, else those in its range."""
    matched: list[tuple[Finding, list[types.Diagnostic]]] = []
    if params.context.diagnostics:
        for finding in findings:
            diags = [d for d in params.context.diagnostics if _matches(d, finding, convert)]
            if diags:
                matched.append((finding, diags))
        return matched
    overrides = ls.settings_for(ls.root_for(analysis.path)).editor_overrides()
    for finding in findings:
        if _overlaps(convert.range(finding.span), params.range):
            d = convert.diagnostic(finding, overrides)
            matched.append((finding, [d] if d else []))
    return matched


def _analysis_with_findings(ls: "WeightMatchServer", uri: str) -> tuple["Analysis", list[Finding]] | None:
    analysis = ls.documents.latest(uri) if ls.documents else None
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
        try:
            out[doc.path] = ls.workspace.get_text_document(uri).version
        except Exception:
            pass
    return out


def _matches(diagnostic: types.Diagnostic, finding: Finding, convert) -> bool:
    data = diagnostic.data if isinstance(diagnostic.data, dict) else _plain(diagnostic.data)
    if isinstance(data, dict) and data.get("finding"):
        return data["finding"] == finding_id(finding)
    return str(diagnostic.code) == finding.code and diagnostic.range == convert.range(finding.span)


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
