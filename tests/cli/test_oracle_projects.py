"""The CLI against PyTorch's recorded outcome on the project-shaped cases (../shared/projects):
argparse, main(), helpers, Solver classes, config objects and files, registries, layers in
imported modules; half of them clean loads. Both orders (static inference first, the worker
first) must give the same diagnostics."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, run_cli

PROJECTS = REPO.parent / "shared" / "projects"
SCORE = REPO.parent / "shared" / "oracle" / "score.py"
SKIP = shutil.ignore_patterns("*.pt", "*.pth", "*.ckpt", "*.bin", "*.safetensors", "__pycache__", "expected.json")


@pytest.fixture(scope="module")
def shared() -> None:
    if not (SCORE.exists() and PROJECTS.exists()):
        if os.environ.get("CI"):
            pytest.fail("../shared/projects is not beside this checkout: CI must score against it")
        pytest.skip("../shared/projects is not beside this checkout")


def _score_module():
    spec = importlib.util.spec_from_file_location("wm_oracle_score_projects", SCORE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _without_how(stdout: str) -> list[dict]:
    return [{k: v for k, v in d.items() if k != "how"} for d in json.loads(stdout)["diagnostics"]]


def test_every_shared_project_matches_pytorch(shared, tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    cases = sorted(c for c in PROJECTS.iterdir() if (c / "workspace" / "main.py").exists())
    assert len(cases) >= 14
    for case in cases:
        root = tmp_path / case.name
        shutil.copytree(case, root, ignore=SKIP)
        made = subprocess.run([sys.executable, "make_ckpt.py"], cwd=root, capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        ws = root / "workspace"
        p = run_cli("check", "--format", "json", "--root", str(ws), str(ws), cwd=ws)
        assert p.returncode in (0, 1), p.stderr
        (out / f"{case.name}.json").write_text(p.stdout)
        q = run_cli("check", "--format", "json", "--exec-first", "--root", str(ws), str(ws), cwd=ws)
        assert (q.returncode, _without_how(q.stdout)) == (p.returncode, _without_how(p.stdout)), case.name
    score = _score_module()
    results, _, total = score.score(PROJECTS, out)
    report = [f"{r['case']}: {r['details']} keys {r['tp']}/{r['pred']}/{r['truth']} "
              f"loc {r['loc_hits']}/{r['loc_total']} stray {r['stray_errors']}"
              for r in results if r["right"] != r["calls"] or r["tp"] != r["pred"] or r["tp"] != r["truth"]
              or r["loc_hits"] != r["loc_total"] or r["stray_errors"]]
    m = score.metrics(total)
    assert not report, "\n".join(report)
    assert m["verdict_accuracy"] == 1.0
    assert m["key_precision"] == 1.0 and m["key_recall"] == 1.0
    assert m["location"] == 1.0
