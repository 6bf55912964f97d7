"""Helpers shared by the analysis tests."""


def codes(analysis) -> list[tuple[str, str, int]]:
    """(code, severity, 1-based line) of each finding, sorted."""
    return sorted((f.code, f.severity, f.span.line + 1) for f in analysis.findings)


RECORDER = r'''
import json, re, runpy, sys, traceback
import torch.nn as nn

SCRIPT = sys.argv[1]
sys.argv = [SCRIPT, *sys.argv[2:]]  # as `python main.py ARGS` runs it
original = nn.Module.load_state_dict
loads = []


def recorded(self, *args, **kwargs):
    frame = sys._getframe(1)
    line = frame.f_lineno if frame.f_code.co_filename == SCRIPT else None
    try:
        result = original(self, *args, **kwargs)
    except Exception as exc:
        text = str(exc)
        loads.append({"line": line, "raises": True, "message": text,
                      "mismatched": re.findall(r"size mismatch for (\S+):", text),
                      "missing": re.findall(r'"([^"]+)"', text.split("Missing key(s) in state_dict:")[1].split("\n")[0])
                      if "Missing key(s)" in text else [],
                      "unexpected": re.findall(r'"([^"]+)"', text.split("Unexpected key(s) in state_dict:")[1].split("\n")[0])
                      if "Unexpected key(s)" in text else []})
        return None
    loads.append({"line": line, "raises": False, "missing": list(result.missing_keys),
                  "unexpected": list(result.unexpected_keys), "mismatched": []})
    return result


nn.Module.load_state_dict = recorded
crash = None
try:
    runpy.run_path(SCRIPT, run_name="__main__")
except SystemExit as exc:  # click's `main()` ends with sys.exit(0)
    if exc.code not in (0, None):
        crash = {"type": "SystemExit", "message": str(exc.code), "line": None}
except BaseException as exc:
    tb = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SCRIPT]
    crash = {"type": type(exc).__name__, "message": str(exc), "line": tb[-1].lineno if tb else None}
print(json.dumps({"loads": loads, "crash": crash}))
'''


def pytorch_outcomes(case, script: str = "main.py", args: list[str] = (), env: dict | None = None) -> dict:
    """Run the script with real PyTorch (`python script ARGS`), every load_state_dict recorded
    (1-based line, whether it raised, the keys PyTorch names) and the script going on past a
    failing load; and how the script ended (`crash`: exception type and line, or None)."""
    import json
    import subprocess
    import sys

    import os

    path = str(case.dir / script)
    p = subprocess.run([sys.executable, "-c", RECORDER, path, *args], cwd=case.dir, capture_output=True, text=True,
                       timeout=300, env={**os.environ, **(env or {})})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def findings_at(result, load_line: int) -> list:
    """The findings of the load_state_dict call on 1-based line `load_line`."""
    return [f for f in result.findings if f.load_call.line + 1 == load_line]


def analyze_alone(case, execute: bool, script: str = "main.py", script_args: str | None = None):
    """Analyse one script of the case's folder in a Project of its own (the folder is the root)."""
    from weightmatch.project import Project, Settings

    path = str(case.dir / script)
    settings = Settings(execute=execute, worker_timeout=120, script_args={path: script_args} if script_args else {})
    project = Project(str(case.dir), settings)
    try:
        return project.analyze(path)
    finally:
        project.close()


def agrees_with_pytorch(result, load: dict, keys: str = "") -> None:
    """The one load is resolved, raises exactly when PyTorch's did, and (with `keys`: "mismatched",
    "missing", "unexpected", "+"-joined) names the keys PyTorch named."""
    (report,) = result.reports
    messages = [f.message for f in result.findings]
    assert report.how is not None, messages
    errors = [f for f in result.findings if f.severity == "error"]
    assert bool(errors) == load["raises"], messages
    if keys:
        expected = sorted(k for kind in keys.split("+") for k in load[kind])
        assert sorted(k for f in errors for k in f.keys) == expected, messages


def judged_like_pytorch(case, execute: bool, keys: str = "", script: str = "main.py", args: list[str] = ()) -> None:
    """The script's one load, run with real PyTorch (`python script ARGS`, no crash), and
    analysed alone in the given mode (with ARGS as its configured arguments): the same verdict
    and keys."""
    truth = pytorch_outcomes(case, script, args)
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    result = analyze_alone(case, execute, script, " ".join(args) or None)
    agrees_with_pytorch(result, truth["loads"][0], keys)


def resolved_like_pytorch(case, execute: bool, keys: str = "", script: str = "main.py", args: list[str] = ()) -> None:
    """judged_like_pytorch, and the load is resolved: no `unresolved-*` finding is left."""
    judged_like_pytorch(case, execute, keys, script, args)
    result = analyze_alone(case, execute, script, " ".join(args) or None)
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]


def save_layers(case, path: str = "w.pt", **layers: str) -> None:
    """Save a state dict made of named torch layers, each given as its constructor's source
    (`fc="nn.Linear(4, 8)"` -> fc.weight, fc.bias), with real torch in the case's folder."""
    parts = ", ".join(f"**{{{name!r} + '.' + k: v for k, v in ({ctor}).state_dict().items()}}"
                      for name, ctor in layers.items())
    case.torch(f"import torch, torch.nn as nn\ntorch.save({{{parts}}}, {path!r})")
