"""Smoke run of the benchmarks (bench/run.py --quick): tiny sizes, every benchmark must
produce numbers. No timing thresholds here: those are what bench/RESULTS.md reports."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

pytestmark = pytest.mark.slow


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x) and x >= 0


def test_quick_run_produces_every_number(tmp_path):
    from bench import run

    out = tmp_path / "RESULTS.md"
    raw = tmp_path / "results.json"
    assert run.main(["--quick", "--data", str(tmp_path / "data"), "--out", str(out), "--json", str(raw)]) == 0
    r = json.loads(raw.read_text())

    for key in ("cpu", "cores", "memory_gib", "python", "torch", "date"):
        assert r["machine"][key], key

    # 1. reading: every candidate, both files, time and both counters
    for label in ("big", "many"):
        per = r["read"][label]
        for mode in r["config"]["read_modes"]:
            assert set(per[mode]) == set(run.b_read.CANDIDATES)
            for stats in per[mode].values():
                assert _number(stats["seconds"]) and stats["seconds"] > 0
                assert _number(stats["read_bytes"]) and _number(stats["rchar"])
                assert stats["tensors"] > 0
    # The reader reads far less of the file than a full torch.load (the point of it).
    big_cold = r["read"]["big"]["cold"]
    assert big_cold["weightmatch"]["rchar"] < big_cold["torch.load(weights_only=True)"]["rchar"]

    # 2. time to the answer: both commands ran and found the size mismatch
    for mode in r["config"]["answer_modes"]:
        a = r["answer"][mode]
        assert a["python main.py"]["verdicts"] == ["size-mismatch"]
        assert "size-mismatch" in a["weightmatch check main.py"]["verdicts"][0]
        for s in a.values():
            assert _number(s["seconds"]) and s["seconds"] > 0

    # 3. editor latency over LSP
    e = r["editor"]
    w = e["worker_first"]
    for session in (e, w):
        assert _number(session["cold_open_s"]) and session["cold_diagnostics"] > 0
        assert set(session["series"]) == {"comment", "comment burst", "layer", "layer burst"}
        for s in session["series"].values():
            assert s["n"] > 0 and _number(s["p50"]) and _number(s["p95"])
        assert _number(session["hover"]["p95"])
        assert session["memory"]["server_hwm"] > 0
    assert sorted(e["codes"]) == sorted(w["codes"])  # both orders give the same diagnostics
    assert e["memory"]["worker_hwm"] == 0  # static inference answered: no worker started
    assert w["memory"]["worker_hwm"] > 0 and "ready in" in w["worker_ready_log"]

    # 4. scale
    s = r["scale"]
    assert s["read_index"]["tensors"] == r["config"]["scale_tensors"]
    assert "size-mismatch" in s["lsp"]["cold_codes"]
    assert _number(s["lsp"]["warm_change_s"]["median"]) and _number(s["lsp"]["rebuild_s"])
    assert s["lsp"]["memory"]["server_hwm"] > 0
    assert s["lsp"]["how"] == ["static"]  # the loop of layers is followed statically: no worker
    assert s["lsp"]["memory"]["worker_hwm"] == 0
    assert s["project"]["files"] == r["config"]["project_files"]
    assert s["project"]["diagnostics"] > 0 and _number(s["project"]["seconds"])

    text = out.read_text()
    assert "Quick run" in text and "## Targets" in text and "Machine:" in text
    # The quick run cleans up its generated "big" checkpoint like the full run does.
    assert not list((tmp_path / "data").glob("big-*.pt"))
