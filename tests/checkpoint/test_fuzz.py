"""Mutated and truncated checkpoints: only CheckpointError escapes, each in under a second.

WM_FUZZ_EXAMPLES sets the total number of inputs across the four seeds (default 10,000,
about a minute on the shared 2-core machine; see FUZZ.md for measured figures).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from weightmatch.checkpoint import CheckpointError, read_checkpoint

from .conftest import FUZZ_STATS

TOTAL = int(os.environ.get("WM_FUZZ_EXAMPLES", "10000"))
SEEDS = ["zip", "legacy", "safetensors", "index.json"]
PER_SEED = max(1, TOTAL // len(SEEDS))


def _model_sd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    return model.state_dict()


def _seed(kind: str, folder) -> tuple[bytes, list[tuple[int, int]], str]:
    """The seed bytes, the byte ranges worth mutating most, and the file name to write."""
    sd = _model_sd()
    if kind == "zip":
        path = folder / "seed.pt"
        torch.save({"epoch": 1, "model_state_dict": sd, "hp": {"lr": 0.1, "sizes": [1, 2]}}, path)
        data = path.read_bytes()
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("seed/data.pkl")
            first_cd = data.find(b"PK\x01\x02")
        pkl_start = info.header_offset
        return data, [(pkl_start, pkl_start + 100 + info.compress_size), (first_cd, len(data))], "seed.pt"
    if kind == "legacy":
        path = folder / "seed.pt"
        torch.save(OrderedDict(sd), path, _use_new_zipfile_serialization=False)
        data = path.read_bytes()
        return data, [(0, min(len(data), 1200))], "seed.pt"
    if kind == "safetensors":
        path = folder / "seed.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
        data = path.read_bytes()
        header = 8 + int.from_bytes(data[:8], "little")
        return data, [(0, header)], "seed.safetensors"
    shard = folder / "model-00001-of-00001.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(shard))
    index = {"metadata": {"total_size": shard.stat().st_size},
             "weight_map": {k: shard.name for k in sd}}
    data = json.dumps(index).encode()
    return data, [(0, len(data))], "model.safetensors.index.json"


@st.composite
def _mutated(draw, seed: bytes, hot: list[tuple[int, int]]) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        lo, hi = draw(st.sampled_from(hot + [(0, len(data))]))
        hi = max(lo + 1, min(hi, len(data)))
        pos = draw(st.integers(lo, max(lo, hi - 1))) if data else 0
        op = draw(st.sampled_from(["flip", "byte", "insert", "delete", "truncate", "splice", "int"]))
        if op == "flip":
            if pos < len(data):
                data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            if pos < len(data):
                data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "splice":  # copy a run of the seed elsewhere: plausible opcodes, wrong place
            start = draw(st.integers(0, max(0, len(seed) - 1)))
            data[pos:pos] = seed[start:start + draw(st.integers(1, 32))]
        else:  # an interesting integer over 1, 4 or 8 bytes: lengths, sizes, memo indices
            width = draw(st.sampled_from([1, 4, 8]))
            value = draw(st.sampled_from([0, 1, 255, 2**31 - 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1]))
            data[pos:pos + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SEEDS)
def test_fuzz(tmp_path_factory, kind):
    folder = tmp_path_factory.mktemp(f"fuzz_{kind.replace('.', '_')}")
    seed, hot, name = _seed(kind, folder)
    target = folder / name
    stats = FUZZ_STATS.setdefault(kind, {"inputs": 0, "failures": 0, "max": 0.0, "total": 0.0})
    assert read_checkpoint(str(_write(target, seed))).tensor_count == 9

    @settings(max_examples=PER_SEED, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(_mutated(seed, hot))
    def run(data: bytes) -> None:
        _write(target, data)
        start = time.perf_counter()
        try:
            read_checkpoint(str(target))
        except CheckpointError as e:
            assert e.code in ("checkpoint-unreadable", "checkpoint-not-found") and "\n" not in str(e)
        except BaseException:
            stats["failures"] += 1
            raise
        finally:
            elapsed = time.perf_counter() - start
            stats["inputs"] += 1
            stats["total"] += elapsed
            stats["max"] = max(stats["max"], elapsed)
        assert elapsed < 1.0, f"{elapsed:.2f} s for one input"

    run()
    print(f"fuzz {kind}: {int(stats['inputs'])} inputs, {int(stats['failures'])} failures, "
          f"max {stats['max'] * 1000:.1f} ms")


def _write(path, data: bytes):
    # Keep a distinct mtime per write is not needed: read_checkpoint has no cache.
    path.write_bytes(data)
    return path
