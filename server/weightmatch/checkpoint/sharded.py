"""Sharded checkpoints: a `*.index.json` whose `weight_map` names the shard holding each key."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import BinaryIO, Callable

from ..types import Checkpoint, StateDict
from .errors import NOT_FOUND, CheckpointError, not_found, unreadable

MAX_INDEX_BYTES = 64 * 1024 * 1024


def read_index(f: BinaryIO, path: str, size: int, read_one: Callable[[str], Checkpoint]) -> Checkpoint:
    if size > MAX_INDEX_BYTES:
        raise unreadable(path, f"an index file larger than {MAX_INDEX_BYTES >> 20} MiB")
    try:
        index = json.loads(f.read(MAX_INDEX_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise unreadable(path, f"not valid JSON ({str(e).splitlines()[0][:200]})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()):
        raise unreadable(path, "a JSON file without a weight_map, so not a sharded checkpoint index")
    base = os.path.dirname(os.path.abspath(path))
    shard_names = list(dict.fromkeys(weight_map.values()))
    shards: dict[str, Checkpoint] = {}
    for name in shard_names:
        if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
            raise unreadable(path, f"shard {name!r} is outside the checkpoint's folder")
        try:
            shard = read_one(os.path.join(base, name))
        except CheckpointError as e:
            if e.code == NOT_FOUND:  # the index is there: name the shard that is not
                missing = not_found(path, f"its shard {name} is missing")
                missing.shard = name
                raise missing from None
            raise CheckpointError(e.code, f"{e.message} (a shard of {path})", path) from None
        if shard.format not in ("safetensors", "torch-zip", "torch-legacy") or not isinstance(shard.obj, dict):
            raise unreadable(path, f"shard {name!r} does not hold a state dict")
        shards[name] = shard
    out = StateDict()
    for key, name in weight_map.items():
        if key not in shards[name].obj:
            raise unreadable(path, f"the index puts {key!r} in {name}, which does not hold it")
        out[key] = shards[name].obj[key]
    for name, shard in shards.items():  # keys a shard holds beyond the index are loaded too
        for key, value in shard.obj.items():
            out.setdefault(key, value)
    unsafe = sorted({g for shard in shards.values() for g in shard.unsafe_globals})
    headers = [replace(s, obj=None, tensor_count=0) for s in shards.values()]
    return Checkpoint(path=path, format="sharded", size=sum(s.size for s in shards.values()), obj=out,
                      unsafe_globals=unsafe, shards=[s.path for s in shards.values()], shard_headers=headers)
