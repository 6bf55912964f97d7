"""`# weightmatch: ignore[...]` in the CLI, and --report-unused-ignores."""

from __future__ import annotations

import json

from ci_helpers import cli, net_pth, project  # noqa: F401 - fixtures
from weightmatch.suppressions import add_code, directives


def lines_of(p):
    assert p.returncode in (0, 1), p.stderr
    return sorted((d["line"], d["code"]) for d in json.loads(p.stdout)["diagnostics"])


def test_parsing_only_real_comments_codes_and_bare():
    text = ('x = 1  # weightmatch: ignore[size-mismatch, missing-keys]\n'
            's = "# weightmatch: ignore"\n'
            'y = 2  # noqa: E501  #weightmatch:ignore\n'
            'z = 3  # weightmatch: ignored\n'
            'w = 4  # weightmatch: ignore[]\n')
    found = directives(text)
    assert found[0].codes == ("size-mismatch", "missing-keys")
    assert 1 not in found  # inside a string
    assert found[2].codes is None  # bare, after another tool's comment
    assert 3 not in found
    assert found[4].codes == ()
    # half-typed code (an unclosed bracket) still has its comments read
    broken = directives("m = Net(  # weightmatch: ignore[unresolved-model]\nx = [1,\n")
    assert broken[0].codes == ("unresolved-model",)


def test_add_code_edits():
    assert add_code("    self.fc = nn.Linear(1, 2)   ", "size-mismatch") == (29, 32, "  # weightmatch: ignore[size-mismatch]")
    line = "x = f()  # weightmatch: ignore[missing-keys]"
    start, end, text = add_code(line, "size-mismatch")
    assert line[:start] + text + line[end:] == "x = f()  # weightmatch: ignore[missing-keys, size-mismatch]"
    assert add_code("x = f()  # weightmatch: ignore", "size-mismatch") is None
    assert add_code("x = f()  # weightmatch: ignore[size-mismatch]", "size-mismatch") is None


def test_layer_line_load_call_and_bare(project):
    assert lines_of(cli("check", "--format", "json", ".", cwd=project())) == [(8, "size-mismatch"), (9, "size-mismatch")]
    # on the layer line: that layer's diagnostic only
    ws = project(c1="  # weightmatch: ignore[size-mismatch]")
    assert lines_of(cli("check", "--format", "json", ".", cwd=ws)) == [(9, "size-mismatch")]
    # another code on the line silences nothing
    ws = project(c1="  # weightmatch: ignore[missing-keys]")
    assert len(lines_of(cli("check", "--format", "json", ".", cwd=ws))) == 2
    # on the load call: every diagnostic of that load
    ws = project(c3="  # weightmatch: ignore[size-mismatch]")
    p = cli("check", ".", cwd=ws)
    assert (p.returncode, p.stdout) == (0, "")
    # bare
    ws = project(c2="  # weightmatch: ignore")
    assert lines_of(cli("check", "--format", "json", ".", cwd=ws)) == [(8, "size-mismatch")]


def test_report_unused_ignores(project):
    ws = project(c1="  # weightmatch: ignore[size-mismatch, missing-keys]", c2="  # weightmatch: ignore",
                 c3="  # weightmatch: ignore[unexpected-keys]")
    p = cli("check", "--format", "json", ".", cwd=ws)
    assert (p.returncode, lines_of(p)) == (0, [])  # without the flag: nothing, exit 0
    p = cli("check", "--format", "json", "--report-unused-ignores", ".", cwd=ws)
    ds = json.loads(p.stdout)["diagnostics"]
    assert p.returncode == 1
    assert [(d["line"], d["code"], d["severity"]) for d in ds] == [(8, "unused-ignore", "error"), (13, "unused-ignore", "error")]
    assert "missing-keys" in ds[0]["message"] and "size-mismatch" not in ds[0]["message"]
    assert "unexpected-keys" in ds[1]["message"]
    assert ds[0]["column"] == len("        self.fc1 = nn.Linear(10, 30)  ") + 1
    # the configuration file can turn it on, and its severity can be overridden
    (ws / "weightmatch.toml").write_text("report-unused-ignores = true\nseverity = { unused-ignore = 'warning' }\n")
    p = cli("check", "--format", "json", ".", cwd=ws)
    assert p.returncode == 0 and {d["severity"] for d in json.loads(p.stdout)["diagnostics"]} == {"warning"}
