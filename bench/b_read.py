"""Benchmark 1: reading a checkpoint in-process — Weight Match's reader against torch.load.

Each measurement runs in a fresh interpreter: it imports what the candidate needs, warms
the candidate's code paths on a small unrelated checkpoint, then (cold runs) evicts the
target file from the page cache with posix_fadvise(DONTNEED), and times one call while
reading /proc/self/io before and after. `read_bytes` counts what the process made the
block layer fetch (true disk reads, including read-ahead and page faults of mmap'ed
files) and is the honest "bytes read from the file" once the file is out of the page
cache; `rchar` counts the bytes returned by read()/pread() syscalls whether they came
from the cache or not, and misses mmap entirely. Warm runs read the file through once
beforehand so it sits in the page cache.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import median, run_json

CANDIDATES = {
    "weightmatch": "weightmatch.checkpoint.read_checkpoint(path)",
    "torch.load(weights_only=True)": "torch.load(path, weights_only=True)",
    "torch.load(mmap=True)": "torch.load(path, weights_only=True, mmap=True)",
    'torch.load(map_location="meta")': "torch.load(path, weights_only=True, map_location='meta')",
}

PROBE = r'''
import gc, json, os, sys, time
sys.path.insert(0, os.environ["PYTHONPATH"])
from bench.common import evict, warm, proc_io, proc_mem
candidate, path, warmup, mode = sys.argv[1:5]
if candidate == "weightmatch":
    import weightmatch.checkpoint
    call = lambda path: weightmatch.checkpoint.read_checkpoint(path)
else:
    import torch
    call = eval("lambda path: " + {calls}[candidate])
call(warmup)  # code paths warm, the target file untouched
gc.collect()
if mode == "cold":
    evict(path)
else:
    warm(path)
io0, hwm0 = proc_io(), proc_mem(os.getpid()).get("VmHWM", 0)
t0 = time.perf_counter()
result = call(path)
t1 = time.perf_counter()
io1, hwm1 = proc_io(), proc_mem(os.getpid()).get("VmHWM", 0)
n = result.tensor_count if candidate == "weightmatch" else len(result)
print(json.dumps({{"seconds": t1 - t0, "read_bytes": io1["read_bytes"] - io0["read_bytes"],
                  "rchar": io1["rchar"] - io0["rchar"], "tensors": n, "hwm_growth": max(0, hwm1 - hwm0)}}))
'''.format(calls=repr(CANDIDATES))


def measure(candidate: str, path: Path, warmup: Path, mode: str, runs: int) -> dict:
    samples = [run_json(PROBE, candidate, str(path), str(warmup), mode) for _ in range(runs)]
    return {
        "runs": runs,
        "seconds": median([s["seconds"] for s in samples]),
        "all_seconds": [s["seconds"] for s in samples],
        "read_bytes": median([s["read_bytes"] for s in samples]),
        "rchar": median([s["rchar"] for s in samples]),
        "tensors": samples[0]["tensors"],
        "hwm_growth": median([s["hwm_growth"] for s in samples]),
    }


def run(files: dict[str, Path], warmup: Path, runs: int = 5, modes=("cold", "warm")) -> dict:
    """files: label -> checkpoint path. Returns label -> {size, mode -> candidate -> stats}."""
    from bench.common import log

    out: dict = {}
    for label, path in files.items():
        out[label] = {"path": str(path), "size": path.stat().st_size}
        for mode in modes:
            out[label][mode] = {}
            for candidate in CANDIDATES:
                log(f"read: {label} {mode} {candidate} × {runs}")
                out[label][mode][candidate] = measure(candidate, path, warmup, mode, runs)
    return out
