"""Benchmark 2: time to the answer — `weightmatch check main.py` (a whole cold process)
against `python main.py`, which builds the model and loads the big checkpoint only to hit
the same RuntimeError (a size mismatch in one layer). Static inference answers this model;
`--exec-first` times the worker's answer (its torch import included) on the same script.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bench.common import PYTHON, WEIGHTMATCH, evict, log, median, warm


def _time(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)
    return time.perf_counter() - t, r


def run(script: Path, ckpt: Path, runs_user: int = 3, runs_check: int = 5, modes=("warm", "cold")) -> dict:
    folder = script.parent
    out: dict = {"checkpoint_size": ckpt.stat().st_size}
    for mode in modes:
        prepare = (lambda: warm(ckpt)) if mode == "warm" else (lambda: evict(ckpt))
        res: dict = {}
        series = {
            "python main.py": ([PYTHON, script.name], runs_user),
            "weightmatch check main.py": ([WEIGHTMATCH, "check", "--format", "json", script.name], runs_check),
            "weightmatch check --exec-first main.py": ([WEIGHTMATCH, "check", "--exec-first", "--format", "json",
                                                         script.name], runs_check),
            "weightmatch check --no-exec main.py": ([WEIGHTMATCH, "check", "--no-exec", "--format", "json", script.name], runs_check),
        }
        for name, (cmd, runs) in series.items():
            times, verdicts = [], set()
            for _ in range(runs):
                log(f"answer: {mode} {name}")
                prepare()
                dt, r = _time(cmd, folder)
                times.append(dt)
                if name == "python main.py":
                    verdicts.add("size-mismatch" if "size mismatch for" in r.stderr else f"exit {r.returncode}")
                else:
                    try:
                        codes = sorted({d["code"] for d in json.loads(r.stdout)["diagnostics"]})
                    except (ValueError, KeyError):
                        codes = [f"exit {r.returncode}: {r.stderr[-300:]}"]
                    verdicts.add(",".join(codes) or "no diagnostics")
            res[name] = {"seconds": median(times), "all_seconds": times, "verdicts": sorted(verdicts)}
        out[mode] = res
    return out
