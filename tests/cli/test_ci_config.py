"""[tool.weightmatch] / weightmatch.toml: discovery, every key, warnings, precedence under the CLI."""

from __future__ import annotations

import json
import os

import pytest

from ci_helpers import cli, net_pth, project, write  # noqa: F401 - fixtures
from weightmatch.config_file import find_config, load_config, read_config, script_arguments


def diags(p):
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)["diagnostics"]


def test_found_by_walking_up_weightmatch_toml_first_and_pyproject_without_table_passed_over(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.weightmatch]\nselect = ['size-mismatch']\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no table: passed over
    assert find_config(str(sub)) == str(tmp_path / "pyproject.toml")
    assert find_config(str(sub / "main.py")) == str(tmp_path / "pyproject.toml")
    (tmp_path / "a" / "weightmatch.toml").write_text("ignore = ['missing-keys']\n")
    assert find_config(str(sub)) == str(tmp_path / "a" / "weightmatch.toml")
    assert load_config(str(sub)).ignore == ["missing-keys"]
    (tmp_path / "a" / "b" / "pyproject.toml").write_text("[tool.weightmatch]\n")
    (tmp_path / "a" / "b" / "weightmatch.toml").write_text("")
    assert find_config(str(sub)) == str(sub / "weightmatch.toml")  # same folder: weightmatch.toml wins


def test_every_key_is_read(tmp_path):
    (tmp_path / "pyproject.toml").write_text("""
[tool.weightmatch]
include = ["src/**/*.py"]
exclude = ["legacy/"]
respect-gitignore = false
select = ["size-mismatch", "missing-keys"]
ignore = ["missing-keys"]
severity = { "size-mismatch" = "Warning", "unresolved-model" = "off" }
checkpoint-search-paths = ["ckpts", "/abs/ckpts"]
execute-model-code = false
static-inference-first = false
worker-timeout = 12
report-unused-ignores = true

[tool.weightmatch.scripts."train.py"]
args = ["--config", "cfg.yaml", "--epochs", "3"]
cwd = "runs"

[tool.weightmatch.scripts."tools/eval.py"]
args = ["--ckpt", "best.pt"]
""")
    c = load_config(str(tmp_path))
    assert c.warnings == []
    assert (c.include, c.exclude, c.respect_gitignore) == (["src/**/*.py"], ["legacy/"], False)
    assert (c.select, c.ignore) == (["size-mismatch", "missing-keys"], ["missing-keys"])
    assert c.severity == {"size-mismatch": "warning", "unresolved-model": "off"}
    assert c.checkpoint_search_paths == [str(tmp_path / "ckpts"), "/abs/ckpts"]
    assert (c.execute_model_code, c.static_inference_first, c.worker_timeout, c.report_unused_ignores) == (
        False, False, 12.0, True)
    train = script_arguments(str(tmp_path / "train.py"))
    assert train.args == ["--config", "cfg.yaml", "--epochs", "3"] and train.cwd == str(tmp_path / "runs")
    ev = script_arguments(str(tmp_path / "tools" / "eval.py"), c)
    assert ev.args == ["--ckpt", "best.pt"] and ev.cwd is None
    assert script_arguments(str(tmp_path / "other.py")) is None


def test_unknown_and_mistyped_keys_warn_once_naming_the_key(tmp_path):
    (tmp_path / "weightmatch.toml").write_text(
        "selct = ['size-mismatch']\nworker-timeout = 'long'\nseverity = { 'size-mismatch' = 'loud' }\n"
        "ignore = ['no-such-code']\n[scripts.'t.py']\nargv = []\n")
    c = read_config(str(tmp_path / "weightmatch.toml"))
    text = "\n".join(c.warnings)
    assert "unknown key `selct`" in text
    assert "`worker-timeout`" in text and "'long'" in text
    assert "`severity.size-mismatch`" in text
    assert "unknown code `no-such-code`" in text
    assert 'unknown key `scripts."t.py".argv`' in text
    assert c.worker_timeout is None and c.severity == {}


def test_cli_prints_the_unknown_key_warning_once_and_still_checks(project):
    ws = project(hidden=20)
    write(ws, "pyproject.toml", "[tool.weightmatch]\nexclde = ['x']\n")
    p = cli("check", ".", cwd=ws)
    assert p.returncode == 0 and p.stdout == ""
    assert p.stderr.count("unknown key `exclde`") == 1, p.stderr
    assert "[tool.weightmatch] in " + str(ws / "pyproject.toml") in p.stderr


def test_invalid_toml_is_a_usage_error(project):
    ws = project()
    write(ws, "weightmatch.toml", "select = [\n")
    p = cli("check", ".", cwd=ws)
    assert p.returncode == 2 and "not valid TOML" in p.stderr


