"""yacs `CfgNode` configs (Swin-Transformer, HRNet, fast-reid...): defaults built at module
level, cloned, merged from a YAML file and from `KEY VALUE` pairs on the command line. yacs's
own strictness is followed: a value of another type or a key the config lacks makes the
script raise before the load, so nothing is said about the load. PyTorch (and yacs) judge by
running the script with the same arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis_helpers import analyze_alone

CONFIG = """
from yacs.config import CfgNode as CN

_C = CN()
_C.MODEL = CN()
_C.MODEL.HIDDEN = 16
_C.MODEL.NUM_CLASSES = 10
_C.MODEL.WEIGHTS = "model.pth"
_C.SOLVER = CN()
_C.SOLVER.LR = 0.1


def get_cfg_defaults():
    return _C.clone()
"""

MODEL = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
"""

MAIN = """
import argparse
import os

import torch

from config import get_cfg_defaults
from model import Net


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", default="configs/small.yaml")
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=None)
    args = parser.parse_args()
    cfg = get_cfg_defaults()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    model = Net(cfg.MODEL.HIDDEN, cfg.MODEL.NUM_CLASSES)
    model.load_state_dict(torch.load(cfg.MODEL.WEIGHTS))


if __name__ == "__main__":
    main()
"""

SCENARIOS = {
    # yaml text, script arguments
    "same-size": ("MODEL:\n  HIDDEN: 32\nSOLVER:\n  LR: 0.01\n", ""),
    "yaml-says-16": ("MODEL:\n  HIDDEN: 16\n", ""),
    "list-overrides-yaml": ("MODEL:\n  HIDDEN: 16\n", "MODEL.HIDDEN 32"),
    "list-makes-it-wrong": ("MODEL:\n  HIDDEN: 32\n", "MODEL.NUM_CLASSES 7"),
    "float-for-int-raises": ("MODEL:\n  HIDDEN: 32.0\n", ""),
    "unknown-key-raises": ("MODEL:\n  HIDDEN: 32\n  DEPTH: 3\n", ""),
    "string-read-as-literal": ("MODEL:\n  HIDDEN: '32'\n", ""),
    "empty-yaml": ("", ""),
}


def _run(case, argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *argv.split()], cwd=case.dir, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_yacs_config_merges_agree_with_pytorch(case, scenario, execute) -> None:
    yaml_text, argv = SCENARIOS[scenario]
    case.write("config.py", CONFIG)
    case.write("model.py", MODEL)
    case.write("main.py", MAIN)
    (case.dir / "configs").mkdir(exist_ok=True)
    (case.dir / "configs" / "small.yaml").write_text(yaml_text)
    case.torch("import torch; from model import Net; torch.save(Net(32, 10).state_dict(), 'model.pth')")
    ran = _run(case, argv)
    load_raised = "Error(s) in loading state_dict" in ran.stderr
    crashed_before = ran.returncode != 0 and not load_raised
    result = analyze_alone(case, execute, script_args=argv or None)
    errors = [f for f in result.findings if f.severity == "error"]
    assert bool(errors) == load_raised, (scenario, ran.stderr[-400:], [f.message for f in result.findings])
    (report,) = result.reports
    if crashed_before:
        assert report.how is None  # yacs raises first: the model is not said to be anything
        assert any("yacs raises" in f.message or "raises in yacs" in f.message for f in result.findings)
    else:
        assert report.how is not None, [f.message for f in result.findings]
    for f in errors:
        for key in f.keys:
            assert f"size mismatch for {key}" in ran.stderr


SWIN_CONFIG = """
import os

import yaml
from yacs.config import CfgNode as CN

_C = CN()
_C.BASE = ['']
_C.MODEL = CN()
_C.MODEL.TYPE = 'mlp'
_C.MODEL.HIDDEN = 16
_C.MODEL.NUM_CLASSES = 10
_C.MODEL.PRETRAINED = ''


def _update_config_from_file(config, cfg_file):
    config.defrost()
    with open(cfg_file, 'r') as f:
        yaml_cfg = yaml.load(f, Loader=yaml.FullLoader)
    for cfg in yaml_cfg.setdefault('BASE', ['']):
        if cfg:
            _update_config_from_file(config, os.path.join(os.path.dirname(cfg_file), cfg))
    config.merge_from_file(cfg_file)
    config.freeze()


def update_config(config, args):
    _update_config_from_file(config, args.cfg)
    config.defrost()
    if args.opts:
        config.merge_from_list(args.opts)

    def _check_args(name):
        if hasattr(args, name) and eval(f'args.{name}'):
            return True
        return False

    if _check_args('num_classes'):
        config.MODEL.NUM_CLASSES = args.num_classes
    if _check_args('pretrained'):
        config.MODEL.PRETRAINED = args.pretrained
    config.freeze()


def get_config(args):
    config = _C.clone()
    update_config(config, args)
    return config
"""

SWIN_MAIN = """
import argparse

import torch

from config import get_config
from model import Net


def parse_option():
    parser = argparse.ArgumentParser('training script', add_help=False)
    parser.add_argument('--cfg', type=str, default='configs/wide.yaml', metavar="FILE")
    parser.add_argument("--opts", default=None, nargs='+')
    parser.add_argument('--num-classes', type=int)
    parser.add_argument('--pretrained', type=str, default='pretrained.pth')
    args, unparsed = parser.parse_known_args()
    config = get_config(args)
    return args, config


def build_model(config):
    if config.MODEL.TYPE == 'mlp':
        return Net(config.MODEL.HIDDEN, config.MODEL.NUM_CLASSES)
    raise NotImplementedError(config.MODEL.TYPE)


def main(config):
    model = build_model(config)
    if config.MODEL.PRETRAINED:
        checkpoint = torch.load(config.MODEL.PRETRAINED, map_location='cpu')
        print(model.load_state_dict(checkpoint['model'], strict=False))


if __name__ == '__main__':
    args, config = parse_option()
    main(config)
"""


@pytest.mark.parametrize("wide", ["BASE: ['']\\nMODEL:\\n  NUM_CLASSES: 5\\n", "MODEL:\\n  NUM_CLASSES: 5\\n",
                                  "BASE: ['base.yaml']\\nMODEL:\\n  NUM_CLASSES: 5\\n"],
                         ids=["empty-base", "no-base", "base-file"])
@pytest.mark.parametrize("hidden", [64, 16])
def test_swin_shaped_config_is_exact_or_unresolved(case, wide, hidden) -> None:
    """Swin's config.py shape: `yaml.load(FullLoader)`, a BASE chain followed recursively (base
    file first), `hasattr(args, name) and eval(f'args.{name}')`. PyTorch agrees."""
    case.write("config.py", SWIN_CONFIG)
    case.write("model.py", MODEL)
    case.write("main.py", SWIN_MAIN)
    (case.dir / "configs").mkdir(exist_ok=True)
    (case.dir / "configs" / "wide.yaml").write_text(wide.replace("\\n", "\n"))
    (case.dir / "configs" / "base.yaml").write_text("MODEL:\n  HIDDEN: 64\n")
    case.torch(f"import torch; from model import Net; torch.save({{'model': Net({hidden}, 5).state_dict()}}, "
               "'pretrained.pth')")
    ran = _run(case, "")
    load_raised = "Error(s) in loading state_dict" in ran.stderr
    result = analyze_alone(case, execute=False)
    errors = [f for f in result.findings if f.severity == "error"]
    (report,) = result.reports
    assert report.how == "static" and bool(errors) == load_raised, [f.message for f in result.findings]
    for f in errors:
        for key in f.keys:
            assert f"size mismatch for {key}" in ran.stderr
