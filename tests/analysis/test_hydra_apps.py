"""`@hydra.main(config_path=..., config_name=...)` task functions (pytorch/examples' minGPT-ddp):
`main()` called bare gets the YAML file as Hydra composes it for a run without overrides. Each
script runs with real Hydra and PyTorch; the tool must agree, in both modes. What is not
followed (a `defaults:` list, Hydra's output folder before version_base 1.2, overrides on the
command line) leaves the load unresolved, saying which."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone, judged_like_pytorch, save_layers

APP = """
import hydra
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])


@hydra.main({base}config_path="conf", config_name="train")
def main(cfg):
    model = Net(**cfg["model"])
    model.load_state_dict(torch.load(cfg.ckpt))


if __name__ == "__main__":
    main()
"""

CONFIG = """
{defaults}model:
  width: {width}
  depth: 2
ckpt: w.pt
hydra:
  run:
    dir: .
"""


def _write(case, width=8, base="version_base=None, ", defaults=""):
    case.write("main.py", APP.format(base=base))
    case.write("conf/train.yaml", CONFIG.format(width=width, defaults=defaults))
    save_layers(case, **{"layers.0": "nn.Linear(8, 8)", "layers.1": "nn.Linear(8, 8)"})


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_the_task_config_is_the_yaml_file(case, width, execute) -> None:
    _write(case, width)
    judged_like_pytorch(case, execute, "mismatched")


@pytest.mark.parametrize(("kind", "said"), [("defaults", "defaults"), ("old-base", "output folder"),
                                            ("overrides", "command-line overrides")])
def test_what_is_not_followed_is_said(case, kind, said) -> None:
    _write(case, 6, base='version_base="1.1", ' if kind == "old-base" else "version_base=None, ",
           defaults="defaults:\n  - optim@opt: adam\n  - _self_\n" if kind == "defaults" else "")
    result = analyze_alone(case, False, script_args="model.width=8" if kind == "overrides" else None)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]
    assert said in " ".join(f.message for f in result.findings), [f.message for f in result.findings]


INSTANTIATE = """
import hydra
import torch
from hydra.utils import instantiate


@hydra.main(version_base=None, config_path="conf", config_name="predict")
def main(cfg):
    model = instantiate(cfg.model)
    model.load_state_dict(torch.load(cfg.ckpt))


if __name__ == "__main__":
    main()
"""

PREDICT = """
model:
  _target_: nets.Net
  width: ${{width}}
  norm:
    _target_: torch.nn.{norm}
    _partial_: true
width: {width}
ckpt: w.pt
hydra:
  run:
    dir: .
"""

NETS = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, norm):
        super().__init__()
        self.fc = nn.Linear(4, width)
        self.norm = norm(width)
"""


@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
@pytest.mark.parametrize("norm", ["LayerNorm", "BatchNorm1d"])
def test_a_model_hydra_instantiates_from_the_task_config(case, width, norm) -> None:
    """`instantiate(cfg.model)` with `_target_`, an interpolation and a `_partial_` layer class
    (corpus AK04): the node is written into the recipe as OmegaConf makes it and the worker runs
    Hydra's own `instantiate`; the checkpoint has a LayerNorm 8 wide."""
    case.write("main.py", INSTANTIATE)
    case.write("nets.py", NETS)
    case.write("conf/predict.yaml", PREDICT.format(width=width, norm=norm))
    save_layers(case, fc="nn.Linear(4, 8)", norm="nn.LayerNorm(8)")
    judged_like_pytorch(case, True, "mismatched+missing+unexpected")


COMPOSED = """
import hydra
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg):
    model = Net(cfg.model.width, cfg.model.depth)
    model.load_state_dict(torch.load(cfg.ckpt_path))


if __name__ == "__main__":
    main()
"""

EVAL = """# @package _global_

defaults:
  {self_first}- model: small
  - paths: null

ckpt_path: w.pt
{own}hydra:
  run:
    dir: .
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("order", ["self-first", "self-last"])
@pytest.mark.parametrize("width", [8, 6], ids=["matches", "differs"])
def test_a_config_composed_from_config_groups(case, execute, order, width) -> None:
    """lightning-hydra-template's shape (corpus AK01/02): the primary config's `defaults:` list
    picks `model: small`, whose own `defaults:` names `base` of the same group; `_self_` first or
    implied last decides whether the primary config's `model.depth` wins. Real Hydra composes it."""
    own = "model:\n  depth: 3\n"
    case.write("main.py", COMPOSED)
    case.write("configs/eval.yaml", EVAL.format(self_first="- _self_\n  " if order == "self-first" else "", own=own))
    case.write("configs/model/base.yaml", "width: 4\ndepth: 2\n")
    case.write("configs/model/small.yaml", f"defaults:\n  - base\n\nwidth: {width}\n")
    save_layers(case, **{"layers.0": "nn.Linear(8, 8)", "layers.1": "nn.Linear(8, 8)", "layers.2": "nn.Linear(8, 8)"})
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
