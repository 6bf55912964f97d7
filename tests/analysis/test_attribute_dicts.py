"""Configs as dicts read by attribute, judged by real PyTorch in both modes: a workspace dict
subclass (`__getattr__ = dict.__getitem__`, nested dicts wrapped in `__init__`) returned by a
`get_config(name)` helper, a section bound to a local (`m = config.MODEL`) in a `build_model`;
and the easydict library's `EasyDict`. A dict subclass with methods of its own is not read as
data."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, resolved_like_pytorch

CONFIGS = """
class AttrDict(dict):
    \"\"\"dict with attribute access, recursively.\"\"\"

    def __init__(self, d=None):
        super().__init__()
        for k, v in (d or {{}}).items():
            self[k] = AttrDict(v) if isinstance(v, dict) else v

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__
{extra}

CONFIGS = {{
    "tiny": dict(DATA=dict(IMG_SIZE=16), MODEL=dict(EMBED_DIM=8, NUM_CLASSES=10)),
    "tiny_ft": dict(DATA=dict(IMG_SIZE=32), MODEL=dict(EMBED_DIM=8, NUM_CLASSES=7)),
}}


def get_config(name):
    return AttrDict(CONFIGS[name])
"""

MAIN = """
import argparse

import torch
import torch.nn as nn

from configs import get_config


class Net(nn.Module):
    def __init__(self, embed_dim, num_classes):
        super().__init__()
        self.embed = nn.Linear(3, embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)


def build_model(config):
    m = config.MODEL
    return Net(embed_dim=m.EMBED_DIM, num_classes=m.NUM_CLASSES)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="{name}")
    args = parser.parse_args()
    config = get_config(args.config)
    model = build_model(config)
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""

SAVE = ("import sys, torch\nsys.path.insert(0, '.')\nfrom main import Net\n"
        "torch.save(Net(8, 10).state_dict(), 'w.pt')")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("name", ["tiny", "tiny_ft"], ids=["matches", "differs"])
def test_a_workspace_attribute_dict(case, name, execute) -> None:
    case.write("configs.py", CONFIGS.format(extra=""))
    case.write("main.py", MAIN.format(name=name))
    case.torch(SAVE)
    judged_like_pytorch(case, execute, "mismatched")


def test_a_dict_subclass_with_methods_of_its_own_is_not_read_as_data(case) -> None:
    """`def freeze(self)` could change anything: the config stays unknown, the load unresolved."""
    case.write("configs.py", CONFIGS.format(extra="\n    def freeze(self):\n        self['MODEL']['NUM_CLASSES'] = 7\n"))
    case.write("main.py", MAIN.format(name="tiny"))
    case.torch(SAVE)
    (report,) = analyze_alone(case, False).reports
    assert report.how is None


EASYDICT = """
import torch
import torch.nn as nn
from easydict import EasyDict as edict

cfg = edict({{"model": {{"width": 8, "classes": {n}}}}})
model = nn.Sequential(nn.Linear(3, cfg.model.width), nn.Linear(cfg.model.width, cfg.model.classes))
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [10, 7], ids=["matches", "differs"])
def test_an_easydict_config(case, n, execute) -> None:
    case.write("main.py", EASYDICT.format(n=n))
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 10)).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


VOC = """
import torch
import torch.nn as nn


class Voc:
    def __init__(self, name):
        self.name = name
        self.word2index = {{}}
        self.num_words = 3  # PAD, SOS, EOS


voc = Voc("movie-corpus")
checkpoint = torch.load("ckpt.tar")
{restore}
embedding = nn.Embedding(voc.num_words, 8)
embedding.load_state_dict(checkpoint["embedding"])
"""


@pytest.mark.parametrize("restore", ["voc.__dict__ = checkpoint['voc_dict']", "voc.__dict__.update(checkpoint['voc_dict'])",
                                     "voc.__dict__ = {'name': 'm', 'num_words': 26}"],
                         ids=["replaced-from-checkpoint", "updated-from-checkpoint", "replaced-by-literal"])
@pytest.mark.parametrize("saved_words", [26, 30], ids=["matches", "differs"])
def test_an_objects_attributes_replaced_through_its_dict(case, restore, saved_words) -> None:
    """The PyTorch chatbot tutorial: `voc.__dict__ = checkpoint['voc_dict']` gives the vocabulary
    the checkpoint's size; the constructor's `num_words = 3` is gone (corpus W09: a false alarm)."""
    case.write("main.py", VOC.format(restore=restore))
    case.torch("import torch, torch.nn as nn\n"
               f"torch.save({{'embedding': nn.Embedding({saved_words}, 8).state_dict(),"
               " 'voc_dict': {'name': 'm', 'word2index': {'hi': 3}, 'num_words': 26}}, 'ckpt.tar')")
    resolved_like_pytorch(case, False, "mismatched")


DOTDICT_PKG = {
    "utils.py": "class dotdict(dict):\n    def __getattr__(self, name):\n        return self[name]\n",
    "pkg/__init__.py": "",
    "pkg/Net.py": "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, n, args):\n"
                  "        super().__init__()\n        self.fc = nn.Linear(n * n, args.num_channels)\n",
    "pkg/NNet.py": "import torch\n\nfrom utils import dotdict\n\nfrom .Net import Net as onnet\n\n"
                   "args = dotdict({{\n    'num_channels': {channels},\n    'lr': 0.001,\n}})\n\n\n"
                   "class NNetWrapper():\n    def __init__(self, n):\n        self.nnet = onnet(n, args)\n\n"
                   "    def load_checkpoint(self, filepath):\n        checkpoint = torch.load(filepath, map_location='cpu')\n"
                   "        self.nnet.load_state_dict(checkpoint['state_dict'])\n",
    "main.py": "from pkg.NNet import NNetWrapper\n\nnnet = NNetWrapper(6)\nnnet.load_checkpoint('best.pth.tar')\n",
}


@pytest.mark.parametrize("channels", [8, 9], ids=["matches", "differs"])
def test_a_module_level_dotdict_of_another_module(case, channels) -> None:
    """alpha-zero-general's `args = dotdict({...})` at the top of the wrapper's module, read by the
    model's constructor: written into the recipe as `dotdict({...})` (the worker's; static
    inference steps aside from a dict subclass)."""
    for path, text in DOTDICT_PKG.items():
        case.write(path, text.format(channels=channels) if path == "pkg/NNet.py" else text)
    case.torch("import torch, torch.nn as nn\n"
               "torch.save({'state_dict': {'fc.' + k: v for k, v in nn.Linear(36, 8).state_dict().items()}}, 'best.pth.tar')")
    resolved_like_pytorch(case, True, "mismatched")
