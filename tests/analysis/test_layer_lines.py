"""Where a size mismatch is reported when the layer is an element of a container written
inline: nanoGPT's `nn.ModuleDict(dict(wte=nn.Embedding(...), ...))` puts it on the `wte=` line,
not on the `self.transformer = ...` statement every element shares (corpus Q12)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

GPT = """
import torch
import torch.nn as nn


class GPT(nn.Module):
    def __init__(self, vocab_size, n_embd=8):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(16, n_embd),
            ln_f=nn.LayerNorm(n_embd),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        # a value static inference does not model: the worker builds this model
        self.register_buffer("freqs", torch.outer(torch.arange(4.0), torch.arange(4.0)), persistent=False)


model = GPT(96)
model.load_state_dict(torch.load("w.pt"), strict=False)
"""


def _saved_by_the_scripts_classes(case, made: str) -> None:
    """`made` (e.g. `GPT(65)`) of the classes main.py defines, saved to w.pt."""
    case.torch("import sys, torch\nsys.argv = ['x']\nexec(open('main.py').read().split('\\nmodel = ')[0])\n"
               f"torch.save({made}.state_dict(), 'w.pt')")


def _error_lines(case, execute: bool) -> dict[str, int]:
    """Each error key's 0-based line; the model built by the worker when `execute` (no static)."""
    result = analyze_alone(case, execute)
    if execute:
        assert result.reports[0].how == "executed", result.reports[0].how
    return {k: f.span.line for f in result.findings if f.severity == "error" for k in f.keys}


def test_an_element_of_a_module_dict_made_by_dict_keywords_is_its_own_line(case) -> None:
    case.write("main.py", GPT)
    _saved_by_the_scripts_classes(case, "GPT(65)")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    wte = lines.index("            wte=nn.Embedding(vocab_size, n_embd),")
    lm_head = lines.index("        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)")
    assert _error_lines(case, True) == {"transformer.wte.weight": wte, "lm_head.weight": lm_head}


ENCODER = """
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, hidden)


class Encoder(nn.Module):
    def __init__(self, dim=8, depth=2, hidden={hidden}, num_classes=0):
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.append(Block(dim, hidden))
        self.head = None
        if num_classes:
            self.head = nn.Linear(dim, num_classes)
        # a value static inference does not model: the worker builds this model
        self.register_buffer("freqs", torch.outer(torch.arange(4.0), torch.arange(4.0)), persistent=False)


model = Encoder(num_classes=3)
model.load_state_dict(torch.load("w.pt"))
"""


def test_blocks_appended_in_a_loop_and_a_head_set_after_a_placeholder(case) -> None:
    """`self.blocks = nn.ModuleList()` filled by `.append(Block(...))` in a loop: a block's layer
    is on its line in Block; `self.head = None` then `self.head = nn.Linear(...)`: the real one."""
    case.write("main.py", ENCODER.format(hidden=16))
    _saved_by_the_scripts_classes(case, "Encoder(hidden=12, num_classes=5)")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    fc = lines.index("        self.fc = nn.Linear(dim, hidden)")
    head = lines.index("            self.head = nn.Linear(dim, num_classes)")
    where = _error_lines(case, True)
    assert where == {**{f"blocks.{i}.fc.{p}": fc for i in (0, 1) for p in ("weight", "bias")},
                     "head.weight": head, "head.bias": head}, where


