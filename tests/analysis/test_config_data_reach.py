"""Config data in the shapes real loading code writes it: a dataclass with `field(default_factory=...)`
changed with `dataclasses.replace` and spread with `asdict`; hyper-parameters copied out of the
checkpoint with `dict(...)` and completed with `setdefault`; `json.load(f).get(...)`; a
checkpoint tested with `"model" in ckpt`; `OmegaConf.from_cli()` of a run without arguments. Each is run with real PyTorch, in both modes."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import (
    agrees_with_pytorch,
    analyze_alone,
    judged_like_pytorch,
    pytorch_outcomes,
    resolved_like_pytorch,
    save_layers,
)

NET = """
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import List

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_dim=4, widths=(8,), num_classes=3):
        super().__init__()
        dims = [in_dim, *widths]
        self.body = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(dims, dims[1:])])
        self.head = nn.Linear(dims[-1], num_classes)


"""

SCRIPTS = {
    "dataclass-replace-asdict": """
@dataclass
class NetConfig:
    in_dim: int = 4
    widths: List[int] = field(default_factory=lambda: [8, 8])
    num_classes: int = 3


PRESETS = {{"small": dict(widths=[{w}, 8])}}
cfg = replace(NetConfig(), **PRESETS["small"])
model = Net(**asdict(cfg))
model.load_state_dict(torch.load("w.pt"))
""",
    "hparams-from-checkpoint": """
ckpt = torch.load("w.pt")
hp = dict(ckpt["hparams"])
hp.setdefault("num_classes", 3)
model = Net(**hp)
model.load_state_dict(ckpt["model"] if "model" in ckpt else ckpt)
""",
    "omegaconf-from-cli": """
from omegaconf import OmegaConf

base = OmegaConf.create({{"model": {{"widths": [{w}, 8]}}}})
cfg = OmegaConf.merge(base, OmegaConf.from_cli([]))
model = Net(widths=tuple(cfg.model.widths))
model.load_state_dict(torch.load("w.pt"))
""",
    "classmethod-from-dict": """
@dataclass
class NetConfig:
    in_dim: int = 4
    widths: List[int] = field(default_factory=lambda: [8, 8])

    @classmethod
    def from_dict(cls, d):
        names = {{f.name for f in fields(cls)}}
        return cls(**{{k: v for k, v in d.items() if k in names}})

    @staticmethod
    def scaled(widths, factor):
        return [w * factor for w in widths]


raw = {{"model": {{"widths": [{w}, 8], "comment": "ignored"}}}}
cfg = NetConfig.from_dict(raw.get("model", {{}}))
model = Net(in_dim=cfg.in_dim, widths=tuple(cfg.scaled(cfg.widths, 1)))
model.load_state_dict(torch.load("w.pt"))
""",
    "json-get": """
with open("hp.json") as f:
    width = json.load(f).get("width", 8)
model = Net(widths=(width, 8))
model.load_state_dict(torch.load("w.pt"))
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("w", [8, 6], ids=["matches", "differs"])
@pytest.mark.parametrize("shape", sorted(SCRIPTS))
def test_config_data_reaches_the_model(case, shape, w, execute) -> None:
    case.write("main.py", NET + SCRIPTS[shape].format(w=w))
    (case.dir / "hp.json").write_text(f'{{"width": {w}}}')
    case.torch(f"""
import torch, torch.nn as nn
body = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8))
sd = {{"body." + k: v for k, v in body.state_dict().items()}}
sd.update({{"head." + k: v for k, v in nn.Linear(8, 3).state_dict().items()}})
torch.save({{"model": sd, "hparams": {{"in_dim": 4, "widths": [{w}, 8]}}}} if "{shape}" == "hparams-from-checkpoint"
           else sd, "w.pt")
""")
    judged_like_pytorch(case, execute, "mismatched")


