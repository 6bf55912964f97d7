"""Models wrapped and unwrapped the way training code does it: `self.net = nn.DataParallel(self.net)`,
`net.module if hasattr(net, "module") else net`, `getattr(net, "module", net)`, yolov5's `type(model) in (DataParallel, DDP)`,
`if isinstance(net, nn.DataParallel): net = net.module`,
and a method called on an object made in place (`Predictor(5).load(path)`). Each script is run
with real PyTorch (DataParallel wraps on CPU too); the tool must agree, in both modes."""

from __future__ import annotations

import pytest

from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes, resolved_like_pytorch

HEAD = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.fc = nn.Linear(4, n)


"""

SCRIPTS = {
    "self-rewrapped": """
class Solver:
    def __init__(self):
        self.net = Net({n})
        self.net = nn.DataParallel(self.net)

    def restore(self):
        self.net.module.load_state_dict(torch.load("w.pt"))


Solver().restore()
""",
    "hasattr-unwrap-wrapped": """
net = nn.DataParallel(Net({n}))
model = net.module if hasattr(net, "module") else net
model.load_state_dict(torch.load("w.pt"))
""",
    "hasattr-unwrap-bare": """
net = Net({n})
model = net.module if hasattr(net, "module") else net
model.load_state_dict(torch.load("w.pt"))
""",
    "getattr-unwrap-wrapped": """
net = nn.DataParallel(Net({n}))
getattr(net, "module", net).load_state_dict(torch.load("w.pt"))
""",
    "getattr-unwrap-bare": """
def unwrap_model(model):
    return getattr(model, "module", model)


unwrap_model(Net({n})).load_state_dict(torch.load("w.pt"))
""",
    "hasattr-unwrap-torch-layer": """
seq = nn.Sequential(Net({n}))
model = seq.module if hasattr(seq, "module") else seq
model[0].load_state_dict(torch.load("w.pt"))
""",
    "type-in-parallel-wrapped": """
def de_parallel(model):
    return model.module if type(model) in (nn.parallel.DataParallel, nn.parallel.DistributedDataParallel) else model


de_parallel(nn.DataParallel(Net({n}))).load_state_dict(torch.load("w.pt"))
""",
    "type-is-not-parallel-bare": """
net = Net({n})
if type(net) is not nn.DataParallel:
    net.load_state_dict(torch.load("w.pt"))
""",
    "isinstance-unwrap": """
net = nn.DataParallel(Net({n}))
if isinstance(net, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
    net = net.module
net.load_state_dict(torch.load("w.pt"))
""",
    "isinstance-other-wrapper": """
net = nn.DataParallel(Net({n}))
if isinstance(net, nn.parallel.DistributedDataParallel):
    net = net.module
net.module.load_state_dict(torch.load("w.pt"))
""",
    "isinstance-of-the-checkpoint": """
ckpt = torch.load("w.pt")
if isinstance(ckpt, dict) and "model" in ckpt:
    ckpt = ckpt["model"]
elif isinstance(ckpt, torch.Tensor):
    raise SystemExit("not a checkpoint")
Net({n}).load_state_dict(ckpt)
""",
    "method-of-object-made-in-place": """
class Predictor:
    def __init__(self, n):
        self.model = Net(n)

    def load(self, path):
        self.model.load_state_dict(torch.load(path))
        return self


predictor = Predictor({n}).load("w.pt")
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [3, 5], ids=["matches", "differs"])
@pytest.mark.parametrize("shape", sorted(SCRIPTS))
def test_wrapped_and_unwrapped_models_agree_with_pytorch(case, shape, n, execute) -> None:
    case.write("main.py", HEAD + SCRIPTS[shape].format(n=n))
    case.torch("import torch, torch.nn as nn; torch.save({'fc.' + k: v for k, v in nn.Linear(4, 3).state_dict().items()}, "
               "'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    result = analyze_alone(case, execute)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    errors = [f for f in result.findings if f.severity == "error"]
    if errors:
        assert {f.span.line + 1 for f in errors} == {8}  # `self.fc = nn.Linear(4, n)`


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_library_base_class_may_hold_module(case, execute) -> None:
    """`AveragedModel` (a library class) keeps the model in `.module`: `hasattr(net, "module")` is
    true of a subclass that never says `module` itself. Taken as false, the load went into the
    wrapper and reported keys PyTorch does not."""
    case.write("main.py", HEAD + """
class Ema(torch.optim.swa_utils.AveragedModel):
    pass


net = Ema(Net(3))
model = net.module if hasattr(net, "module") else net
model.load_state_dict(torch.load("w.pt"))
""")
    case.torch("import torch, torch.nn as nn; torch.save({'fc.' + k: v for k, v in nn.Linear(4, 3).state_dict().items()}, "
               "'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"]
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]


INLINE = """
import argparse

import torch

from net import Net

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="net.pth")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    model = {wrapper}(Net(args))
    model.load_state_dict(torch.load(args.model))
"""

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.fc = nn.Linear(8, 16 if args.small else 32)
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("width", [32, 16], ids=["matches", "differs"])
@pytest.mark.parametrize("wrapper", ["torch.nn.DataParallel", "torch.compile"])
def test_a_wrapper_around_the_constructor_keeps_its_arguments(case, wrapper, width, execute) -> None:
    """RAFT's `model = torch.nn.DataParallel(RAFT(args))` (corpus AH09): the inner call's `args`
    is the parsed namespace, written into the recipe as for `Net(args)` alone."""
    case.write("net.py", NET)
    case.write("main.py", INLINE.format(wrapper=wrapper))
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom net import Net\nimport argparse\n"
               f"m = {wrapper}(Net(argparse.Namespace(small={width == 16})))\n"
               "torch.save(m.state_dict(), 'net.pth')" if width == 32 else
               "import torch, torch.nn as nn\n"
               f"prefix = {'module.' if 'Parallel' in wrapper else '_orig_mod.'!r}\n"
               "torch.save({prefix + k: v for k, v in nn.ModuleDict({'fc': nn.Linear(8, 16)}).state_dict().items()}, "
               "'net.pth')")
    resolved_like_pytorch(case, execute, "mismatched")
