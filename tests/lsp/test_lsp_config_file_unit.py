"""ClientSettings over the project's configuration file, without a server: file < client setting."""

from __future__ import annotations

from weightmatch.lsp.config import ClientSettings


def test_client_settings_that_differ_from_their_default_override_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("""
[tool.weightmatch]
severity = { size-mismatch = "warning", missing-keys = "hint" }
ignore = ["unresolved-model"]
checkpoint-search-paths = ["ckpts"]
execute-model-code = false
static-inference-first = false
worker-timeout = 5
""")
    logged = []
    log = lambda level, message: logged.append((level, message))  # noqa: E731
    # the client sends nothing (or only defaults, as VS Code does): the file decides
    for raw in ({}, {"executeModelCode": True, "staticInferenceFirst": True, "workerTimeoutSeconds": 30}):
        settings, problems = ClientSettings.from_json(raw)
        s = settings.engine_settings(str(tmp_path), trusted=True, log=log)
        assert not problems and (s.execute, s.static_first, s.worker_timeout) == (False, False, 5.0)
        assert s.severity_overrides == {"size-mismatch": "warning", "missing-keys": "hint", "unresolved-model": "off"}
        assert s.search_paths == [str(tmp_path / "ckpts")]
    # set to something else: the client wins, per key
    settings, _ = ClientSettings.from_json({"executeModelCode": False, "workerTimeoutSeconds": 12,
                                            "severityOverrides": {"size-mismatch": "error"},
                                            "checkpointSearchPaths": ["more"]})
    s = settings.engine_settings(str(tmp_path), trusted=True, log=log)
    assert (s.execute, s.static_first, s.worker_timeout) == (False, False, 12.0)
    assert s.severity_overrides["size-mismatch"] == "error" and s.severity_overrides["missing-keys"] == "hint"
    assert s.search_paths == [str(tmp_path / "more"), str(tmp_path / "ckpts")]
    # an untrusted workspace never runs model code, whatever the file says
    (tmp_path / "pyproject.toml").write_text("[tool.weightmatch]\nexecute-model-code = true\n")
    assert ClientSettings().engine_settings(str(tmp_path), trusted=False, log=log).execute is False
    assert logged == []


def test_unknown_key_and_broken_file_are_logged_once(tmp_path):
    (tmp_path / "weightmatch.toml").write_text("not-a-key = 1\n")
    logged = []
    log = lambda level, message: logged.append((level, message))  # noqa: E731
    for _ in range(3):
        ClientSettings().engine_settings(str(tmp_path), trusted=True, log=log)
    assert len(logged) == 1 and logged[0][0] == "warning" and "unknown key `not-a-key`" in logged[0][1]
    (tmp_path / "weightmatch.toml").write_text("x = [\n")
    s = ClientSettings().engine_settings(str(tmp_path), trusted=True, log=log)
    assert s.execute is True and "not valid TOML" in logged[-1][1]
