"""The project's configuration file: `[tool.weightmatch]` in pyproject.toml, or weightmatch.toml.

Found like Ruff finds its own: walking up from the checked folder, the first folder
holding a `weightmatch.toml` (its keys at the top level) or a `pyproject.toml` with a
`[tool.weightmatch]` table wins (in one folder, weightmatch.toml first; a pyproject.toml
without the table is passed over). Nothing is merged across files.

Reading is lenient: a key of the wrong type or an unknown key is left out with one
warning naming it; only a file that is not valid TOML is an error (ConfigError).
The CLI and the language server both read it; their own options override it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the package declares tomli for it; the VS Code
    # extension's bundled libraries may lack it, and then the file is reported, not read
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

from weightmatch.codes import CODES, OPT_IN

FILENAMES = ("weightmatch.toml", "pyproject.toml")
SEVERITY_VALUES = ("error", "warning", "information", "hint", "off")


class ConfigError(Exception):
    """The file exists but is not valid TOML."""


@dataclass
class ScriptConfig:
    """How a script is run (`[tool.weightmatch.scripts."train.py"]`): its arguments and folder."""

    args: list[str] = field(default_factory=list)
    cwd: str | None = None  # absolute; None: the script's own folder


@dataclass
class FileConfig:
    path: str | None = None  # the file read; None: no configuration file
    include: list[str] = field(default_factory=list)  # gitignore-style patterns, relative to `base`
    exclude: list[str] = field(default_factory=list)
    respect_gitignore: bool = True
    select: list[str] | None = None  # None: every code
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)  # code -> error|warning|information|hint|off
    checkpoint_search_paths: list[str] = field(default_factory=list)  # absolute
    execute_model_code: bool | None = None  # None: not set in the file
    static_inference_first: bool | None = None
    worker_timeout: float | None = None
    report_unused_ignores: bool | None = None
    scripts: dict[str, ScriptConfig] = field(default_factory=dict)  # absolute script path -> how it runs
    warnings: list[str] = field(default_factory=list)

    @property
    def base(self) -> str | None:
        """The folder the file's relative paths and patterns are relative to."""
        return os.path.dirname(self.path) if self.path else None


def find_config(start: str) -> str | None:
    """The configuration file that applies to `start` (a file or a folder), or None."""
    folder = os.path.abspath(start)
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    while True:
        for name in FILENAMES:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and (name != "pyproject.toml" or _has_table(candidate)):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def load_config(start: str) -> FileConfig:
    """The configuration that applies to `start`; an empty FileConfig when there is none."""
    path = find_config(start)
    return read_config(path) if path else FileConfig()


def read_config(path: str) -> FileConfig:
    path = os.path.abspath(path)
    data = _read_toml(path)
    if os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("weightmatch", {})
        where = f"[tool.weightmatch] in {path}"
    else:
        table = data
        where = path
    return parse_table(table, path, where)


