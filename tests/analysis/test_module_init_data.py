"""An nn.Module whose own code loads: SPADE's `Pix2PixModel.__init__(opt)` loading a network it
made (`netG.load_state_dict(...)`), pSp's `__init__` keeping `self.opts = opts` for the
`load_weights()` it calls, StarGAN v2's `Solver(nn.Module)` keeping `self.nets_ema = {...}` for
its `sample()`. The `__init__` is followed with the call's arguments, and the plain data it keeps
on the model is read back by its methods. Corpus CA; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.fc = nn.Linear(3, width)
"""

SPADE = """
import argparse
import torch
import torch.nn as nn
from model import Net


class Pix2PixModel(nn.Module):
    def __init__(self, opt):
        super().__init__()
        netG = Net(opt.width)
        netG.load_state_dict(torch.load(opt.ckpt))
        self.netG = netG


opt = argparse.Namespace(width={width}, ckpt="ck.pt")
model = Pix2PixModel(opt)
"""

PSP = """
from argparse import Namespace
import torch
import torch.nn as nn
from model import Net


def get_keys(d, name):
    if "state_dict" in d:
        d = d["state_dict"]
    return {{k[len(name) + 1:]: v for k, v in d.items() if k[:len(name)] == name}}


class pSp(nn.Module):
    def __init__(self, opts):
        super().__init__()
        self.opts = opts
        self.encoder = Net({width})
        self.load_weights()

    def load_weights(self):
        ckpt = torch.load(self.opts.checkpoint_path, map_location="cpu")
        self.encoder.load_state_dict(get_keys(ckpt, "encoder"), strict=True)


net = pSp(Namespace(checkpoint_path="psp.pt"))
"""

SOLVER = """
import argparse
import torch
import torch.nn as nn
from model import Net


class Solver(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.nets_ema = {{"generator": Net(args.width)}}

    def sample(self):
        module_dict = torch.load(self.args.ckpt)
        for name, module in self.nets_ema.items():
            module.load_state_dict(module_dict[name])


args = argparse.Namespace(width={width}, ckpt="nets_ema.ckpt")
solver = Solver(args)
solver.sample()
"""

SAVES = {"spade": "torch.save(Net(4).state_dict(), 'ck.pt')",
         "psp": "torch.save({'state_dict': {'encoder.' + k: v for k, v in Net(4).state_dict().items()}}, 'psp.pt')",
         "solver": "torch.save({'generator': Net(4).state_dict()}, 'nets_ema.ckpt')"}
SCRIPTS = {"spade": SPADE, "psp": PSP, "solver": SOLVER}


@pytest.mark.parametrize("width", [4, 8])
@pytest.mark.parametrize("shape", list(SCRIPTS))
def test_a_module_whose_own_code_loads(case, shape, width) -> None:
    case.write("model.py", NET)
    case.write("main.py", SCRIPTS[shape].format(width=width))
    case.torch(f"import torch\nfrom model import Net\n{SAVES[shape]}")
    # (the model's `self.opts = opts` of an argparse Namespace: built by the worker)
    resolved_like_pytorch(case, shape == "psp", "mismatched" if width != 4 else "")


def test_data_set_again_after_the_model_is_made_is_not_known(case) -> None:
    """`net.opts = Namespace(...)` after `pSp(...)`: the `__init__`'s value no longer holds."""
    case.write("model.py", NET)
    case.write("main.py", PSP.format(width=8).replace(
        'net = pSp(Namespace(checkpoint_path="psp.pt"))',
        'net = pSp(Namespace(checkpoint_path="psp.pt"))\nnet.opts = Namespace(checkpoint_path="wide.pt")\n'
        'net.load_weights()').replace('        self.load_weights()\n', '        pass\n'))
    case.torch("import torch\nfrom model import Net\n"
               "torch.save({'state_dict': {'encoder.' + k: v for k, v in Net(4).state_dict().items()}}, 'psp.pt')\n"
               "torch.save({'state_dict': {'encoder.' + k: v for k, v in Net(8).state_dict().items()}}, 'wide.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"], truth  # (wide.pt fits)
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