LAYER_CLASS = """
import torch
import torch.nn as nn


class Net2(nn.Module):
    def __init__(self, norm_layer=nn.BatchNorm1d, width=8):
        super().__init__()
        self.fc = nn.Linear(4, width)
        self.norm = norm_layer(width)


def build(use_ln):
    if use_ln:
        import torch.nn as tnn
        norm = tnn.LayerNorm
    else:
        norm = nn.BatchNorm1d
    return Net2(norm_layer=norm)


model = build({use_ln})
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("use_ln", [True, False])
def test_a_layer_class_passed_as_a_value(case, use_ln, execute) -> None:
    """Swin's `build_model`: `layernorm = nn.LayerNorm` (imported inside the function), passed on as
    `norm_layer=layernorm`; the class is written into the recipe by torch's name."""
    case.write("main.py", LAYER_CLASS.format(use_ln=use_ln))
    save_layers(case, fc="nn.Linear(4, 8)", norm="nn.LayerNorm(8)")
    judged_like_pytorch(case, execute, "missing")


FROM_SHAPES = """
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_layers, num_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.encoder = nn.GRU(embed_dim, embed_dim, num_layers=num_layers)
        self.classifier = nn.Linear(embed_dim, num_classes)


def infer_hparams(sd):
    vocab_size, embed_dim = sd["embedding.weight"].shape
    num_layers = len([k for k in sd if k.startswith("encoder.weight_ih_l")])
    num_classes = sd["classifier.weight"].size(0)
    return dict(vocab_size=vocab_size, embed_dim=embed_dim, num_layers=num_layers{extra},
                num_classes=num_classes)


sd = torch.load("w.pt")
model = Tagger(**infer_hparams(sd))
model.load_state_dict(sd)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("extra", ["", " - 1"], ids=["read-right", "one-layer-short"])
def test_sizes_read_off_the_checkpoint(case, extra, execute) -> None:
    """Hyper-parameters read from the tensors' shapes and from the checkpoint's keys (a
    comprehension over them), returned by a helper as a dict."""
    case.write("main.py", FROM_SHAPES.format(extra=extra))
    case.torch("import torch, torch.nn as nn, sys\n"
               "sys.argv = ['x']\n"
               "exec(open('main.py').read().split('sd = torch.load')[0].replace('{extra}', ''))\n"
               "torch.save(Tagger(20, 6, 2, 3).state_dict(), 'w.pt')".replace("{extra}", extra))
    judged_like_pytorch(case, execute, "missing+unexpected")


def test_dict_of_a_value_not_known_names_it(case) -> None:
    """`dict(..., num_layers=int(os.environ["L"]))`: unknown, and the reason names the value (the
    call was once taken for a model and written into its own recipe, endlessly)."""
    case.write("main.py", FROM_SHAPES.format(extra="").replace(
        'num_layers = len([k for k in sd if k.startswith("encoder.weight_ih_l")])',
        'import os\n    num_layers = int(os.environ["WM_TEST_LAYERS"])').replace(
        "sd = torch.load(\"w.pt\")\nmodel = Tagger(**infer_hparams(sd))\nmodel.load_state_dict(sd)",
        "def main():\n    sd = torch.load('w.pt')\n    hp = infer_hparams(sd)\n    model = Tagger(**hp)\n"
        "    model.load_state_dict(sd)\n\n\nmain()"))
    case.torch("import torch\ntorch.save({'embedding.weight': torch.zeros(20, 6), 'classifier.weight': torch.zeros(3, 6)},"
               " 'w.pt')")
    result = analyze_alone(case, execute=False)
    (report,) = result.reports
    (finding,) = result.findings
    assert report.how is None and "WM_TEST_LAYERS" in finding.message and "None" not in finding.message, finding.message


NUMERIC = """
import argparse
import math

import numpy as np
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden, blocks):
        super().__init__()
        self.fc = nn.Linear(4, hidden)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default={dim})
    p.add_argument("--image-size", type=int, default=64)
    args, _ = p.parse_known_args()
    hidden = int(math.sqrt(args.dim)) * max(1, round(2.4))
    blocks = int(np.log2(args.image_size / np.power(2, 4)))
    net = Net(hidden, blocks)
    net.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("dim", [64, 100], ids=["matches", "differs"])
