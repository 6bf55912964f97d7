"""Changes made to a model after it is built, the way fine-tuning code makes them: `del
model.fc`, `setattr(model, "head", ...)`, `model.classifier[-1] = ...` written through a Trainer's
`self.net`, layers swapped in a loop over the model's modules (a BatchNorm -> GroupNorm converter,
every ReLU -> PReLU). Each was a false alarm on a clean load (corpus F): the change was ignored.
A change the recipe can replay is replayed; one it cannot makes the load unresolved, naming the
change. PyTorch is the judge, in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import agrees_with_pytorch, analyze_alone, judged_like_pytorch, pytorch_outcomes, save_layers

NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 10)
"""

REPLAYED = NET + """

class Trainer:
    def __init__(self, num_classes):
        self.net = Net()
        in_f = self.net.body[-1].in_features
        self.net.body[-1] = nn.Linear(in_f, num_classes)

    def load(self, path):
        self.net.load_state_dict(torch.load(path))


def main():
    trainer = Trainer({classes})
    del trainer.net.head.bias
    setattr(trainer.net, "head", nn.Linear(8, 2, bias=False))
    trainer.load("w.pt")


main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("classes", [6, 5], ids=["matches", "differs"])
def test_del_setattr_and_an_item_set_through_a_trainer_are_replayed(case, classes, execute) -> None:
    case.write("main.py", REPLAYED.format(classes=classes))
    save_layers(case, **{"body.0": "nn.Linear(4, 8)", "body.2": "nn.Linear(8, 6)", "head": "nn.Linear(8, 2, bias=False)"})
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


def test_an_item_set_through_a_trainer_is_reported_on_that_line(case) -> None:
    case.write("main.py", REPLAYED.format(classes=5))
    save_layers(case, **{"body.0": "nn.Linear(4, 8)", "body.2": "nn.Linear(8, 6)", "head": "nn.Linear(8, 2, bias=False)"})
    result = analyze_alone(case, False)
    (error,) = [f for f in result.findings if f.severity == "error"]
    assert error.keys == ["body.2.weight", "body.2.bias"] and error.span.line + 1 == 16, (error.span, error.message)


SWAPPED = NET + """

def convert(module):
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            setattr(module, name, nn.PReLU())
        else:
            convert(child)


def main():
    model = Net()
    {change}
    model.load_state_dict(torch.load("w.pt"))


main()
"""
CHANGES = {
    "converter": "convert(model)",
    "enumerate": "for i, m in enumerate(model.body):\n        if isinstance(m, nn.ReLU):\n"
                 "            model.body[i] = nn.PReLU()",
    "named-modules": "for n, m in list(model.named_modules()):\n        if isinstance(m, nn.ReLU):\n"
                     "            model.get_submodule(n.rpartition('.')[0]).add_module(n.rpartition('.')[2], nn.PReLU())",
    "unknown-name": "import os\n    setattr(model, os.environ.get('HEAD') or 'head', nn.Linear(8, 3))",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_in_a_loop_is_replayed_one_by_name_not_known_is_not(case, change, execute) -> None:
    """Every ReLU swapped for a PReLU (which has a weight): a clean load that the model as first
    built would have called one with unexpected keys. A loop over the model's modules is replayed
    whole (model_changes.py; test_module_loops.py has more); a name known only at run time leaves
    the model unresolved."""
    case.write("main.py", SWAPPED.format(change=CHANGES[change]))
    made = "m.head = nn.Linear(8, 3)" if change == "unknown-name" else "m.body[1] = nn.PReLU()"
    case.torch(NET + f"\nm = Net()\n{made}\ntorch.save(m.state_dict(), 'w.pt')")
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, execute)
    if change != "unknown-name":
        (report,) = result.reports
        assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
        if execute or change != "named-modules":  # (static inference does not model `get_submodule`)
            assert report.how is not None and not result.findings, [f.message for f in result.findings]
        return
    (finding,) = result.findings
    assert finding.code == "unresolved-model", finding.message
    assert "the model is changed" in finding.message, finding.message


VALUES_ONLY = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, {out}))
with torch.no_grad():
    model[0].weight[0] = 0
    model[0].weight.data[:2] = torch.zeros(2, 4)
names = []
for m in model.modules():
    names.append(type(m).__name__)
    if isinstance(m, nn.Embedding):
        m.weight.data[0] = 0
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("out", [3, 4], ids=["matches", "differs"])
def test_values_written_into_a_tensor_change_nothing_the_load_checks(case, out, execute) -> None:
    """`emb.weight[0] = 0` (the padding row), `weight.data[:2] = ...`, in a loop over the modules
    too: neither replayed (the worker would raise outside `no_grad`) nor taken for a change."""
    case.write("main.py", VALUES_ONLY.format(out=out))
    save_layers(case, **{"0": "nn.Embedding(10, 4)", "1": "nn.Linear(4, 3)"})
    judged_like_pytorch(case, execute, "mismatched")


SIMCLR = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.body = nn.Linear(4, width)
        self.fc = nn.Linear(width, 10)


class SimCLR(nn.Module):
    def __init__(self, encoder, projection_dim, n_features):
        super().__init__()
        self.encoder = encoder
        self.encoder.fc = nn.Identity()
        self.projector = nn.Sequential(nn.Linear(n_features, n_features, bias=False), nn.ReLU(),
                                       nn.Linear(n_features, projection_dim, bias=False))
"""

