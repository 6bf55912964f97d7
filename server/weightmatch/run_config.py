"""How a script is really run: the arguments and working folder a user gives it, so argparse
options and relative checkpoint paths take the values of a real run instead of their defaults.

Where they come from, first found wins: the CLI's `--script-args` or the editor's
`weightmatch.scriptArguments` setting; `[tool.weightmatch.scripts."train.py"]` in the
configuration file; a `.vscode/launch.json` configuration whose `program` is the script.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass

MAX_LAUNCH_JSON = 1024 * 1024


@dataclass(frozen=True)
class RunConfig:
    args: tuple[str, ...]
    cwd: str | None  # absolute; None: as the engine resolves paths by default
    source: str  # for messages: "launch.json “Train”", "weightmatch.scriptArguments"
    env: tuple[tuple[str, str], ...] = ()  # a launch configuration's `env`: what os.environ holds


def parse_args_text(value) -> tuple[str, ...] | None:
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError:
            return None
    if isinstance(value, list) and all(isinstance(a, (str, int, float)) for a in value):
        return tuple(str(a) for a in value)
    return None


def from_settings(script: str, root: str, given: dict[str, object]) -> RunConfig | None:
    """`{"train.py": "--num-classes 100"}` (paths relative to the root, or absolute)."""
    for name, value in given.items():
        path = name if os.path.isabs(name) else os.path.join(root, name)
        if os.path.normpath(path) == os.path.normpath(script):
            args = parse_args_text(value)
            if args is not None:
                return RunConfig(args, None, "the configured script arguments")
    return None


def from_config_file(script: str) -> RunConfig | None:
    try:
        from weightmatch.config_file import script_arguments

        found = script_arguments(script)
    except Exception:  # noqa: BLE001 - a broken configuration file is reported where it is read
        return None
    if found is None:
        return None
    return RunConfig(tuple(found.args), found.cwd, "the configuration file's script arguments")


def for_script(script: str, root: str, given: dict[str, object]) -> RunConfig | None:
    return from_settings(script, root, given) or from_config_file(script) or from_launch_json(script, root)


def from_launch_json(script: str, root: str) -> RunConfig | None:
    path = os.path.join(root, ".vscode", "launch.json")
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_LAUNCH_JSON:
            return None
        with open(path, encoding="utf-8") as fh:
            doc = json.loads(_strip_jsonc(fh.read()))
    except (OSError, ValueError):
        return None
    configs = doc.get("configurations") if isinstance(doc, dict) else None
    for config in configs if isinstance(configs, list) else []:
        if not isinstance(config, dict) or config.get("request", "launch") != "launch":
            continue
        program = config.get("program")
        if not isinstance(program, str):
            continue
        program = _expand(program, root, script)
        if program is None or os.path.normpath(os.path.join(root, program)) != os.path.normpath(script):
            continue
        args = parse_args_text(config.get("args", []))
        if args is not None:
            expanded = [_expand(a, root, script) for a in args]
            args = None if any(a is None for a in expanded) else tuple(expanded)  # `${input:x}`: asked at run time
        cwd = config.get("cwd")
        cwd = _expand(cwd, root, script) if isinstance(cwd, str) else None
        if args is None or (config.get("cwd") is not None and cwd is None):
            continue
        name = config.get("name") if isinstance(config.get("name"), str) else "a configuration"
        return RunConfig(args, os.path.normpath(os.path.join(root, cwd)) if cwd else None,
                         f"launch.json “{name}”", _env(config.get("env"), root, script))
    return None


def _env(given: object, root: str, script: str) -> tuple[tuple[str, str], ...]:
    """A configuration's `env` (names to strings); a value only the editor knows (`${input:x}`) is
    left out, so the script's own default is not taken for it."""
    if not isinstance(given, dict):
        return ()
    out = []
    for name, value in given.items():
        value = _expand(value, root, script) if isinstance(value, str) else None
        out.append((name, value))
    return tuple((k, v) for k, v in out if v is not None)


def _expand(value: str, root: str, script: str) -> str | None:
    """VS Code's variables in a launch configuration; None when one is known only to the editor."""
    known = {"workspaceFolder": root, "workspaceRoot": root, "file": script,
             "fileDirname": os.path.dirname(script), "workspaceFolderBasename": os.path.basename(root),
             "userHome": os.path.expanduser("~"), "cwd": root, "pathSeparator": os.sep}
    unknown = False

    def put(m: re.Match) -> str:
        nonlocal unknown
        name = m.group(1)
        if name in known:
            return known[name]
        unknown = True
        return ""

    out = re.sub(r"\$\{([^}]+)\}", put, value)
    return None if unknown else out


# VS Code writes launch.json as JSON with comments and trailing commas. Stripping those two is
# all it takes to read it; a JSON5 library would accept more than VS Code does and would have
# to travel inside the extension too.
_COMMENTS = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)
_TRAILING_COMMAS = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[}\]])')


def _strip_jsonc(text: str) -> str:
    text = _COMMENTS.sub(lambda m: m.group(1) or "", text)
    return _TRAILING_COMMAS.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
