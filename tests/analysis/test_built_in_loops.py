"""Models whose layers a helper makes in a loop over config data: `for i, (w_in, w_out) in
enumerate(zip(widths[:-1], widths[1:]))` appending `(f"fc{i}", nn.Linear(w_in, w_out))` pairs
for an `nn.Sequential(OrderedDict(layers))`, the activation a parameter (`act=nn.ReLU`); and a
classmethod reading a JSON config with `cfg.get(key, default)`. Judged by real PyTorch in both
modes; a size mismatch is reported on the line that appends the layer."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

MLP = """
import json
from collections import OrderedDict

import torch
import torch.nn as nn


def make_mlp(widths, act=nn.ReLU, norm=False):
    layers = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append((f"fc{i}", nn.Linear(w_in, w_out)))
        if i < len(widths) - 2:
            if norm:
                layers.append((f"norm{i}", nn.LayerNorm(w_out)))
            layers.append((f"act{i}", act()))
    return nn.Sequential(OrderedDict(layers))


def main():
    with open("cfg.json") as f:
        cfg = json.load(f)
    model = make_mlp(cfg["widths"], norm=cfg.get("norm", False))
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


def _mlp(case, widths: list[int]) -> None:
    case.write("main.py", MLP)
    (case.dir / "cfg.json").write_text(json.dumps({"widths": widths, "norm": True}))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom main import make_mlp\n"
               "torch.save(make_mlp([10, 16, 8], norm=True).state_dict(), 'w.pt')")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("widths", [[10, 16, 8], [10, 24, 8], [10, 16, 16, 8]], ids=["matches", "wider", "deeper"])
def test_pairs_appended_in_a_loop_for_an_ordered_dict(case, widths, execute) -> None:
    _mlp(case, widths)
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


def test_the_mismatch_is_on_the_appending_line(case) -> None:
    _mlp(case, [10, 24, 8])
    lines = (case.dir / "main.py").read_text().splitlines()
    fc = lines.index('        layers.append((f"fc{i}", nn.Linear(w_in, w_out)))')
    norm = lines.index('                layers.append((f"norm{i}", nn.LayerNorm(w_out)))')
    result = analyze_alone(case, False)
    where = {k: f.span.line for f in result.findings if f.severity == "error" for k in f.keys}
    assert where == {"fc0.weight": fc, "fc0.bias": fc, "fc1.weight": fc, "norm0.weight": norm, "norm0.bias": norm}


FROM_CONFIG = """
import json

import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab_size, embed_dim=16, ffn_mult=4, num_labels=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.ffn = nn.Linear(embed_dim, embed_dim * ffn_mult)
        self.head = nn.Linear(embed_dim * ffn_mult, num_labels)

    @classmethod
    def from_config(cls, cfg):
        return cls(vocab_size=cfg["vocab_size"], embed_dim=cfg["embed_dim"],
                   ffn_mult=cfg.get("ffn_mult", 4), num_labels=len(cfg["labels"]))


def load_classifier(config_path, weights_path):
    with open(config_path) as f:
        cfg = json.load(f)
    model = Classifier.from_config(cfg)
    model.load_state_dict(torch.load(weights_path, map_location="cpu"))
    return model


if __name__ == "__main__":
    load_classifier("cfg.json", "w.pt")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("config", [{}, {"ffn_mult": 2}], ids=["default-matches", "set-differs"])
def test_a_json_configs_get_with_a_default(case, config, execute) -> None:
    case.write("main.py", FROM_CONFIG)
    (case.dir / "cfg.json").write_text(json.dumps({"vocab_size": 50, "embed_dim": 8, "labels": ["a", "b"], **config}))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom main import Classifier\n"
               "torch.save(Classifier(50, 8, 4, 2).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")
