"""The arguments a script is really run with (issue 10, point 3): a .vscode/launch.json
configuration, the CLI's --script-args, the configuration file's scripts table. Truth: the
script run with those arguments by real PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from weightmatch.project import Project, Settings
from weightmatch.run_config import _strip_jsonc, from_launch_json

SCRIPT = """
import argparse
import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=10)
parser.add_argument("--ckpt", default="w.pt")
args = parser.parse_args()
model = nn.Linear(4, args.num_classes)
model.load_state_dict(torch.load(args.ckpt))
"""


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "runs").mkdir(parents=True)
    (ws / "main.py").write_text(textwrap.dedent(SCRIPT).lstrip())
    made = subprocess.run([sys.executable, "-c", "import torch, torch.nn as nn; "
                           "torch.save(nn.Linear(4, 100).state_dict(), 'runs/w.pt')"],
                          cwd=ws, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return ws


def _run(ws: Path, args: list[str], cwd: Path) -> bool:
    """Whether the script's load raises, run with real PyTorch."""
    p = subprocess.run([sys.executable, str(ws / "main.py"), *args], cwd=cwd, capture_output=True, text=True)
    return "Error(s) in loading state_dict" in p.stderr


def _errors(ws: Path, settings: Settings | None = None) -> list:
    project = Project(str(ws), settings or Settings(execute=False))
    try:
        analysis = project.analyze(str(ws / "main.py"))
    finally:
        project.close()
    assert not [f for f in analysis.findings if f.code.startswith("unresolved")], \
        [f.message for f in analysis.findings]
    return [f for f in analysis.findings if f.severity == "error"]


def test_launch_json_arguments_and_folder(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / ".vscode").mkdir()
    (ws / ".vscode" / "launch.json").write_text("""{
      // written by VS Code: comments and trailing commas
      "version": "0.2.0",
      "configurations": [
        {"name": "Other", "type": "debugpy", "request": "launch", "program": "${workspaceFolder}/other.py"},
        {
          "name": "CIFAR-100", "type": "debugpy", "request": "launch",
          "program": "${workspaceFolder}/main.py",
          "args": ["--num-classes", "100", "--ckpt=w.pt"], /* next: cwd */
          "cwd": "${workspaceFolder}/runs",
        },
      ],
    }""")
    assert not _run(ws, ["--num-classes", "100", "--ckpt=w.pt"], ws / "runs")
    assert not _errors(ws)
    # the same script at its defaults, from its own folder, fails: the launch configuration made the difference
    assert _run(ws, ["--ckpt", "runs/w.pt"], ws)


def test_script_args_setting_wins_and_is_named(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    settings = Settings(execute=False, script_args={str(ws / "main.py"): "--num-classes 10 --ckpt runs/w.pt"})
    assert _run(ws, ["--num-classes", "10", "--ckpt", "runs/w.pt"], ws)
    (err,) = _errors(ws, settings)
    assert "--num-classes 10 (the configured script arguments)" in err.message


def test_configuration_file_scripts_table(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / "pyproject.toml").write_text('[tool.weightmatch.scripts."main.py"]\nargs = ["--num-classes", "100", '
                                       '"--ckpt", "runs/w.pt"]\n')
    assert not _run(ws, ["--num-classes", "100", "--ckpt", "runs/w.pt"], ws)
    assert not _errors(ws)


def test_jsonc_strings_keep_what_looks_like_comments() -> None:
    text = '{"a": "http://x//y", "b": "/* no */", "c": [1, 2,], "d": "",}'
    assert json.loads(_strip_jsonc(text)) == {"a": "http://x//y", "b": "/* no */", "c": [1, 2], "d": ""}


def test_launch_configuration_with_an_editor_only_variable_is_not_used(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / ".vscode").mkdir()
    (ws / ".vscode" / "launch.json").write_text(json.dumps({"configurations": [{
        "request": "launch", "program": "${workspaceFolder}/main.py", "args": ["${input:classes}"]}]}))
    assert from_launch_json(str(ws / "main.py"), str(ws)) is None  # VS Code asks for it at run time