def test_select_ignore_and_severity_from_the_file_then_the_cli_over_it(project):
    ws = project(hidden=30)
    # two size mismatches (errors) in the project
    assert {d["code"] for d in diags(cli("check", "--format", "json", ".", cwd=ws))} == {"size-mismatch"}
    write(ws, "pyproject.toml", "[tool.weightmatch]\nignore = ['size-mismatch']\n")
    p = cli("check", "--format", "json", ".", cwd=ws)
    assert (p.returncode, diags(p)) == (0, [])
    # --select on the command line replaces the file's select, --ignore adds to its ignore
    write(ws, "pyproject.toml", "[tool.weightmatch]\nselect = ['missing-keys']\n")
    assert diags(cli("check", "--format", "json", ".", cwd=ws)) == []
    p = cli("check", "--output-format", "json", "--select", "size-mismatch,missing-keys", ".", cwd=ws)
    assert p.returncode == 1 and len(diags(p)) == 2
    p = cli("check", "--output-format", "json", "--select", "ALL", "--ignore", "size-mismatch", ".", cwd=ws)
    assert (p.returncode, diags(p)) == (0, [])
    # severity: the file makes them warnings: exit 0
    write(ws, "pyproject.toml", "[tool.weightmatch]\nseverity = { size-mismatch = 'warning' }\n")
    p = cli("check", "--format", "json", ".", cwd=ws)
    assert p.returncode == 0 and {d["severity"] for d in diags(p)} == {"warning"}
    assert cli("check", "--select", "nope", ".", cwd=ws).returncode == 2


def test_execute_model_code_and_worker_timeout_from_the_file_and_cli_flags_override(project):
    ws = project(hidden=30)
    canary = ws / "canary"
    (ws / "main.py").write_text((ws / "main.py").read_text().replace(
        "super().__init__()", f"super().__init__()\n        open({str(canary)!r}, 'w').write('ran')"))
    write(ws, "pyproject.toml", "[tool.weightmatch]\nexecute-model-code = false\nstatic-inference-first = false\n")
    ds = diags(cli("check", "--format", "json", ".", cwd=ws))
    assert not canary.exists() and all(d["how"] in (None, "static") for d in ds)
    # --exec (a CLI flag) over the file's execute-model-code = false: the worker builds it
    ds = diags(cli("check", "--format", "json", "--exec", ".", cwd=ws))
    assert canary.exists() and {d["how"] for d in ds if d["code"] == "size-mismatch"} == {"executed"}
    canary.unlink()
    # the file turns execution on, --no-exec turns it off again
    write(ws, "pyproject.toml", "[tool.weightmatch]\nexecute-model-code = true\nstatic-inference-first = false\n")
    diags(cli("check", "--format", "json", "--no-exec", ".", cwd=ws))
    assert not canary.exists()


def test_worker_timeout_from_the_file_applies_and_timeout_flag_overrides(project):
    ws = project(hidden=30)
    # a constructor that takes 3 s: over a 1 s limit from the file, under --timeout 60
    (ws / "main.py").write_text((ws / "main.py").read_text().replace(
        "super().__init__()", "super().__init__()\n        import time; time.sleep(3)"))
    write(ws, "pyproject.toml", "[tool.weightmatch]\nworker-timeout = 1\nstatic-inference-first = false\n")
    ds = diags(cli("check", "--format", "json", ".", cwd=ws))
    # the build timed out after 1 s: static inference answered instead of the worker
    assert ds and {d["how"] for d in ds} == {"static"}, ds
    ds = diags(cli("check", "--format", "json", "--timeout", "60", ".", cwd=ws))
    assert {d["how"] for d in ds if d["code"] == "size-mismatch"} == {"executed"}


def test_checkpoint_search_paths_relative_to_the_file(project):
    ws = project(hidden=30)
    (ws / "ckpts").mkdir()
    os.replace(ws / "net.pth", ws / "ckpts" / "net.pth")
    assert {d["code"] for d in diags(cli("check", "--format", "json", ".", cwd=ws))} == {"checkpoint-not-found"}
    write(ws, "weightmatch.toml", "checkpoint-search-paths = ['ckpts']\n")
    assert {d["code"] for d in diags(cli("check", "--format", "json", ".", cwd=ws))} == {"size-mismatch"}


def test_include_exclude_and_gitignore(project):
    ws = project(hidden=30)
    for name in ("legacy/old.py", "generated/gen.py", "src/ok.py"):
        write(ws, name, (ws / "main.py").read_text().replace('"net.pth"', '"../net.pth"'))
    shutil_copy = (ws / "net.pth").read_bytes()
    for d in ("legacy", "generated", "src"):
        (ws / d / "net.pth").write_bytes(shutil_copy)

    def paths(*extra):
        return sorted({d["path"] for d in diags(cli("check", "--format", "json", *extra, cwd=ws))})

    assert paths(".") == ["generated/gen.py", "legacy/old.py", "main.py", "src/ok.py"]
    (ws / ".gitignore").write_text("generated/\n")
    assert paths(".") == ["legacy/old.py", "main.py", "src/ok.py"]
    write(ws, "pyproject.toml", "[tool.weightmatch]\nexclude = ['legacy/']\n")
    assert paths(".") == ["main.py", "src/ok.py"]
    # named on the command line: checked anyway, unless --force-exclude (the pre-commit hook)
    assert paths("legacy/old.py") == ["legacy/old.py"]
    assert paths("--force-exclude", "legacy/old.py", "generated/gen.py", "main.py") == ["main.py"]
    write(ws, "pyproject.toml", "[tool.weightmatch]\ninclude = ['src/**/*.py']\nrespect-gitignore = false\n")
    assert paths(".") == ["src/ok.py"]
    write(ws, "pyproject.toml", "[tool.weightmatch]\nrespect-gitignore = false\n")
    assert "generated/gen.py" in paths(".")


@pytest.mark.parametrize("flag", ["--config"])
def test_explicit_config_file(project, flag, tmp_path):
    ws = project(hidden=30)
    other = tmp_path / "elsewhere.toml"
    other.write_text("ignore = ['size-mismatch']\n")
    p = cli("check", "--format", "json", flag, str(other), ".", cwd=ws)
    assert (p.returncode, diags(p)) == (0, [])
