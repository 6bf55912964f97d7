"""A project shaped like real training code (issue 10): every load is reached only through
argparse defaults, `main()` under `if __name__ == "__main__":`, a `get_args()` helper, a YAML
config read by a helper, a model registry, a Trainer class holding `self.model`, and a
checkpoint helper that returns `ckpt["model"]`: five files and six calls deep. `weightmatch
check .` must resolve every load (no `unresolved-*`) and report exactly the mismatched ones.

    .venv/bin/python bench/b_deep.py [--files N] [--loads N] [--data DIR]

Also run by bench/run.py as part of "scale" (the project then sits next to the 1,000-file one).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.b_scale import PROJECT_MODULE  # noqa: E402
from bench.common import WEIGHTMATCH, MemorySampler, log, run_json  # noqa: E402

CONFIG = "model:\n  name: {name}\n  width: {width}\n  classes: 4\ntrain:\n  lr: 0.001\n"

LIB_CONFIG = '''import yaml


def load_config(path):
    with open(path) as f:
        return yaml.safe_load(f)
'''

LIB_MODELS = '''import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        self.fc1 = nn.Linear(16, width)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(width, classes)


class Wide(MLP):
    pass


MODELS = {"mlp": MLP, "wide": Wide}


def build_model(cfg):
    m = cfg["model"]
    return MODELS[m["name"]](m["width"], m["classes"])
'''

LIB_CKPT = '''import torch


def load_checkpoint(path, key="model"):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt[key] if key else ckpt
'''

LIB_TRAINER = '''from lib.ckpt import load_checkpoint
from lib.models import build_model


class Trainer:
    def __init__(self, cfg, args):
        self.cfg = cfg
        self.args = args
        self.model = build_model(cfg)

    def restore(self, path):
        state = load_checkpoint(path)
        self.model.load_state_dict(state)
'''

SCRIPT = '''"""Experiment {i}: resume from a checkpoint."""
import argparse

from lib.config import load_config
from lib.trainer import Trainer


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/exp{i}.yaml")
    parser.add_argument("--resume", default="checkpoints/ck{k}.pt")
    return parser.parse_args()


def main():
    args = get_args()
    cfg = load_config(args.config)
    trainer = Trainer(cfg, args)
    trainer.restore(args.resume)


if __name__ == "__main__":
    main()
'''

GEN = '''import json, torch
import torch.nn as nn
for k in range(10):
    net = nn.Module()
    net.fc1 = nn.Linear(16, 8 + k)
    net.act = nn.ReLU()
    net.fc2 = nn.Linear(8 + k, 4)
    torch.save({"model": net.state_dict(), "epoch": k}, f"checkpoints/ck{k}.pt")
print(json.dumps({}))
'''


def make_deep_project(folder: Path, files: int, loads: int) -> tuple[Path, set[str]]:
    """`loads` experiment scripts (every 7th's config one unit too wide) and filler modules
    up to `files` Python files. Returns the folder and the scripts whose load fails under PyTorch."""
    marker = folder / f".made-{files}-{loads}"
    failing = {f"exp{i}.py" for i in range(loads) if i % 7 == 0}
    if marker.exists() and (folder / ".git").exists():
        return folder, failing
    for sub in ("checkpoints", "configs", "lib", "experiments", "filler"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    run_json(GEN, cwd=str(folder))
    for name, text in (("__init__", ""), ("config", LIB_CONFIG), ("models", LIB_MODELS), ("ckpt", LIB_CKPT),
                       ("trainer", LIB_TRAINER)):
        (folder / "lib" / f"{name}.py").write_text(text)
    for i in range(loads):
        k = i % 10
        width = 8 + k + (1 if i % 7 == 0 else 0)
        (folder / "configs" / f"exp{i}.yaml").write_text(CONFIG.format(name="mlp" if i % 2 else "wide", width=width))
        (folder / f"exp{i}.py").write_text(SCRIPT.format(i=i, k=k))
    for i in range(max(0, files - loads - 5)):
        (folder / "filler" / f"module{i}.py").write_text(PROJECT_MODULE.format(i=i))
    (folder / ".git").mkdir(exist_ok=True)  # its own repository root: bench/.data is in .gitignore here
    marker.write_text("")
    return folder, failing


def check_deep(folder: Path, failing: set[str], runs: int = 1) -> dict:
    """Times `weightmatch check .`; exact when the scripts it finds failing (named in each
    message's call path) are the failing ones and no load is left unresolved."""
    times, peaks, codes, found = [], [], {}, set()
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.Popen([WEIGHTMATCH, "check", "--show-unresolved", "--format", "json", "."], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with MemorySampler(proc.pid) as sampler:
            stdout, stderr = proc.communicate(timeout=1800)
        times.append(time.perf_counter() - t)
        peaks.append(sampler.peak["server_hwm"])
        try:
            diags = json.loads(stdout)["diagnostics"]
        except (ValueError, KeyError):
            raise RuntimeError(f"weightmatch check failed: {stderr[-2000:]}") from None
        codes, found = {}, set()
        for d in diags:
            codes[d["code"]] = codes.get(d["code"], 0) + 1
            if d["severity"] == "error":
                found |= set(re.findall(r"as called from (exp\d+\.py)", d["message"]))
    return {"seconds": median(times), "all_seconds": times, "files": sum(1 for _ in folder.rglob("*.py")),
            "codes": codes, "failing": len(failing), "found_failing": len(found), "hwm": max(peaks),
            "exact": found == failing and not any(c.startswith("unresolved") for c in codes)}


def run(data: Path, files: int, loads: int) -> dict:
    folder, failing = make_deep_project(data / f"deep-{files}-{loads}", files, loads)
    log(f"scale: {files}-file project, its loads six calls deep through argparse, YAML and a Trainer")
    out = check_deep(folder, failing)
    out["loads"] = loads
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--loads", type=int, default=50)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / ".data")
    args = p.parse_args()
    print(json.dumps(run(args.data.resolve(), args.files, args.loads), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