RESET = """
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, num_classes=50):
        super().__init__()
        self.body = nn.Linear(4, 16)
        self.head = nn.Linear(16, num_classes)

    def reset_classifier(self, num_classes):
        self.head = nn.Linear(16, num_classes)


model = Classifier()
model.reset_classifier(8)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_head_replaced_by_a_method_is_on_the_methods_line(case, execute) -> None:
    """timm's `model.reset_classifier(n)` before loading a checkpoint with the old head."""
    case.write("main.py", RESET)
    _saved_by_the_scripts_classes(case, "Classifier()")
    judged_like_pytorch(case, execute, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    head = lines.index("        self.head = nn.Linear(16, num_classes)", lines.index("    def reset_classifier(self, num_classes):"))
    where = {k: f.span.line for f in analyze_alone(case, execute).findings if f.severity == "error" for k in f.keys}
    assert where == {"head.weight": head, "head.bias": head}, where


KAGGLE_HEADS = """
import torch
import torch.nn as nn
import torchvision.models as models


class TinyNet(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.features = nn.Conv2d(3, c, 3)
        self.classifier = nn.Linear(c, 1000)


class CustomNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.model = TinyNet()
        self.model.classifier = nn.Linear(8, num_classes)


class MobileHead(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = models.mobilenet_v3_small(weights=None)
        n_features = self.backbone.classifier[-1].in_features
        self.backbone.classifier[-1] = nn.Linear(n_features, num_classes)


model = {made}
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("made, saved, line", [
    ("CustomNet(5)", "CustomNet(4)", "        self.model.classifier = nn.Linear(8, num_classes)"),
    ("MobileHead(19)", "MobileHead(18)", "        self.backbone.classifier[-1] = nn.Linear(n_features, num_classes)"),
], ids=["workspace-backbone", "torchvision-backbone"])
def test_a_head_replaced_through_the_backbone_is_on_that_line(case, made, saved, line) -> None:
    """Kaggle's wrapper: `self.backbone.fc = nn.Linear(...)` in the wrapper's `__init__` replaces the
    builder's layer; the size mismatch goes on that line, not on the builder or the inner class's
    own layer (corpus Z06, Z07)."""
    case.write("main.py", KAGGLE_HEADS.format(made=made))
    _saved_by_the_scripts_classes(case, saved)
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    where = set(_error_lines(case, made.startswith("Mobile")).values())
    assert where == {lines.index(line)}, where


YAML_BUILT = """
import torch
import torch.nn as nn


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, bias=False)
        self.bn = nn.BatchNorm2d(c2)


def parse_model(d, ch):
    layers, save = [], []
    for i, (m, args) in enumerate(d["backbone"]):
        m = eval(m) if isinstance(m, str) else m
        c2 = int(args[0] * d["width_multiple"])
        layers.append(m(ch, c2, *args[1:]))
        ch = c2
    return nn.Sequential(*layers), save


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model, self.save = parse_model(cfg, 3)


model = Model({{"width_multiple": {width}, "backbone": [["Conv", [16, 3]], ["Conv", [32, 1]]]}})
model.load_state_dict(torch.load("w.pt"))
"""


def test_layers_a_yaml_file_builds_are_on_their_classes_lines(case) -> None:
    """YOLOv5's `self.model, self.save = parse_model(...)` from a YAML model file: the walk from
    the constructor cannot follow the layers; each key goes on its layer's line in its block's
    class (`self.conv = ...`, `self.bn = ...`), not on the `Model(...)` call (corpus X12)."""
    case.write("main.py", YAML_BUILT.format(width=0.5))
    _saved_by_the_scripts_classes(case, 'Model({"width_multiple": 0.25, "backbone": [["Conv", [16, 3]], ["Conv", [32, 1]]]})')
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    conv, bn = lines.index("        self.conv = nn.Conv2d(c1, c2, k, bias=False)"), lines.index("        self.bn = nn.BatchNorm2d(c2)")
    where = _error_lines(case, True)
    assert where and all(line == (conv if ".conv." in k else bn) for k, line in where.items()), where


WRN = """
import math

import torch
import torch.nn as nn


