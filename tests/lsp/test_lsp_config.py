"""The server's setting defaults are package.json's (settings are declared once there)."""

from __future__ import annotations

import json

import pytest

from lsp_helpers import REPO
from weightmatch.lsp.config import ClientSettings

KEYS = {
    "interpreter": "interpreter",
    "executeModelCode": "execute_model_code",
    "checkpointSearchPaths": "checkpoint_search_paths",
    "severityOverrides": "severity_overrides",
    "workerTimeoutSeconds": "worker_timeout_seconds",
    "logLevel": "log_level",
    "showUnresolvedLoads": "show_unresolved_loads",
}


def declared() -> dict:
    path = REPO / "package.json"
    if not path.exists():
        pytest.skip("no package.json yet")
    contributes = json.loads(path.read_text())["contributes"]["configuration"]
    sections = contributes if isinstance(contributes, list) else [contributes]
    return {k.removeprefix("weightmatch."): v for s in sections for k, v in s["properties"].items()}


def test_defaults_match_package_json():
    props = declared()
    defaults = ClientSettings()
    for key, attr in KEYS.items():
        assert key in props, f"weightmatch.{key} is not declared in package.json"
        assert getattr(defaults, attr) == props[key].get("default"), key


def test_wrong_types_fall_back_and_are_reported():
    settings, problems = ClientSettings.from_json(
        {"executeModelCode": "yes", "workerTimeoutSeconds": -1, "logLevel": "loud", "severityOverrides": {"size-mismatch": "Warning"}})
    assert settings.execute_model_code is True and settings.worker_timeout_seconds == 30.0
    assert settings.log_level == "info" and settings.severity_overrides == {"size-mismatch": "warning"}
    assert len(problems) == 3


def test_untrusted_forces_static():
    assert ClientSettings(execute_model_code=True).engine_settings("/ws", trusted=False).execute is False
    assert ClientSettings(execute_model_code=True).engine_settings("/ws", trusted=True).execute is True


def test_unresolved_loads_are_at_most_hints_in_the_editor():
    shown = ClientSettings(severity_overrides={"unresolved-model": "error", "size-mismatch": "warning"})
    assert shown.editor_overrides() == {"unresolved-model": "hint", "unresolved-checkpoint": "hint",
                                        "unresolved-load": "hint", "size-mismatch": "warning"}
    hidden, problems = ClientSettings.from_json({"showUnresolvedLoads": False})
    assert problems == [] and hidden.editor_overrides() == {
        "unresolved-model": "off", "unresolved-checkpoint": "off", "unresolved-load": "off"}
    off = ClientSettings(severity_overrides={"unresolved-checkpoint": "off"}).editor_overrides()
    assert off["unresolved-checkpoint"] == "off" and off["unresolved-model"] == "hint"
