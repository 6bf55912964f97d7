"""The cache follows file changes; reading touches little of a big file and takes milliseconds."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file

from weightmatch.checkpoint import CheckpointCache, CheckpointError, files, read_checkpoint


def test_cache_hits_and_invalidates_on_change(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(nn.Linear(2, 3).state_dict(), path)
    calls = []

    def reader(p):
        calls.append(p)
        return read_checkpoint(p)

    cache = CheckpointCache(reader)
    first = cache.get(str(path))
    assert cache.get(str(path)) is first and len(calls) == 1
    # through a symlink: the same realpath, the same entry
    link = tmp_path / "link.pt"
    link.symlink_to(path)
    assert cache.get(str(link)) is first and len(calls) == 1
    torch.save(nn.Linear(2, 5).state_dict(), path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    second = cache.get(str(path))
    assert len(calls) == 2 and second.obj["weight"].shape == (5, 2)
    cache.invalidate(str(path))
    cache.get(str(path))
    assert len(calls) == 3
    cache.clear()
    cache.get(str(path))
    assert len(calls) == 4


def test_cache_keeps_errors_until_the_file_appears(tmp_path):
    path = tmp_path / "later.pt"
    calls = []
    cache = CheckpointCache(lambda p: calls.append(p) or read_checkpoint(p))
    for _ in range(2):
        with pytest.raises(CheckpointError) as info:
            cache.get(str(path))
        assert info.value.code == "checkpoint-not-found"
    assert len(calls) == 1
    torch.save({"w": torch.zeros(1)}, path)
    assert cache.get(str(path)).obj["w"].shape == (1,)


def test_cache_follows_shards(tmp_path):
    shard = tmp_path / "a.safetensors"
    save_file({"w": torch.zeros(2)}, str(shard))
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"w": "a.safetensors"}}))
    cache = CheckpointCache()
    assert cache.get(str(index)).obj["w"].shape == (2,)
    save_file({"w": torch.zeros(7)}, str(shard))
    os.utime(shard, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert cache.get(str(index)).obj["w"].shape == (7,)


def test_cache_threads(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"m{i}.pt"
        torch.save(nn.Linear(2, i + 1).state_dict(), p)
        paths.append(str(p))
    cache = CheckpointCache()
    errors = []

    def work():
        try:
            for _ in range(50):
                for i, p in enumerate(paths):
                    assert cache.get(p).obj["weight"].shape == (i + 1, 2)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


class _Counting:
    def __init__(self, f, counter):
        self._f, self._counter = f, counter

    def read(self, n=-1):
        data = self._f.read(n)
        self._counter[0] += len(data)
        return data

    def readinto(self, b):
        n = self._f.readinto(b)
        self._counter[0] += n or 0
        return n

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def bytes_read(monkeypatch):
    counter = [0]
    real = files.open_binary
    monkeypatch.setattr(files, "open_binary", lambda p: _Counting(real(p), counter))
    return counter


@pytest.mark.parametrize("fmt", ["zip", "legacy", "safetensors"])
def test_reads_little_of_a_big_file(tmp_path, bytes_read, fmt):
    # 40 MB of tensors; the reader should look at the header/index only.
    sd = OrderedDict((f"layer{i}.weight", torch.zeros(1000, 1000)) for i in range(10))
    path = tmp_path / f"big.{fmt}"
    if fmt == "safetensors":
        save_file(sd, str(path))
    else:
        torch.save(sd, path, _use_new_zipfile_serialization=fmt == "zip")
    ckpt = read_checkpoint(str(path))
    assert ckpt.tensor_count == 10 and ckpt.size > 40_000_000
    assert bytes_read[0] < 1_000_000, bytes_read[0]
    if fmt != "legacy":
        assert bytes_read[0] < 100_000, bytes_read[0]


def test_thousand_tensors_in_milliseconds(tmp_path):
    sd = OrderedDict((f"blocks.{i}.weight", torch.zeros(2, 2)) for i in range(1000))
    path = tmp_path / "k.pt"
    torch.save(sd, path)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        ckpt = read_checkpoint(str(path))
        times.append(time.perf_counter() - start)
    assert ckpt.tensor_count == 1000
    median = statistics.median(times)
    print(f"1000-tensor torch.save checkpoint: median {median * 1000:.1f} ms, best {min(times) * 1000:.1f} ms")
    assert median < 0.1  # a few ms on an idle machine; loose for shared CI
