"""`--output-format sarif`: SARIF 2.1.0 (OASIS), for GitHub code scanning and other viewers.

One run, one rule per code of codes.py (whether reported or not, so rule indexes are
stable), one result per diagnostic; a diagnostic silenced by an inline comment is kept
with an `inSource` suppression, as SARIF intends. Locations are relative to
`%SRCROOT%`, the project root. Validated against the official schema in
tests/cli/test_output_formats.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from weightmatch import __version__
from weightmatch.codes import CODES
from weightmatch.report import rel
from weightmatch.types import Finding, Span

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}
RULE_INDEX = {code: i for i, code in enumerate(CODES)}


def _artifact(path: str, root: str) -> dict:
    shown = rel(path, root)
    if shown == path:  # outside the root: an absolute file URI
        return {"uri": Path(path).resolve().as_uri()}
    return {"uri": shown, "uriBaseId": "%SRCROOT%"}


def _location(span: Span, root: str) -> dict:
    region = {"startLine": span.line + 1, "startColumn": span.column + 1,
              "endLine": span.end_line + 1, "endColumn": span.end_column + 1}
    if span.cell is not None:
        # A notebook cell's lines are not the .ipynb file's: the file, with the cell and its
        # region as properties.
        return {"physicalLocation": {"artifactLocation": _artifact(span.path, root)},
                "properties": {"cell": span.cell + 1, "region": region}}
    return {"physicalLocation": {
        "artifactLocation": _artifact(span.path, root),
        "region": region,
    }}


def _result(f: Finding, root: str, suppressed: bool) -> dict:
    result = {
        "ruleId": f.code,
        "level": LEVEL.get(f.severity, "note"),
        "message": {"text": f.message},
        "locations": [_location(f.span, root)],
        "properties": {"keys": list(f.keys), "how": f.how, "fixes": [fix.title for fix in f.fixes]},
    }
    if f.code in RULE_INDEX:
        result["ruleIndex"] = RULE_INDEX[f.code]
    if f.load_call != f.span:
        related = _location(f.load_call, root)
        related["id"] = 0
        related["message"] = {"text": "the load_state_dict call"}
        result["relatedLocations"] = [related]
    if suppressed:
        result["suppressions"] = [{"kind": "inSource", "justification": "# weightmatch: ignore"}]
    return result


def to_sarif(findings: list[Finding], root: str, suppressed: list[Finding] = ()) -> dict:
    root_uri = Path(root).resolve().as_uri().rstrip("/") + "/"
    rules = [{
        "id": code,
        "name": "".join(part.capitalize() for part in code.split("-")),
        "shortDescription": {"text": text},
    } for code, text in CODES.items()]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "weightmatch", "version": __version__, "semanticVersion": __version__, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            "columnKind": "unicodeCodePoints",
            "results": [_result(f, root, False) for f in findings] + [_result(f, root, True) for f in suppressed],
        }],
    }


def write_sarif(findings: list[Finding], root: str, out: TextIO, suppressed: list[Finding] = ()) -> None:
    json.dump(to_sarif(findings, root, suppressed), out, indent=2)
    out.write("\n")