def test_numeric_helpers_on_config_values(case, dim, execute) -> None:
    """`int(math.sqrt(args.dim))`, `np.log2(...)`, `np.power(...)` on argparse defaults inside
    `main()`: the one table of numeric functions both interpreters share (purefuncs.py)."""
    case.write("main.py", NUMERIC.format(dim=dim))
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'fc.' + k: v for k, v in nn.Linear(4, 16).state_dict().items()}\n"
               "for i in range(2):\n"
               "    sd.update({f'blocks.{i}.' + k: v for k, v in nn.Linear(16, 16).state_dict().items()})\n"
               "torch.save(sd, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


SYS_ARGV = """
import sys

import torch
import torch.nn as nn

SIZES = {"small": 3, "large": 5}
name = sys.argv[1] if len(sys.argv) > 1 else "small"
num_classes = int(sys.argv[2]) if len(sys.argv) > 2 else SIZES[name]
model = nn.Linear(4, num_classes)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("args", [[], ["large"], ["small", "5"]], ids=["bare", "name", "name-and-size"])
def test_sys_argv_is_the_run_analysed(case, args, execute) -> None:
    """`sys.argv` read by hand: no arguments, or the configured ones; never the worker's own
    command line (which once made `int(sys.argv[2])` 4096 in the worker's replay)."""
    case.write("main.py", SYS_ARGV)
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Linear(4, 3).state_dict(), 'w.pt')")
    truth = pytorch_outcomes(case, args=args)
    assert truth["crash"] is None and len(truth["loads"]) == 1
    result = analyze_alone(case, execute, script_args=" ".join(args) or None)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")


SAVED_NAMESPACE = """
import argparse

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, n_in=4, hidden=8):
        super().__init__()
        self.fc = nn.Linear(n_in, hidden)


ckpt = torch.load("w.pt", weights_only=False)
{build}
model.load_state_dict(ckpt["model"])
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [8, 6], ids=["matches", "differs"])
@pytest.mark.parametrize("build", ['args = ckpt["args"]\nmodel = Net(args.n_in, ckpt["args"].hidden)',
                                   'model = Net(**vars(ckpt["args"]))',
                                   # fairseq's base_architecture: a default for what the saved args lack
                                   'args = ckpt["args"]\nargs.n_in = getattr(args, "n_in", 5)\n'
                                   'model = Net(getattr(args, "in_dim", 4), getattr(args, "hidden", 3))'],
                         ids=["attributes", "vars", "getattr"])
def test_an_argparse_namespace_saved_in_the_checkpoint(case, build, hidden, execute) -> None:
    """`torch.save({"args": args, "model": ...})`: the namespace's attributes are read as pickle
    stores them (argparse.Namespace is never called)."""
    case.write("main.py", SAVED_NAMESPACE.format(build=build))
    case.torch("import argparse, torch, torch.nn as nn\n"
               f"args = argparse.Namespace(n_in=4, hidden={hidden})\n"
               "torch.save({'args': args, 'model': {'fc.' + k: v for k, v in nn.Linear(4, 8).state_dict().items()}},"
               " 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


LATENT_DIFFUSION = """
import argparse

import torch
from omegaconf import OmegaConf

