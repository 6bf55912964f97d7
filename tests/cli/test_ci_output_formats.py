"""--output-format github (parsed back), sarif (validated against the official schema),
--statistics, --quiet, --exit-zero, and the progress bar (a terminal only, slow checks only)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import jsonschema

from ci_helpers import CLI, cli, net_pth, project, write  # noqa: F401 - fixtures
from weightmatch.codes import CODES

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
# A workflow command as the Actions runner reads it: ::name key=value,key=value::data
COMMAND = re.compile(r"^::(?P<name>[a-z]+)(?: (?P<props>[^:]*))?::(?P<data>.*)$")


def _unescape(text: str, prop: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for k, v in pairs:
        text = text.replace(k, v)
    return text.replace("%25", "%")


def parse_workflow_commands(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        m = COMMAND.match(line)
        assert m, f"not a workflow command: {line!r}"
        props = dict(kv.split("=", 1) for kv in m["props"].split(","))
        out.append({"command": m["name"], **{k: _unescape(v, True) for k, v in props.items()},
                    "message": _unescape(m["data"], False)})
    return out


def test_github_format_parses_back_to_the_json_diagnostics(project):
    ws = project()
    j = json.loads(cli("check", "--format", "json", ".", cwd=ws).stdout)["diagnostics"]
    p = cli("check", "--output-format", "github", ".", cwd=ws)
    assert p.returncode == 1
    got = parse_workflow_commands(p.stdout)
    assert [(g["command"], g["file"], int(g["line"]), int(g["col"]), int(g["endLine"]), int(g["endColumn"]),
             g["title"], g["message"]) for g in got] == [
        ("error", d["path"], d["line"], d["column"], d["end_line"], d["end_column"], f"weightmatch ({d['code']})",
         d["message"]) for d in j]
    assert len(got) == 2


def test_github_escaping_round_trips():
    from weightmatch.formats.github import escape_data, escape_property

    nasty = "a%b:c,d\ne\rf::g"
    assert _unescape(escape_property(nasty), True) == nasty
    assert _unescape(escape_data(nasty), False) == nasty
    assert "\n" not in escape_data(nasty) and ":" not in escape_property(nasty) and "," not in escape_property(nasty)


def test_github_levels(project):
    ws = project()
    write(ws, "pyproject.toml", "[tool.weightmatch]\nseverity = { size-mismatch = 'information' }\n")
    got = parse_workflow_commands(cli("check", "--output-format", "github", ".", cwd=ws).stdout)
    assert {g["command"] for g in got} == {"notice"}


def test_sarif_validates_against_the_official_schema(project):
    schema = json.loads(SCHEMA.read_text())
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    ws = project(c2="  # weightmatch: ignore[size-mismatch]")
    p = cli("check", "--output-format", "sarif", ".", cwd=ws)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)  # a rule for every code
    results = run["results"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
             "suppressions" in r) for r in results] == [("size-mismatch", "error", 8, False),
                                                         ("size-mismatch", "error", 9, True)]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "main.py", "uriBaseId": "%SRCROOT%"}
        assert r["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 13
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ws.resolve().as_uri() + "/"
    # the validator does catch a broken document
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(schema).iter_errors(doc))


def test_sarif_of_a_clean_project_is_valid_and_exits_0(project):
    ws = project(hidden=20)
    p = cli("check", "--output-format", "sarif", ".", cwd=ws)
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    assert doc["runs"][0]["results"] == []


def test_statistics_quiet_exit_zero(project):
    ws = project()
    p = cli("check", "--statistics", ".", cwd=ws)
    assert p.returncode == 1
    assert re.fullmatch(r"\s+2  size-mismatch  error\s+.+\n", p.stdout), p.stdout
    p = cli("check", "--statistics", "--format", "json", ".", cwd=ws)
    assert json.loads(p.stdout)["statistics"][0] | {"description": ""} == {
        "code": "size-mismatch", "count": 2, "severity": "error", "description": ""}
    p = cli("check", "--quiet", ".", cwd=ws)
    assert p.returncode == 1 and p.stderr == ""
    assert [line.split(" ")[:2] for line in p.stdout.splitlines()] == [
        ["main.py:8:9:", "size-mismatch"], ["main.py:9:9:", "size-mismatch"]]
    p = cli("check", "--exit-zero", ".", cwd=ws)
    assert p.returncode == 0 and "Found 2 errors." in p.stdout
    assert cli("check", "--exit-zero", "missing-dir", cwd=ws).returncode == 2
    assert cli("check", "--statistics", "--output-format", "sarif", ".", cwd=ws).returncode == 2


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(CLI), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stdout = proc.stdout.read()
    proc.wait(timeout=300)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_for_a_slow_check_only(project):
    ws = project()
    write(ws, "second.py", (ws / "main.py").read_text())
    # The worker builds every model; main.py's constructor takes 1.5 s, so the check takes well
    # over tqdm's one-second delay on any machine (importing torch alone can come in under it).
    slow = (ws / "main.py").read_text().replace("super().__init__()", "super().__init__()\n        time.sleep(1.5)")
    write(ws, "main.py", "import time\n" + slow)
    status, stdout, tty = _on_a_terminal(["check", "--exec-first", "--format", "json", "."], ws)
    assert status == 1 and json.loads(stdout)["diagnostics"]
    assert "weightmatch:" in tty and "file" in tty, repr(tty)
    # the same check with stderr not a terminal: nothing of it
    p = cli("check", "--exec-first", "--format", "json", ".", cwd=ws)
    assert p.returncode == 1 and "weightmatch:" not in p.stderr and "\r" not in p.stderr
    # a fast check (static inference, well under a second) on a terminal: no bar either
    status, stdout, tty = _on_a_terminal(["check", "--format", "json", "."], ws)
    assert status == 1 and "weightmatch:" not in tty, repr(tty)