def parse_table(table: dict[str, Any], path: str, where: str) -> FileConfig:
    out = FileConfig(path=path)
    base = os.path.dirname(path)
    warn = out.warnings.append

    def get(key: str, kinds: type | tuple[type, ...], what: str) -> Any:
        if key not in table:
            return None
        value = table[key]
        bad_bool = isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))
        if not isinstance(value, kinds) or bad_bool:
            warn(f"weightmatch: `{key}` in {where} must be {what}, got {value!r}: ignored")
            return None
        return value

    def strings(key: str) -> list[str] | None:
        value = get(key, list, "a list of strings")
        if value is None:
            return None
        if not all(isinstance(v, str) for v in value):
            warn(f"weightmatch: `{key}` in {where} must be a list of strings: ignored")
            return None
        return list(value)

    def codes(key: str) -> list[str] | None:
        value = strings(key)
        if value is None:
            return None
        for code in value:
            if code not in CODES and code != "ALL":
                warn(f"weightmatch: unknown code `{code}` in `{key}` of {where}")
        return value

    for key in table:
        if key not in KNOWN_KEYS:
            warn(f"weightmatch: unknown key `{key}` in {where}: ignored")

    out.include = strings("include") or []
    out.exclude = strings("exclude") or []
    if (v := get("respect-gitignore", bool, "true or false")) is not None:
        out.respect_gitignore = v
    selected = codes("select")
    out.select = None if selected is None or "ALL" in selected else selected
    out.ignore = codes("ignore") or []
    severity = get("severity", dict, "a table of code = level")
    for code, level in (severity or {}).items():
        if code not in CODES:
            warn(f"weightmatch: unknown code `{code}` in `severity` of {where}")
        if not isinstance(level, str) or level.lower() not in SEVERITY_VALUES:
            warn(f"weightmatch: `severity.{code}` in {where} must be one of {', '.join(SEVERITY_VALUES)}, "
                 f"got {level!r}: ignored")
            continue
        out.severity[code] = level.lower()
    out.checkpoint_search_paths = [os.path.normpath(os.path.join(base, os.path.expanduser(p)))
                                   for p in strings("checkpoint-search-paths") or []]
    out.execute_model_code = get("execute-model-code", bool, "true or false")
    out.static_inference_first = get("static-inference-first", bool, "true or false")
    out.report_unused_ignores = get("report-unused-ignores", bool, "true or false")
    timeout = get("worker-timeout", (int, float), "a number of seconds")
    if timeout is not None and timeout <= 0:
        warn(f"weightmatch: `worker-timeout` in {where} must be positive, got {timeout!r}: ignored")
        timeout = None
    out.worker_timeout = float(timeout) if timeout is not None else None

    for name, spec in (get("scripts", dict, 'a table of [scripts."file.py"] tables') or {}).items():
        if not isinstance(spec, dict):
            warn(f"weightmatch: `scripts.\"{name}\"` in {where} must be a table: ignored")
            continue
        script = ScriptConfig()
        for key in spec:
            if key not in ("args", "cwd"):
                warn(f"weightmatch: unknown key `scripts.\"{name}\".{key}` in {where}: ignored")
        args = spec.get("args", [])
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            script.args = list(args)
        else:
            warn(f"weightmatch: `scripts.\"{name}\".args` in {where} must be a list of strings: ignored")
        cwd = spec.get("cwd")
        if isinstance(cwd, str):
            script.cwd = os.path.normpath(os.path.join(base, cwd))
        elif cwd is not None:
            warn(f"weightmatch: `scripts.\"{name}\".cwd` in {where} must be a string: ignored")
        out.scripts[os.path.normpath(os.path.join(base, name))] = script
    return out


KNOWN_KEYS = ("include", "exclude", "respect-gitignore", "select", "ignore", "severity", "checkpoint-search-paths",
              "execute-model-code", "static-inference-first", "worker-timeout", "report-unused-ignores", "scripts")


def script_arguments(script: str, config: FileConfig | None = None) -> ScriptConfig | None:
    """How `script` is run according to the configuration file that applies to it (or
    `config`): its `args` (sys.argv[1:]) and `cwd`; None when the file does not say."""
    script = os.path.normpath(os.path.abspath(script))
    if config is None:
        config = load_config(script)
    return config.scripts.get(script)


def enabled_codes(select: list[str] | None, ignore: list[str]) -> dict[str, str]:
    """`select`/`ignore` as severity overrides: every code they turn off, as "off"."""
    off = {}
    for code in CODES:
        if code in ignore or (select is not None and code not in select and code not in OPT_IN):
            off[code] = "off"
    return off


def _read_toml(path: str) -> dict[str, Any]:
    if tomllib is None:
        raise ConfigError(f"cannot read {path}: reading TOML needs Python 3.11 or the tomli package")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:  # type: ignore[union-attr]
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _has_table(pyproject: str) -> bool:
    try:
        data = _read_toml(pyproject)
    except ConfigError:
        return True  # reported when read
    tool = data.get("tool")
    return isinstance(tool, dict) and "weightmatch" in tool
