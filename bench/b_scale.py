"""Benchmark 4: scale.

(a) A sharded safetensors checkpoint of 100,000 tensors (10 shards + index.json) against a
    model of 100,000 parameters (an nn.ModuleList of 50,000 nn.Linear(2, 2) built by a loop
    in a class; the last layer differs), over real LSP: cold first diagnostics, the
    worker's build time, warm re-analysis. The script merges the shards with
    `state.update(load_file(shard))` lines; reading the index.json itself is timed in-process.
(b) A 1,000-file project with 50 load calls: `weightmatch check` end to end.
Memory: VmRSS/VmHWM of the server and, separately, of its worker, sampled every 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

from bench.common import WEIGHTMATCH, MemorySampler, evict, log, median, run_json
from bench.data import sharded_safetensors
from bench.lsp_session import Session

TINY = '''import json

import torch.nn as nn
from safetensors.torch import load_file


class Tiny(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(n):
            self.layers.append(nn.Linear(2, 3 if i == n - 1 else 2))


model = Tiny({layers})
index = json.load(open("model.safetensors.index.json"))
state = {{}}
for shard in set(index["weight_map"].values()):
    state.update(load_file(shard))
model.load_state_dict(state)
# edit {edit}
'''


def tiny_script(folder: Path, layers: int, shards: list[str], edit: int = 0) -> str:
    """The script merges the shards the usual way: a loop over the index's weight_map."""
    return TINY.format(layers=layers, edit=edit)


READ_INDEX = r'''
import json, os, sys, time
sys.path.insert(0, os.environ["PYTHONPATH"])
from bench.common import evict
from weightmatch.checkpoint import read_checkpoint
index = sys.argv[1]
folder = os.path.dirname(index)
files = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith((".safetensors", ".json"))]
out = {}
for mode in ("cold", "warm"):
    if mode == "cold":
        for f in files:
            evict(f)
    t = time.perf_counter()
    ck = read_checkpoint(index)
    out[mode] = time.perf_counter() - t
out["tensors"] = ck.tensor_count
print(json.dumps(out))
'''


async def _lsp(folder: Path, layers: int, shards: list[str], warm_edits: int) -> dict:
    script = folder / "main.py"
    script.write_text(tiny_script(folder, layers, shards))
    session = Session(folder, {"workerTimeoutSeconds": 300})
    out: dict = {}
    await session.start()
    try:
        uri, t_open = session.open(script)
        t_first, first = await session.publish_for(uri, t_open, 1, timeout=600)
        out["cold_open_s"] = t_first - t_open
        out["cold_codes"] = sorted(str(d.code) for d in first)
        out["how"] = sorted({str((d.data or {}).get("how")) for d in first})
        built = session.worker_logs("built Tiny")
        out["worker_build_log"] = built[0] if built else None
        ready = session.worker_logs("ready in")
        out["worker_ready_log"] = ready[0] if ready else None
        from weightmatch.lsp.features.diagnostics import DEBOUNCE

        lat_change = []
        for i in range(warm_edits):
            await asyncio.sleep(DEBOUNCE + 0.15)  # a quiet spell: the change is analysed at once
            version, t = session.change(uri, tiny_script(folder, layers, shards, edit=i + 1))
            t_pub, ds = await session.publish_for(uri, t, version, timeout=600)
            lat_change.append(t_pub - t)
        out["warm_change_s"] = {"median": median(lat_change), "max": max(lat_change), "n": len(lat_change)}
        out["warm_codes"] = sorted(str(d.code) for d in ds)
        # A new model (the layer count changes): the worker builds again, checkpoint cached.
        await asyncio.sleep(DEBOUNCE + 0.15)
        version, t = session.change(uri, tiny_script(folder, layers + 1, shards, edit=-1))
        t_pub, ds = await session.publish_for(uri, t, version, timeout=600)
        out["rebuild_s"] = t_pub - t
        builds = session.worker_logs("built Tiny")
        out["rebuild_log"] = builds[-1] if builds else None
        session.sampler.sample()
        out["memory"] = dict(session.sampler.peak)
    finally:
        await session.stop()
    return out


PROJECT_MODULE = '''"""Module {i} of a large project: ordinary code, no load calls."""
import math
import os
from dataclasses import dataclass

import torch.nn as nn

CONSTANT_{i} = {i}


@dataclass
class Config{i}:
    name: str = "module{i}"
    size: int = {i} % 17 + 1
    rate: float = 0.1


def helper_{i}(values):
    total = 0
    for v in values:
        if v % 3 == 0:
            total += math.sqrt(v)
        else:
            total -= v / (1 + CONSTANT_{i})
    return total


def path_{i}(root):
    return os.path.join(root, "data", str(CONSTANT_{i}))


class Block{i}(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return self.norm(self.proj(x))


class Thing{i}:
    def __init__(self, cfg):
        self.cfg = cfg
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)

    def summary(self):
        return {{"name": self.cfg.name, "n": len(self.items), "h": helper_{i}(range(self.cfg.size))}}
'''