SIMCLR_RUNS = {
    "top-level": "encoder = Encoder({w})\nn_features = encoder.fc.in_features\n"
                 "model = SimCLR(encoder, 8, n_features)\nmodel.load_state_dict(torch.load('w.pt'))\n",
    "inline": "encoder = Encoder({w})\nmodel = SimCLR(encoder, 8, encoder.fc.in_features)\n"
              "model.load_state_dict(torch.load('w.pt'))\n",
    "in-main": "def main():\n    encoder = Encoder({w})\n    n_features = encoder.fc.in_features\n"
               "    model = SimCLR(encoder, 8, n_features)\n    model.load_state_dict(torch.load('w.pt'))\n\n\n"
               "if __name__ == '__main__':\n    main()\n",
}


@pytest.mark.parametrize("run", list(SIMCLR_RUNS))
@pytest.mark.parametrize("width", [16, 32])
@pytest.mark.parametrize("execute", [False, True])
def test_a_size_read_off_another_module_sizes_the_model(case, run, width, execute) -> None:
    """SimCLR's `n_features = encoder.fc.in_features`, then `SimCLR(encoder, dim, n_features)`:
    the size is read off the encoder made again by its constructor (nothing was done to it)."""
    case.write("main.py", SIMCLR + "\n\n" + SIMCLR_RUNS[run].format(w=width))
    case.torch(SIMCLR + "\ntorch.save(SimCLR(Encoder(16), 8, 16).state_dict(), 'w.pt')\n")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and truth["loads"][0]["raises"] is (width != 16), truth
    result = analyze_alone(case, execute)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]


@pytest.mark.parametrize("classes", [3, 5])
def test_a_head_swapped_on_a_model_a_factory_in_another_file_made(case, classes) -> None:
    """`model = deeplabv3_tiny(21); model.classifier[1] = nn.Linear(8, n)` in a helper: the step
    changes the model itself (never a copy of it made again from its constructor)."""
    case.write("net.py", NET + "\n\ndef tiny():\n    net = Net()\n    return net\n")
    case.write("main.py", f"""
        import torch
        import torch.nn as nn

        from net import tiny


        def create_model(num_classes):
            model = tiny()
            model.body[2] = nn.Linear(8, num_classes)
            return model


        model = create_model({classes})
        model.load_state_dict(torch.load("w.pt"))
    """)
    case.torch("import sys, torch, torch.nn as nn\nsys.path.insert(0, '.')\nfrom net import Net\nm = Net()\n"
               "m.body[2] = nn.Linear(8, 3)\ntorch.save(m.state_dict(), 'w.pt')\n")
    for execute in (False, True):
        judged_like_pytorch(case, execute, "mismatched")


INVERTIBLE = """
import torch
import torch.nn as nn


class Invertible1x1Conv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv1d(c, c, kernel_size=1, bias=False)
        W = torch.linalg.qr(torch.FloatTensor(c, c).normal_())[0]  # (a CPU tensor whatever the default device)
        self.conv.weight.data = W.view(c, c, 1)
        # a value static inference does not model: the worker builds this model
        self.register_buffer("freqs", torch.outer(torch.arange(4.0), torch.arange(4.0)), persistent=False)
"""


@pytest.mark.parametrize("c", [4, 6])
def test_a_parameters_data_set_to_a_new_tensor_in_a_model_the_worker_builds(case, c) -> None:
    """WaveGlow's `self.conv.weight.data = W` (a CPU tensor) while the worker builds on the meta
    device: the parameter takes W's shape there, as it does in a run (it raised before)."""
    case.write("main.py", INVERTIBLE + f"\n\nmodel = Invertible1x1Conv({c})\nmodel.load_state_dict(torch.load('w.pt'))\n")
    case.torch(INVERTIBLE + "\ntorch.save(Invertible1x1Conv(4).state_dict(), 'w.pt')\n")
    judged_like_pytorch(case, True, "mismatched")
    assert analyze_alone(case, True).reports[0].how == "executed"
