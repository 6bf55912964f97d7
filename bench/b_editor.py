"""Benchmark 3: editor latency over real LSP against `python -m weightmatch serve`.

A script with 5 load_state_dict calls (plain, nested training checkpoint, strict=False,
safetensors, DataParallel prefix) on checkpoints written by real torch. Two sessions: the
default one (static inference answers these models, the worker never starts) and one with
`staticInferenceFirst: false` (the worker builds every model, as it does for models static
inference cannot follow). Measured from the client: didOpen → first publishDiagnostics
with a cold server (and, worker first, a cold worker: torch import included); didChange → publishDiagnostics for the new version, for single edits
after a quiet spell (the server analyses the first change after a quiet spell at once)
and for typing bursts (5 changes 80 ms apart: the server's debounce merges them into one
analysis; measured from the last keystroke); hover request → response.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from bench.common import log, median, percentile, run_json
from bench.lsp_session import Session

CLASSES = '''
class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(128, width)
        self.fc2 = nn.Linear(width, width)
        self.head = nn.Linear(width, 10)


class CNN(nn.Module):
    def __init__(self, channels=16, extra=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels * 2, 3)
        self.bn2 = nn.BatchNorm2d(channels * 2)
        self.fc = nn.Linear(channels * 2, 10)
        if extra:
            self.aux = nn.Linear(channels * 2, 5)
'''

SCRIPT = '''import torch
import torch.nn as nn
from safetensors.torch import load_file
''' + CLASSES + '''

m1 = MLP(width={width})
m1.load_state_dict(torch.load("ck1.pt", weights_only=True))

m2 = CNN()
ckpt = torch.load("ck2.pt", weights_only=True)
m2.load_state_dict(ckpt["model"])

m3 = CNN(extra=True)
m3.load_state_dict(torch.load("ck3.pt", weights_only=True), strict=False)

m4 = MLP(width=32)
m4.load_state_dict(load_file("ck4.safetensors"))

m5 = CNN(channels=8)
m5.load_state_dict(torch.load("ck5.pt", weights_only=True))
# edit {edit}
'''

GEN = '''import json, sys, torch
import torch.nn as nn
from safetensors.torch import save_file
''' + CLASSES + '''
torch.save(MLP(64).state_dict(), "ck1.pt")
torch.save({"model": CNN().state_dict(), "epoch": 3}, "ck2.pt")
torch.save(CNN().state_dict(), "ck3.pt")
save_file(MLP(32).state_dict(), "ck4.safetensors")
torch.save(nn.DataParallel(CNN(channels=8)).state_dict(), "ck5.pt")
print(json.dumps({}))
'''


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "ck5.pt").exists():
        run_json(GEN, cwd=str(folder))
    script = folder / "main.py"
    script.write_text(SCRIPT.format(width=64 + 1, edit=0))
    return script


async def _run(folder: Path, edits: int, hovers: int, settings: dict | None = None) -> dict:
    script = make_project(folder)
    session = Session(folder, settings)
    out: dict = {"edits_per_series": edits, "hovers": hovers}
    await session.start()
    try:
        uri, t_open = session.open(script)
        t_first, first = await session.publish_for(uri, t_open, 1)
        out["cold_open_s"] = t_first - t_open
        out["cold_from_spawn_s"] = t_first - session.started
        out["cold_diagnostics"] = len(first)
        ready = session.worker_logs("ready in")
        out["worker_ready_log"] = ready[0] if ready else None
        codes = sorted(str(d.code) for d in first)
        out["codes"] = codes

        from weightmatch.lsp.features.diagnostics import DEBOUNCE

        rng = random.Random(0)
        width = 65
        counter = 0

        def next_text(kind: str) -> str:
            nonlocal width, counter
            counter += 1
            if kind == "layer":
                width += 1  # a new constructor argument: the worker builds a new model
            return SCRIPT.format(width=width, edit=counter)

        async def isolated(kind: str) -> list[float]:
            """Single edits after a quiet spell longer than the debounce: didChange → publish."""
            latencies = []
            for _ in range(edits):
                await asyncio.sleep(DEBOUNCE + rng.uniform(0.1, 0.2))
                version, t = session.change(uri, next_text(kind))
                t_pub, _ = await session.publish_for(uri, t, version)
                latencies.append(t_pub - t)
            return latencies

        async def bursts(kind: str, keys: int = 5, gap: float = 0.08) -> list[float]:
            """Typing: `keys` changes `gap` s apart; last keystroke → publish of its version."""
            latencies = []
            for _ in range(max(3, edits // 4)):
                await asyncio.sleep(DEBOUNCE + rng.uniform(0.1, 0.2))
                for k in range(keys):
                    version, t = session.change(uri, next_text(kind))
                    if k < keys - 1:
                        await asyncio.sleep(gap)
                t_pub, _ = await session.publish_for(uri, t, version)
                latencies.append(t_pub - t)
            return latencies

        series_out = {}
        for kind in ("comment", "layer"):
            log(f"editor: {edits} × isolated {kind} edits")
            lat = await isolated(kind)
            series_out[kind] = {"p50": median(lat), "p95": percentile(lat, 95), "max": max(lat), "n": len(lat)}
            log(f"editor: typing bursts of {kind} edits")
            lat = await bursts(kind)
            series_out[kind + " burst"] = {"p50": median(lat), "p95": percentile(lat, 95), "max": max(lat),
                                           "n": len(lat)}
        out["series"] = series_out

        # Hovers on the layer lines (with findings) and the load lines, after the last analysis.
        text = session.texts[uri]
        targets = []
        for n, line in enumerate(text.splitlines()):
            if "self.fc1 =" in line or "self.conv1 =" in line or "load_state_dict" in line:
                targets.append((n, line.index(line.strip()) + 6))
        lat = []
        empty = 0
        for i in range(hovers):
            line, ch = targets[i % len(targets)]
            dt, result = await session.hover(uri, line, ch)
            lat.append(dt)
            empty += result is None
        out["hover"] = {"p50": median(lat), "p95": percentile(lat, 95), "max": max(lat), "n": len(lat),
                        "empty": empty}
        session.sampler.sample()
        out["memory"] = dict(session.sampler.peak)
    finally:
        await session.stop()
    from weightmatch.lsp.features.diagnostics import DEBOUNCE

    out["debounce_s"] = DEBOUNCE
    return out


def run(folder: Path, edits: int = 40, hovers: int = 100) -> dict:
    out = asyncio.run(_run(folder, edits, hovers))
    log("editor: the same session with the worker first")
    out["worker_first"] = asyncio.run(_run(folder, max(2, edits // 2), max(2, hovers // 5),
                                           {"staticInferenceFirst": False}))
    return out