PROJECT_SCRIPT = '''"""Train script {i}: loads a checkpoint into its model."""
import torch
import torch.nn as nn


class Net{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, {width})
        self.act = nn.ReLU()
        self.fc2 = nn.Linear({width}, 4)


model = Net{i}()
model.load_state_dict(torch.load("checkpoints/ck{ck}.pt", weights_only=True))
'''

PROJECT_GEN = '''import json, sys, torch
import torch.nn as nn
for k in range(10):
    net = nn.Module()
    net.fc1 = nn.Linear(16, 8 + k)
    net.act = nn.ReLU()
    net.fc2 = nn.Linear(8 + k, 4)
    torch.save(net.state_dict(), f"checkpoints/ck{k}.pt")
print(json.dumps({}))
'''


def make_project(folder: Path, files: int, loads: int) -> Path:
    """`files` Python files, `loads` of them scripts with one load call each (every 7th
    has a size mismatch); 10 checkpoints shared between the scripts."""
    marker = folder / f".made-{files}-{loads}"
    if marker.exists() and (folder / ".git").exists():
        return folder
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    run_json(PROJECT_GEN, cwd=str(folder))
    per_pkg = 100
    for i in range(files - loads):
        pkg = folder / f"pkg{i // per_pkg}"
        pkg.mkdir(exist_ok=True)
        (pkg / f"module{i}.py").write_text(PROJECT_MODULE.format(i=i))
    scripts = folder / "scripts"
    scripts.mkdir(exist_ok=True)
    for i in range(loads):
        k = i % 10
        width = 8 + k + (1 if i % 7 == 0 else 0)
        (scripts / f"train{i}.py").write_text(PROJECT_SCRIPT.format(i=i, width=width, ck=k))
    (folder / ".git").mkdir(exist_ok=True)  # its own repository root: bench/.data is in .gitignore here
    marker.write_text("")
    return folder


def check_project(folder: Path, runs: int = 1, flags: tuple[str, ...] = ()) -> dict:
    times, peaks, counts, hows = [], [], [], set()
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.Popen([WEIGHTMATCH, "check", *flags, "--format", "json", "."], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with MemorySampler(proc.pid) as sampler:
            stdout, stderr = proc.communicate(timeout=1800)
        times.append(time.perf_counter() - t)
        peaks.append(dict(sampler.peak))
        try:
            diags = json.loads(stdout)["diagnostics"]
        except (ValueError, KeyError):
            raise RuntimeError(f"weightmatch check failed: {stderr[-2000:]}")
        counts.append(len(diags))
        hows |= {str(d.get("how")) for d in diags}
    n_files = sum(1 for _ in folder.rglob("*.py"))
    return {"seconds": median(times), "all_seconds": times, "files": n_files, "diagnostics": counts[0],
            "how": sorted(hows), "memory": {k: max(p[k] for p in peaks) for k in peaks[0]}}


def run(data: Path, tensors: int = 100_000, shards: int = 10, warm_edits: int = 6,
        files: int = 1000, loads: int = 50) -> dict:
    out: dict = {}
    sharded = data / f"sharded-{tensors}"
    log(f"scale: writing {tensors} tensors in {shards} shards")
    index = sharded_safetensors(sharded, tensors, shards)
    names = sorted(json.loads(index.read_text())["weight_map"].values())
    names = list(dict.fromkeys(names))
    out["read_index"] = run_json(READ_INDEX, str(index))
    log("scale: LSP on the sharded checkpoint")
    out["lsp"] = asyncio.run(_lsp(sharded, tensors // 2, names, warm_edits))
    out["tensors"], out["shards"], out["layers"] = tensors, shards, tensors // 2
    project = data / f"project-{files}"
    log(f"scale: {files}-file project")
    make_project(project, files, loads)
    for f in (project / "checkpoints").iterdir():
        evict(f)
    out["project"] = check_project(project)
    log("scale: the same project, the worker first")
    out["project"]["exec_first"] = check_project(project, 1, ("--exec-first",))
    out["project"]["loads"] = loads
    from bench import b_deep  # it imports this module's filler

    out["deep"] = b_deep.run(data, files, loads)
    return out
