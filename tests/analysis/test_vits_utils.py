"""VITS's `utils.py`, the shape its many forks keep: `HParams(**json.load(f))` whose `__init__`
stores nested dicts as HParams through its own `__setitem__` (`self[k] = v` -> `return setattr(
self, key, value)`, `type(v) == dict`), the newest `G_*.pth` by `f_list.sort(key=lambda f: int(
"".join(filter(str.isdigit, f))))`, and `load_checkpoint`'s key loop. Judged by real PyTorch."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

UTILS = """
import glob
import json
import os

import torch


class HParams():
    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            if type(v) == dict:
                v = HParams(**v)
            self[k] = v

    def __setitem__(self, key, value):
        return setattr(self, key, value)

    def __getitem__(self, key):
        return getattr(self, key)

    def keys(self):
        return self.__dict__.keys()


def get_hparams_from_file(config_path):
    with open(config_path, "r") as f:
        data = f.read()
    config = json.loads(data)
    return HParams(**config)


def latest_checkpoint_path(dir_path, regex="G_*.pth"):
    f_list = glob.glob(os.path.join(dir_path, regex))
    f_list.sort(key=lambda f: int("".join(filter(str.isdigit, f))))
    return f_list[-1]


def load_checkpoint(checkpoint_path, model):
    checkpoint_dict = torch.load(checkpoint_path, map_location="cpu")
    saved_state_dict = checkpoint_dict["model"]
    state_dict = model.state_dict()
    new_state_dict = {}
    for k, v in state_dict.items():
        try:
            new_state_dict[k] = saved_state_dict[k]
        except:
            print("%s is not in the checkpoint" % k)
            new_state_dict[k] = v
    model.load_state_dict(new_state_dict)
    return model, checkpoint_dict["iteration"]
"""

MAIN = """
import torch.nn as nn

import utils


class SynthesizerTrn(nn.Module):
    def __init__(self, n_vocab, n_speakers=0, gin_channels=0, **kwargs):
        super().__init__()
        self.enc_p = nn.Embedding(n_vocab, 8)
        if n_speakers > 1:
            self.emb_g = nn.Embedding(n_speakers, gin_channels)


hps = utils.get_hparams_from_file("configs/base.json")
net_g = SynthesizerTrn(len(hps.symbols), n_speakers=hps.data.n_speakers, {model})
utils.load_checkpoint(utils.latest_checkpoint_path("logs", "G_*.pth"), net_g)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("newest", [4, 6], ids=["matches", "differs"])
def test_vits_hparams_and_newest_checkpoint(case, newest, execute) -> None:
    """`G_900.pth` sorts after `G_2000.pth` as text but not by its number: the newest, by the
    lambda's key, holds 6 speakers in the failing variant."""
    case.write("utils.py", UTILS)
    # (static inference does not spread an object of the user's class: `**hps.model` is the worker's)
    case.write("main.py", MAIN.format(model="**hps.model" if execute else "gin_channels=hps.model.gin_channels"))
    (case.dir / "configs").mkdir()
    (case.dir / "configs" / "base.json").write_text(json.dumps(
        {"symbols": list("abcde"), "data": {"n_speakers": 4}, "model": {"gin_channels": 8}}))
    (case.dir / "logs").mkdir()
    case.torch("import torch\n"
               "torch.save({'model': {'emb_g.weight': torch.zeros(3, 8)}, 'iteration': 1}, 'logs/G_900.pth')\n"
               f"torch.save({{'model': {{'emb_g.weight': torch.zeros({newest}, 8)}}, 'iteration': 2}}, 'logs/G_2000.pth')")
    resolved_like_pytorch(case, execute, "mismatched")


SIZES = {
    "map-int": 'sum(map(int, "4-3-2".split("-")))',  # DLRM's dash-separated sizes
    "filter-digits": 'int("".join(filter(str.isdigit, "G_9.pth")))',
    "filter-none": 'len(list(filter(None, ["a", "", "b", "c"])))',
    "sorted-key": 'sorted(["aaaa", "b", "ccccccccc"], key=len)[-1].count("c")',
    "sorted-reverse": 'sorted([3, 9, 5], key=lambda n: -n, reverse=True)[0]',
    "max-key": 'max(["x_4", "x_12", "x_9"], key=lambda s: int(s.split("_")[1])).count("1") + 8',
    "bytes-ranks": 'len({bytes([b]): r for r, b in enumerate("abcdefghi".encode())})',  # a byte-level vocabulary
    "sort-in-place": '(names := ["w_10", "w_9"]).sort(key=lambda s: int(s[2:])) or int(names[-1][2:])',
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_size_computed_through_a_function_argument(case, size, execute) -> None:
    """`filter`, `map`, `sorted` / `max` / `list.sort` with `key=`: applied to known values by the
    interpreter (a lambda's body evaluated per item), the same number as Python gives."""
    case.write("main.py", "import torch\nimport torch.nn as nn\n"
                          f"n = {SIZES[size]}\nmodel = nn.Linear(n, 2)\nmodel.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(9, 2).state_dict(), 'w.pt')")
    resolved_like_pytorch(case, execute, "mismatched")


def test_a_function_argument_that_is_no_function_is_not_taken_for_none(case) -> None:
    """`filter(3, names)` raises TypeError in Python (an int is not callable): no size is taken
    from it, as `filter(None, names)` would give."""
    case.write("main.py", "import torch\nimport torch.nn as nn\n"
                          'n = len(list(filter(3, ["a", "b", "c"]))) + 6\n'
                          "model = nn.Linear(n, 2)\nmodel.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(8, 2).state_dict(), 'w.pt')")
    assert pytorch_outcomes(case)["crash"] is not None
    assert not [f for f in analyze_alone(case, False).findings if f.severity == "error"]