parser = argparse.ArgumentParser()
parser.add_argument("-b", "--base", nargs="*", default=["configs/a.yaml", "configs/b.yaml"])
opt, unknown = parser.parse_known_args()
configs = [OmegaConf.load(cfg) for cfg in opt.base]
cli = OmegaConf.from_dotlist(unknown)
config = OmegaConf.merge(*configs, cli)
model = torch.nn.Linear(**config.model.params)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("out", [5, 6], ids=["matches", "differs"])
def test_configs_merged_as_latent_diffusion_merges_them(case, out, execute) -> None:
    """`OmegaConf.merge(*[OmegaConf.load(c) for c in opt.base], OmegaConf.from_dotlist(unknown))`:
    the later file wins, and a run without arguments adds nothing."""
    case.write("main.py", LATENT_DIFFUSION)
    case.write("configs/a.yaml", "model:\n  params:\n    in_features: 4\n    out_features: 9\n")
    case.write("configs/b.yaml", f"model:\n  params:\n    out_features: {out}\n")
    case.torch("import torch; torch.save(torch.nn.Linear(4, 5).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


DEEP_MERGE = """
import os

import torch
import torch.nn as nn
import yaml


def merge(base, new):
    out = dict(base)
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_cfg(path):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    base = cfg.pop("_BASE_", None)
    if base is not None:
        cfg = merge(load_cfg(os.path.join(os.path.dirname(path), base)), cfg)
    return cfg


def build(cfg):
    if cfg["model"]["arch"] == "mlp":
        return nn.Sequential(nn.Linear(4, cfg["model"]["width"]), nn.Linear(cfg["model"]["width"], 3))
    raise ValueError(cfg["model"]["arch"])


model = build(load_cfg("configs/run.yaml"))
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("width", [8, 12], ids=["matches", "overridden"])
def test_a_yaml_config_deep_merged_over_its_base(case, width) -> None:
    """The `_BASE_` inheritance every detectron2-style project writes: `isinstance(v, dict)` of
    data read from YAML is decided, so the merged config and the factory's branch are known."""
    case.write("main.py", DEEP_MERGE)
    case.write("configs/base.yaml", "model:\n  arch: mlp\n  width: 8\n  depth: 2\n")
    case.write("configs/run.yaml", f"_BASE_: base.yaml\nmodel:\n  width: {width}\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).state_dict(), 'w.pt')")
    judged_like_pytorch(case, False, "mismatched")


JSON_SPREAD = """
import json

import torch
import torch.nn as nn


class CLIP(nn.Module):
    def __init__(self, embed_dim, vision_width=8):
        super().__init__()
        self.visual = nn.Linear(vision_width, embed_dim)


def main():
    with open("model_configs/tiny.json") as f:
        cfg = json.load(f)
    model = CLIP(**cfg)
    model.load_state_dict(torch.load("w.pt"))


main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("embed_dim", [5, 6], ids=["matches", "differs"])
def test_a_json_config_spread_into_the_model(case, embed_dim, execute) -> None:
    """open_clip's `CLIP(**model_cfg)` of a JSON model config."""
    case.write("main.py", JSON_SPREAD)
    case.write("model_configs/tiny.json", f'{{"embed_dim": {embed_dim}, "vision_width": 8}}')
    case.torch("import torch, torch.nn as nn\ntorch.save({'visual.' + k: v for k, v in nn.Linear(8, 5).state_dict()"
               ".items()}, 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


VOCAB_AND_HPARAMS = """
import json

import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, ntoken, dim=8, layers=1):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, dim)
        self.rnn = nn.GRU(dim, dim, layers)


def load_vocab(path):
    with open(path) as f:
        return json.load(f)


ckpt = torch.load("lm.pt")
hparams = dict(dim=8, layers=1)
hparams.update(ckpt.get("hparams", {}))
word2idx = load_vocab("vocab.json")
model = LM(len(word2idx), **hparams)
model.load_state_dict(ckpt["model"])
"""


@pytest.mark.parametrize("words", [5, 7], ids=["matches", "differs"])
@pytest.mark.parametrize("layers", [1, 2], ids=["saved-layers-1", "saved-layers-2"])
def test_a_vocabulary_files_size_and_hparams_updated_from_the_checkpoint(case, words, layers) -> None:
    """word_language_model-shaped: `len(json.load(f))` of a vocabulary file, and defaults
    updated with the hyper-parameters the checkpoint holds (corpus W06, W10)."""
    case.write("main.py", VOCAB_AND_HPARAMS)
    case.write("vocab.json", json.dumps({f"w{i}": i for i in range(words)}))
    case.torch("import sys, torch\nsys.argv = ['x']\nexec(open('main.py').read().split('\\nckpt = ')[0])\n"
               f"torch.save({{'hparams': {{'layers': {layers}}}, 'model': LM(5, 8, {layers}).state_dict()}}, 'lm.pt')")
    resolved_like_pytorch(case, False, "mismatched")


INTERPOLATED = """
import torch
import torch.nn as nn
from omegaconf import OmegaConf


class Regressor(nn.Module):
    def __init__(self, n_features, hidden_size, num_layers=1, name=""):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, 1)


cfg = OmegaConf.merge(OmegaConf.load("configs/base.yaml"), OmegaConf.load("configs/exp.yaml"))
{use}
model.load_state_dict(torch.load("model.pt"))
"""

BASE_YAML = """
hidden: 32
model:
  n_features: 4
  hidden_size: ${hidden}
  num_layers: ${model_layers}
  name: lstm_${hidden}x${model_layers}
model_layers: 1
"""

USES = {
    "spread": "model = Regressor(**cfg.model)",
    "attributes": "model = Regressor(cfg.model.n_features, cfg.model.hidden_size, cfg.model.num_layers)",
    "resolved-container": "model = Regressor(**OmegaConf.to_container(cfg.model, resolve=True))",
}


@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize("exp_hidden", [32, 48], ids=["matches", "differs"])
def test_omegaconf_interpolations_resolve_in_the_merged_config(case, use, exp_hidden) -> None:
    """`hidden_size: ${hidden}` resolves against the config as merged (the experiment's file
    overrides `hidden`), when the item is read (corpus Y12)."""
    case.write("configs/base.yaml", BASE_YAML)
    case.write("configs/exp.yaml", f"hidden: {exp_hidden}\n")
    case.write("main.py", INTERPOLATED.format(use=USES[use]))
    case.torch("import sys, torch\nexec(open('main.py').read().split('\\ncfg = ')[0])\n"
               "torch.save(Regressor(4, 32, 1).state_dict(), 'model.pt')")
    resolved_like_pytorch(case, False, "mismatched")


def test_an_omegaconf_resolver_is_not_resolved_here(case) -> None:
    """`${oc.env:HIDDEN,32}`: the run's environment decides; said, never guessed."""
    case.write("configs/base.yaml", BASE_YAML.replace("hidden: 32", "hidden: ${oc.env:HIDDEN,32}"))
    case.write("configs/exp.yaml", "{}\n")
    case.write("main.py", INTERPOLATED.format(use=USES["spread"]))
    case.torch("import sys, torch\nexec(open('main.py').read().split('\\ncfg = ')[0])\n"
               "torch.save(Regressor(4, 48, 1).state_dict(), 'model.pt')")
    (finding,) = analyze_alone(case, False).findings
    assert finding.code == "unresolved-model" and "oc.env" in finding.message, finding.message


HPARAMS_GET = """
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, in_dim, hidden=8, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.Dropout(dropout))


def load_model(path):
    ckpt = torch.load(path)
    hparams = ckpt["hyper_parameters"]
    model = MLP(hparams["in_dim"], hidden=hparams.get("hidden", 8), dropout=hparams.get("dropout", 0.1))
    model.load_state_dict({k[len("model."):]: v for k, v in ckpt["state_dict"].items()})
    return model


load_model("last.ckpt")
"""


@pytest.mark.parametrize("saved", ["{'in_dim': 4, 'hidden': 12}", "{'in_dim': 4}", "{'in_dim': 4, 'hidden': 8}"],
                         ids=["hidden-saved", "hidden-default", "hidden-saved-default"])
def test_get_with_a_default_on_hyper_parameters_the_checkpoint_holds(case, saved) -> None:
    """`hparams.get("dropout", 0.1)` of a checkpoint's dict: the saved value, else the default (corpus Y01)."""
    case.write("main.py", HPARAMS_GET)
    case.torch("import torch, torch.nn as nn\n"
               "sd = nn.Sequential(nn.Linear(4, 12), nn.Dropout(0.1)).state_dict()\n"
               f"torch.save({{'hyper_parameters': {saved}, 'state_dict': {{'model.net.' + k: v for k, v in sd.items()}}}},"
               " 'last.ckpt')")
    resolved_like_pytorch(case, False, "mismatched")


SET_ON_CONFIG = {
    "attribute": "cfg.model.width = {w}",
    "alias": "params = cfg.model\nparams.width = {w}",  # the node itself changes: cfg sees it
    "easydict": "cfg = EasyDict(yaml.safe_load(open('config.yaml')))\ncfg.model.width = {w}",
    "unknown": "cfg.model.width = int(os.environ['WM_WIDTH'])",
}


@pytest.mark.parametrize("how", list(SET_ON_CONFIG))
@pytest.mark.parametrize("w", [8, 6])
def test_an_attribute_set_on_a_loaded_config(case, how, w) -> None:
    """latent-diffusion's `config.model.params.embed_dim = 4` after `OmegaConf.load`: the model
    gets the value set, not the file's (a false alarm before); a value not known here makes the
    config unknown, never leaves the file's."""
    case.write("config.yaml", "model:\n  width: 4\n  num_classes: 3\n")
    save_layers(case, body="nn.Linear(4, 8)", head="nn.Linear(8, 3)")
    setting = SET_ON_CONFIG[how].format(w=w)
    case.write("main.py", "import os\n\nimport torch\nimport torch.nn as nn\nimport yaml\nfrom easydict import EasyDict\n"
               "from omegaconf import OmegaConf\n\n\nclass Net(nn.Module):\n"
               "    def __init__(self, width, num_classes):\n        super().__init__()\n"
               "        self.body = nn.Linear(4, width)\n        self.head = nn.Linear(width, num_classes)\n\n\n"
               f"cfg = OmegaConf.load('config.yaml')\n{setting}\n"
               "model = Net(**cfg.model)\nmodel.load_state_dict(torch.load('w.pt'))\n")
    truth = pytorch_outcomes(case, env={"WM_WIDTH": "8"})
    assert truth["crash"] is None, truth
    result = analyze_alone(case, False)
    if how == "unknown":
        assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
        assert any("`cfg.model.width` is set to a value not known statically" in f.message for f in result.findings), \
            [f.message for f in result.findings]
        return
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]


CHANGES_ITS_ARGUMENT = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, in_dim, hidden_dims=None):
        super().__init__()
        if hidden_dims is None:
            hidden_dims = [8, 16]
        self.encoder = nn.Linear(in_dim, hidden_dims[0])
        hidden_dims.reverse()
        self.decoder = nn.Linear(hidden_dims[0], in_dim)


