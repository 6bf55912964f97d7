"""Generators of the benchmarks' inputs: checkpoints (written by real torch) and projects."""

from __future__ import annotations

import os
from pathlib import Path

from bench.common import log, run_json

BIG_DIM = 4096


def big_checkpoint(path: Path, layers: int = 40, dim: int = BIG_DIM) -> Path:
    """torch.save of `layers` float32 [dim, dim] tensors keyed like an nn.ModuleList of
    bias-free Linear layers (40 × 4096² = 2.5 GiB). The tensors are created one by one with
    torch.empty and filled (real, non-zero bytes go to disk); the state dict is saved without
    a second copy, so the generator needs the file's size in RAM once."""
    expected = layers * dim * dim * 4
    if path.exists() and path.stat().st_size > expected:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"writing {path} ({layers} × {dim}×{dim} float32)")
    run_json(
        "import sys, json, torch\n"
        "layers, dim, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
        "sd = {}\n"
        "for i in range(layers):\n"
        "    t = torch.empty(dim, dim)\n"
        "    t.fill_(0.001 * (i + 1))\n"
        "    t[0, : min(dim, 16)] = torch.arange(min(dim, 16), dtype=torch.float32)\n"
        "    sd[f'layers.{i}.weight'] = t\n"
        "torch.save(sd, out)\n"
        "print(json.dumps({}))\n",
        str(layers), str(dim), str(path),
    )
    return path


def many_checkpoint(path: Path, tensors: int = 1000) -> Path:
    """torch.save of a state dict of `tensors` small tensors (Linear(64, 64) weights and biases)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    run_json(
        "import sys, json, torch\n"
        "n, out = int(sys.argv[1]), sys.argv[2]\n"
        "sd = {}\n"
        "for i in range(n // 2):\n"
        "    sd[f'layers.{i}.weight'] = torch.randn(64, 64)\n"
        "    sd[f'layers.{i}.bias'] = torch.randn(64)\n"
        "if n % 2: sd['extra'] = torch.randn(3)\n"
        "torch.save(sd, out)\n"
        "print(json.dumps({}))\n",
        str(tensors), str(path),
    )
    return path


BIG_MODEL = '''import torch
import torch.nn as nn


class Big(nn.Module):
    """{layers} bias-free {dim}x{dim} layers; layer {bad} was widened after the checkpoint was saved."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range({layers}):
            out = {dim} + 1 if i == {bad} else {dim}
            self.layers.append(nn.Linear({dim}, out, bias=False))


model = Big()
state = torch.load("{ckpt}", weights_only=True)
model.load_state_dict(state)
print("loaded")
'''


def big_script(folder: Path, ckpt: Path, layers: int, dim: int) -> Path:
    """main.py: builds the model and loads the big checkpoint; one layer's size differs."""
    script = folder / "main.py"
    folder.mkdir(parents=True, exist_ok=True)
    script.write_text(BIG_MODEL.format(layers=layers, dim=dim, bad=layers // 2, ckpt=os.path.relpath(ckpt, folder)))
    return script


def sharded_safetensors(folder: Path, tensors: int, shards: int) -> Path:
    """A sharded safetensors checkpoint (model-0000i-of-0000n.safetensors + index.json) of
    `tensors` tensors keyed like an nn.ModuleList of Linear(2, 2): layers.i.weight/bias."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        return index
    folder.mkdir(parents=True, exist_ok=True)
    run_json(
        "import sys, json, torch\n"
        "from safetensors.torch import save_file\n"
        "n, shards, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
        "keys = []\n"
        "for i in range(n // 2):\n"
        "    keys += [f'layers.{i}.weight', f'layers.{i}.bias']\n"
        "per = -(-len(keys) // shards)\n"
        "weight_map = {}\n"
        "for s in range(shards):\n"
        "    name = f'model-{s + 1:05d}-of-{shards:05d}.safetensors'\n"
        "    part = keys[s * per:(s + 1) * per]\n"
        "    sd = {k: torch.zeros(2, 2) if k.endswith('weight') else torch.zeros(2) for k in part}\n"
        "    save_file(sd, folder + '/' + name)\n"
        "    weight_map.update({k: name for k in part})\n"
        "json.dump({'metadata': {'total_size': len(keys) * 12}, 'weight_map': weight_map}, open(folder + '/model.safetensors.index.json', 'w'))\n"
        "print(json.dumps({}))\n",
        str(tensors), str(shards), str(folder),
    )
    return index