class WideResNet(nn.Module):
    def __init__(self, num_classes=10, kernel=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, kernel_size=kernel, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()


model = WideResNet()
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("made", ["WideResNet(100)", "WideResNet(kernel=5)"])
def test_an_init_loops_in_place_fill_is_not_the_layers_line(case, made) -> None:
    """WideResNet's `m.bias.data.zero_()` / `m.weight.data.normal_(...)` in `for m in
    self.modules()`: the tensor it fills was made by the layer, so the squiggle stays on
    `self.fc = nn.Linear(...)` / `self.conv1 = nn.Conv2d(...)`, not on the init loop's line."""
    case.write("main.py", WRN)
    _saved_by_the_scripts_classes(case, made)
    judged_like_pytorch(case, False, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    fc = lines.index("        self.fc = nn.Linear(4, num_classes)")
    conv1 = lines.index("        self.conv1 = nn.Conv2d(3, 4, kernel_size=kernel, padding=1, bias=False)")
    expected = {"fc.weight": fc, "fc.bias": fc} if made == "WideResNet(100)" else {"conv1.weight": conv1}
    assert _error_lines(case, False) == expected


HEADS = """
import torch
import torch.nn as nn


class MultiPrototypes(nn.Module):
    def __init__(self, dim, counts):
        super().__init__()
        for i, k in enumerate(counts):
            self.add_module("prototypes" + str(i), nn.Linear(dim, k, bias=False))


class SwAVHead(nn.Module):
    def __init__(self, dim=8, nmb_prototypes=30):
        super().__init__()
        self.projection = nn.Linear(4, dim)
        if isinstance(nmb_prototypes, list):
            self.prototypes = MultiPrototypes(dim, nmb_prototypes)
        elif nmb_prototypes > 0:
            self.prototypes = nn.Linear(dim, nmb_prototypes, bias=False)


model = SwAVHead()
model.load_state_dict(torch.load("w.pt"))
"""


def test_a_layer_set_on_one_of_two_branches_is_on_the_branch_that_ran(case) -> None:
    """SwAV's `if isinstance(nmb_prototypes, list): self.prototypes = MultiPrototypes(...)
    elif nmb_prototypes > 0: self.prototypes = nn.Linear(...)`: the squiggle is on the branch
    that made the layer, not the first `self.prototypes =` in the source."""
    case.write("main.py", HEADS)
    _saved_by_the_scripts_classes(case, "SwAVHead(nmb_prototypes=100)")
    judged_like_pytorch(case, False, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    linear = lines.index("            self.prototypes = nn.Linear(dim, nmb_prototypes, bias=False)")
    assert _error_lines(case, False) == {"prototypes.weight": linear}


WN = """
import torch
import torch.nn as nn


class WN(nn.Module):
    def __init__(self, n_in, n_channels=8, n_layers=2):
        super().__init__()
        self.in_layers = nn.ModuleList()
        start = nn.Conv1d(n_in, n_channels, 1)
        start = nn.utils.weight_norm(start, name="weight")
        self.start = start
        cond_layer = nn.Conv1d(4, 2 * n_channels * n_layers, 1)
        self.cond_layer = nn.utils.weight_norm(cond_layer, name="weight")
        for i in range(n_layers):
            in_layer = nn.Conv1d(n_channels, 2 * n_channels, 3, padding=1)
            in_layer = nn.utils.weight_norm(in_layer, name="weight")
            self.in_layers.append(in_layer)
        # a value static inference does not model: the worker builds this model
        self.register_buffer("freqs", torch.outer(torch.arange(4.0), torch.arange(4.0)), persistent=False)


model = WN(2)
model.load_state_dict(torch.load("w.pt"))
"""


def test_a_layer_made_as_a_local_and_wrapped_is_on_its_constructors_line(case) -> None:
    """WaveGlow's `start = Conv1d(...); start = weight_norm(start); self.start = start` (and
    `self.cond_layer = weight_norm(cond_layer)`, `self.in_layers.append(in_layer)`): each layer is
    on the line of the `Conv1d(...)` that sized it, in a model the worker built."""
    case.write("main.py", WN)
    _saved_by_the_scripts_classes(case, "WN(2, n_channels=16)")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    start = lines.index("        start = nn.Conv1d(n_in, n_channels, 1)")
    cond = lines.index("        cond_layer = nn.Conv1d(4, 2 * n_channels * n_layers, 1)")
    in_layer = lines.index("            in_layer = nn.Conv1d(n_channels, 2 * n_channels, 3, padding=1)")
    found = _error_lines(case, True)
    assert {k.rsplit(".", 1)[0]: line for k, line in found.items()} == {
        "start": start, "cond_layer": cond, "in_layers.0": in_layer, "in_layers.1": in_layer}, found


SCHEDULE = """
import torch
import torch.nn as nn


class Diffusion(nn.Module):
    def __init__(self, timesteps=100):
        super().__init__()
        self.net = nn.Linear(4, 4)
        betas = torch.linspace(1e-4, 0.02, timesteps)
        register_buffer = lambda name, val: self.register_buffer(name, val.to(torch.float32))
        register_buffer("betas", betas)
        register_buffer("alphas_cumprod", torch.cumprod(1.0 - betas, dim=0))
        self.register_buffer("posterior", betas * 0.5)
        # a value static inference does not model: the worker builds this model
        self.register_buffer("freqs", torch.outer(torch.arange(4.0), torch.arange(4.0)), persistent=False)


model = Diffusion()
model.load_state_dict(torch.load("w.pt"))
"""


def test_a_buffer_registered_through_an_alias_is_on_its_own_line(case) -> None:
    """lucidrains' `register_buffer = lambda name, val: self.register_buffer(name, ...)`, then
    `register_buffer("betas", betas)`: a buffer whose size differs is on the line that
    registered it (not the model's), in a model the worker built."""
    case.write("main.py", SCHEDULE)
    _saved_by_the_scripts_classes(case, "Diffusion(250)")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    expected = {key: lines.index(text) for key, text in (
        ("betas", '        register_buffer("betas", betas)'),
        ("alphas_cumprod", '        register_buffer("alphas_cumprod", torch.cumprod(1.0 - betas, dim=0))'),
        ("posterior", '        self.register_buffer("posterior", betas * 0.5)'))}
    assert _error_lines(case, True) == expected


CONVOLUTION = """
import torch
import torch.nn as nn


class Convolution(nn.Sequential):
    def __init__(self, in_channels, out_channels, is_transposed=False):
        super().__init__()
        if is_transposed:
            conv = nn.ConvTranspose2d(in_channels, out_channels, 3, padding=1)
        else:
            conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.add_module("conv", conv)


class Net(nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.down = Convolution(1, 8)
        self.up = Convolution(8, out_channels, is_transposed=True)


model = Net(out_channels=3)
model.load_state_dict(torch.load("w.pt"))
"""


def test_a_local_made_on_one_of_two_branches_is_on_the_branch_that_ran(case) -> None:
    """MONAI's `Convolution`: `conv = ConvTranspose2d(...)` or `conv = Conv2d(...)` by a flag, then
    `self.add_module("conv", conv)`: the squiggle is on the branch that made it (the last binding
    before the `add_module` is the other one)."""
    case.write("main.py", CONVOLUTION)
    _saved_by_the_scripts_classes(case, "Net(out_channels=4)")
    judged_like_pytorch(case, False, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    transposed = lines.index("            conv = nn.ConvTranspose2d(in_channels, out_channels, 3, padding=1)")
    assert _error_lines(case, False) == {"up.conv.weight": transposed, "up.conv.bias": transposed}


HEAD = """
import torch
import torch.nn as nn


class DT(nn.Module):
    def __init__(self, hidden_size, act_dim, action_tanh=True):
        super().__init__()
        self.head = nn.Sequential(
            *([nn.Linear(hidden_size, act_dim)] + ([nn.Tanh()] if action_tanh else [])),
            nn.Linear(act_dim, act_dim),
        )


model = DT(16, 3)
model.load_state_dict(torch.load("w.pt"))
"""


def test_an_element_of_a_starred_list_sum_is_its_own_line(case) -> None:
    """The decision transformer's `nn.Sequential(*([nn.Linear(h, a)] + ([nn.Tanh()] if t else [])))`:
    the first element is written out, so it is reported on its own line; the one after the part
    whose length depends on the flag is reported on the container's line (the worker builds it:
    static inference does not add lists of modules)."""
    case.write("main.py", HEAD)
    _saved_by_the_scripts_classes(case, "DT(16, 6)")
    judged_like_pytorch(case, True, "mismatched")
    lines = (case.dir / "main.py").read_text().splitlines()
    first = lines.index("            *([nn.Linear(hidden_size, act_dim)] + ([nn.Tanh()] if action_tanh else [])),")
    container = lines.index("        self.head = nn.Sequential(")
    assert _error_lines(case, True) == {"head.0.weight": first, "head.0.bias": first,
                                         "head.2.weight": container, "head.2.bias": container}
