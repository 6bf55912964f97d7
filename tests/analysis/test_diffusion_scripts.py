"""A sampling script shaped like guided-diffusion's (written for this test): the model's options
are a defaults dict turned into argparse options in a loop (`type=type(v)`, `str2bool` for
bools), handed back with `{k: getattr(args, k) for k in keys}`, to a factory returning
`(model, diffusion)`; the checkpoint is read as bytes and loaded from `io.BytesIO`; the output
layer is an `nn.Sequential` element made by helpers (`zero_module(conv_nd(...))`). Judged by
real PyTorch in both modes, the mismatch on the element's own line."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

UTIL = """
import argparse
import io

import torch as th
import torch.nn as nn


def conv_nd(dims, *args, **kwargs):
    if dims == 1:
        return nn.Conv1d(*args, **kwargs)
    elif dims == 2:
        return nn.Conv2d(*args, **kwargs)
    raise ValueError(f"unsupported dimensions: {dims}")


def zero_module(module):
    for p in module.parameters():
        p.detach().zero_()
    return module


class TinyUNet(nn.Module):
    def __init__(self, channels, out_channels, dims=2):
        super().__init__()
        self.inp = conv_nd(dims, 3, channels, 3, padding=1)
        self.mid = conv_nd(dims, channels, channels, 3, padding=1)
        self.out = nn.Sequential(
            nn.GroupNorm(2, channels),
            nn.SiLU(),
            zero_module(conv_nd(dims, channels, out_channels, 3, padding=1)),
        )


class Diffusion:
    def __init__(self, steps):
        self.steps = steps


def model_and_diffusion_defaults():
    return dict(num_channels=8, learn_sigma=LEARN_SIGMA, diffusion_steps=10, timestep_respacing="")


def create_model_and_diffusion(num_channels, learn_sigma, diffusion_steps, timestep_respacing):
    model = TinyUNet(num_channels, 6 if learn_sigma else 3)
    return model, Diffusion(diffusion_steps)


def str2bool(v):
    if isinstance(v, bool):
        return v
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if v.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError("boolean value expected")


def add_dict_to_argparser(parser, default_dict):
    for k, v in default_dict.items():
        v_type = type(v)
        if v is None:
            v_type = str
        elif isinstance(v, bool):
            v_type = str2bool
        parser.add_argument(f"--{k}", default=v, type=v_type)


def args_to_dict(args, keys):
    return {k: getattr(args, k) for k in keys}


def load_state_dict(path, **kwargs):
    with open(path, "rb") as f:
        data = f.read()
    return th.load(io.BytesIO(data), **kwargs)
"""

MAIN = """
import argparse

from script_util import (add_dict_to_argparser, args_to_dict, create_model_and_diffusion, load_state_dict,
                         model_and_diffusion_defaults)


def create_argparser():
    defaults = dict(clip_denoised=True, num_samples=4, model_path="models/ema.pt")
    defaults.update(model_and_diffusion_defaults())
    parser = argparse.ArgumentParser()
    add_dict_to_argparser(parser, defaults)
    return parser


def main():
    args = create_argparser().parse_args()
    model, diffusion = create_model_and_diffusion(**args_to_dict(args, model_and_diffusion_defaults().keys()))
    model.load_state_dict(load_state_dict(args.model_path, map_location="cpu"))
    model.eval()


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("learn_sigma", [True, False], ids=["clean", "sigma-not-learned"])
def test_a_diffusion_sampling_script(case, learn_sigma, execute) -> None:
    case.write("script_util.py", UTIL.replace("LEARN_SIGMA", str(learn_sigma)))
    case.write("main.py", MAIN)
    case.torch("import os, sys, torch\nsys.path.insert(0, '.')\nimport script_util\nos.makedirs('models')\n"
               "torch.save(script_util.TinyUNet(8, 6).state_dict(), 'models/ema.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
    if not learn_sigma:
        (finding,) = [f for f in analyze_alone(case, execute).findings if f.severity == "error"]
        lines = (case.dir / "script_util.py").read_text().splitlines()
        element = next(i for i, line in enumerate(lines) if "zero_module(conv_nd(" in line)
        assert finding.span.path.endswith("script_util.py") and finding.span.line == element, finding
        assert "--learn_sigma at its default, False" in finding.message