config = {"model_params": {"in_dim": 4, "hidden_dims": [8, 16]}}
model_params = config["model_params"]
"""


def test_a_list_the_constructor_changes_in_place_is_not_reused_stale(case) -> None:
    """PyTorch-VAE's `hidden_dims.reverse()` in `__init__` reverses the list `**model_params`
    passed: a second model made from the same config is built the other way round. The first
    load is judged; the second is said unresolved, naming the change (a false alarm before)."""
    case.write("main.py", CHANGES_ITS_ARGUMENT + """
model = VAE(**model_params)
model.load_state_dict(torch.load("vae.pt"))
ema = VAE(**config["model_params"])
ema.load_state_dict(torch.load("ema.pt"))
""")
    case.torch(CHANGES_ITS_ARGUMENT + "torch.save(VAE(**model_params).state_dict(), 'vae.pt')\n"
               "torch.save(VAE(**model_params).state_dict(), 'ema.pt')\n")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and [load["raises"] for load in truth["loads"]] == [False, False], truth
    for execute in (False, True):
        result = analyze_alone(case, execute)
        assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
        first, second = sorted(result.reports, key=lambda r: r.call.line)
        assert first.how is not None and not first.findings, [f.message for f in first.findings]
        (why,) = [f.message for f in second.findings]
        assert "`hidden_dims` is changed in place by VAE.__init__ (`hidden_dims.reverse()`, main.py:11)" in why, why


@pytest.mark.parametrize("vocab", ['["<pad>", "<unk>"] + json.load(f)', 'sorted(json.load(f))', 'list(json.load(f))'])
def test_a_vocabulary_file_used_as_data(case, vocab) -> None:
    """A vocabulary read with `json.load` and extended or sorted before its `len` sizes the
    embedding: the file's data, as Python computes it."""
    case.write("vocab.json", json.dumps(["a", "b", "c"]))
    save_layers(case, emb="nn.Embedding(5, 4)")
    case.write("main.py", f"""
        import json

        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.emb = nn.Embedding(n, 4)


        with open("vocab.json") as f:
            itos = {vocab}
        model = Net(len(itos))
        model.load_state_dict(torch.load("w.pt"))
    """)
    resolved_like_pytorch(case, False, "mismatched")
