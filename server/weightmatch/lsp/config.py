"""The client's `weightmatch.*` settings, read leniently and turned into engine Settings.

The keys and defaults mirror `package.json` (the one place settings are declared);
a wrong type falls back to the default and is reported, never raised.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

LOG_LEVELS = ("error", "warning", "info", "debug")
# loads whose model or checkpoint is known only at run time: at most hints in the editor
UNRESOLVED_CODES = ("unresolved-model", "unresolved-checkpoint", "unresolved-load")


@dataclass
class ClientSettings:
    interpreter: str = ""
    execute_model_code: bool = True
    static_inference_first: bool = True
    checkpoint_search_paths: list[str] = field(default_factory=list)
    severity_overrides: dict[str, str] = field(default_factory=dict)
    worker_timeout_seconds: float = 30.0
    log_level: str = "info"
    show_unresolved_loads: bool = True
    script_arguments: dict[str, Any] = field(default_factory=dict)  # {"train.py": "--num-classes 100"}
    # the keys the client set to something other than package.json's default: only those
    # override the project's configuration file (VS Code answers with every default too)
    explicit: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, raw: Any) -> tuple["ClientSettings", list[str]]:
        """Settings from a `workspace/configuration` answer, and what was wrong with it."""
        out = cls()
        problems: list[str] = []
        if raw is None:
            return out, problems
        if hasattr(raw, "_asdict"):  # pygls turns unknown JSON objects into namedtuples
            raw = _plain(raw)
        if not isinstance(raw, dict):
            return out, [f"weightmatch settings: expected an object, got {type(raw).__name__}"]

        def take(key: str, kind: type | tuple[type, ...], attr: str) -> None:
            if key not in raw or raw[key] is None:
                return
            value = raw[key]
            if isinstance(value, bool) and kind in (int, float, (int, float)):
                problems.append(f"weightmatch.{key}: expected a number, got {value!r}")
            elif isinstance(value, kind):
                setattr(out, attr, value)
            else:
                problems.append(f"weightmatch.{key}: expected {_kind_name(kind)}, got {value!r}")

        take("interpreter", str, "interpreter")
        take("executeModelCode", bool, "execute_model_code")
        take("staticInferenceFirst", bool, "static_inference_first")
        take("checkpointSearchPaths", list, "checkpoint_search_paths")
        take("severityOverrides", dict, "severity_overrides")
        take("workerTimeoutSeconds", (int, float), "worker_timeout_seconds")
        take("logLevel", str, "log_level")
        take("showUnresolvedLoads", bool, "show_unresolved_loads")
        take("scriptArguments", dict, "script_arguments")
        defaults = cls()
        out.explicit = frozenset(key for key, attr in _KEYS.items() if getattr(out, attr) != getattr(defaults, attr))

        out.checkpoint_search_paths = [p for p in out.checkpoint_search_paths if isinstance(p, str) and p]
        out.severity_overrides = {
            str(k): str(v).lower() for k, v in out.severity_overrides.items() if isinstance(v, str)
        }
        out.worker_timeout_seconds = float(out.worker_timeout_seconds)
        if out.worker_timeout_seconds <= 0:
            problems.append("weightmatch.workerTimeoutSeconds must be positive; using 30")
            out.worker_timeout_seconds = 30.0
        out.log_level = out.log_level.lower()
        if out.log_level == "warn":
            out.log_level = "warning"
        if out.log_level not in LOG_LEVELS:
            problems.append(f"weightmatch.logLevel: unknown level {out.log_level!r}; using info")
            out.log_level = "info"
        return out, problems

    def editor_overrides(self) -> dict[str, str]:
        """Severity per code as the editor shows it: the user's overrides, with every unresolved-*
        code at most a hint, and off when showUnresolvedLoads is off."""
        out = dict(self.severity_overrides)
        for code in UNRESOLVED_CODES:
            hidden = not self.show_unresolved_loads or out.get(code) == "off"
            out[code] = "off" if hidden else "hint"
        return out

    def engine_settings(self, root: str, trusted: bool, log=None):
        """The engine's Settings for a workspace folder; untrusted forces static inference.

        The project's configuration file (config_file.py, found from the folder up) comes
        first; a setting the client set to other than its default overrides it."""
        from weightmatch.config_file import ConfigError, enabled_codes, load_config
        from weightmatch.project import Settings

        try:
            file = load_config(root)
        except ConfigError as exc:
            _warn_once(log, f"{exc}: the configuration file is ignored")
            from weightmatch.config_file import FileConfig

            file = FileConfig()
        for warning in file.warnings:
            _warn_once(log, warning)

        def pick(key: str, mine, theirs):
            return mine if key in self.explicit or theirs is None else theirs

        interpreter = os.path.expanduser(self.interpreter) if self.interpreter else sys.executable
        search = [p if os.path.isabs(p) else os.path.join(root, p) for p in map(os.path.expanduser, self.checkpoint_search_paths)]
        overrides = {**file.severity, **enabled_codes(file.select, file.ignore), **self.severity_overrides}
        settings = Settings(
            execute=pick("executeModelCode", self.execute_model_code, file.execute_model_code) and trusted,
            search_paths=[*search, *file.checkpoint_search_paths],
            severity_overrides=overrides,
            worker_timeout=pick("workerTimeoutSeconds", self.worker_timeout_seconds, file.worker_timeout),
            python=interpreter,
            static_first=pick("staticInferenceFirst", self.static_inference_first, file.static_inference_first),
            script_args={k if os.path.isabs(k) else os.path.join(root, k): v
                         for k, v in self.script_arguments.items() if isinstance(v, (str, list))},
        )
        # read by the language server's documents (lsp/documents.py), not by the engine
        settings.report_unused_ignores = bool(file.report_unused_ignores)  # type: ignore[attr-defined]
        return settings


_KEYS = {"interpreter": "interpreter", "executeModelCode": "execute_model_code",
         "staticInferenceFirst": "static_inference_first", "checkpointSearchPaths": "checkpoint_search_paths",
         "severityOverrides": "severity_overrides", "workerTimeoutSeconds": "worker_timeout_seconds",
         "logLevel": "log_level", "scriptArguments": "script_arguments"}
_warned: set[str] = set()


def _warn_once(log, message: str) -> None:
    """A configuration file problem, logged once per server (settings are applied often)."""
    if message not in _warned:
        _warned.add(message)
        if log is not None:
            log("warning", message)


def log_enabled(message_level: str, setting: str) -> bool:
    try:
        return LOG_LEVELS.index(message_level) <= LOG_LEVELS.index(setting)
    except ValueError:
        return True


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return "a number"
    return {str: "a string", bool: "true or false", list: "a list", dict: "an object"}.get(kind, kind.__name__)
