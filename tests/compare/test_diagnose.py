"""Cause recognition on realistic key sets: real torch models' state dicts, renamed and rewrapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from weightmatch.compare import compare
from weightmatch.diagnose import detect_prefix, detect_renames, find_nested_state_dict
from weightmatch.types import Opaque, StateDict, TensorInfo

# ---------------------------------------------------------------- models with real keys


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(c)


class ResNetLike(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.layer2 = nn.Sequential(Block(8), Block(8))
        self.fc = nn.Linear(8, classes)


class TransformerLike(nn.Module):
    def __init__(self, layers: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(16, 5)


class VGGLike(nn.Module):
    def __init__(self, extra: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU()]
        if extra:
            layers.insert(2, nn.BatchNorm2d(8))
        layers += [nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))


def infos(model: nn.Module, prefix: str = "") -> StateDict:
    with torch.device("meta"):
        sd = model.state_dict()
    out = StateDict((prefix + k, TensorInfo(tuple(v.shape), str(v.dtype)[6:])) for k, v in sd.items())
    out.metadata = None
    return out


def meta(cls, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return cls(*args, **kwargs)


@pytest.fixture(scope="module")
def resnet() -> StateDict:
    return infos(meta(ResNetLike))


@pytest.fixture(scope="module")
def transformer() -> StateDict:
    return infos(meta(TransformerLike))


# ---------------------------------------------------------------- detect_prefix


@pytest.mark.parametrize("saved_prefix, model_prefix, strip, add", [
    ("module.", "", "module.", ""),
    ("_orig_mod.", "", "_orig_mod.", ""),
    ("model.", "", "model.", ""),
    ("backbone.body.", "", "backbone.body.", ""),
    ("", "module.", "", "module."),
    ("", "net.", "", "net."),
    ("model.", "module.", "model.", "module."),
    ("_orig_mod.module.", "", "_orig_mod.module.", ""),
])
def test_prefix_found(resnet, transformer, saved_prefix, model_prefix, strip, add):
    for sd in (resnet, transformer):
        model = {model_prefix + k: v for k, v in sd.items()}
        saved = {saved_prefix + k: v for k, v in sd.items()}
        change = detect_prefix(model, saved)
        assert change is not None
        assert (change.strip, change.add) == (strip, add)
        assert change.matched == change.loads == len(sd)
        assert change.before == 0
        assert all(change.apply(k) in model for k in saved)


def test_prefix_with_a_new_head_counts_what_loads(resnet):
    model = dict(infos(meta(ResNetLike, classes=3)))
    saved = {"module." + k: v for k, v in resnet.items()}
    change = detect_prefix(model, saved)
    assert change and change.strip == "module."
    assert change.matched == len(model) and change.loads == len(model) - 2


def test_prefix_backbone_inside_bigger_model(resnet):
    # The model wraps the checkpoint's network as `backbone` and adds its own head.
    model = {"backbone." + k: v for k, v in resnet.items()}
    model |= {"head.weight": TensorInfo((2, 8)), "head.bias": TensorInfo((2,))}
    change = detect_prefix(list(model), list(resnet))
    assert change and change.add == "backbone." and change.strip == ""
    assert change.matched == len(resnet)


def test_prefix_with_key_lists_only(transformer):
    change = detect_prefix(list(transformer), ["module." + k for k in transformer])
    assert change and change.loads == change.matched == len(transformer)


@pytest.mark.parametrize("case", ["identical", "renamed-head", "other-arch", "few-prefixed", "empty"])
def test_prefix_not_claimed(resnet, transformer, case):
    model = dict(resnet)
    if case == "identical":
        saved = dict(resnet)
    elif case == "renamed-head":
        saved = {k.replace("fc.", "classifier."): v for k, v in resnet.items()}
    elif case == "other-arch":
        saved = dict(transformer)
    elif case == "few-prefixed":
        saved = {("extra." + k if k.startswith("layer2.1") else k): v for k, v in resnet.items()}
    else:
        saved = {}
    assert detect_prefix(model, saved) is None


def test_prefix_not_claimed_for_unrelated_same_depth_names():
    model = ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"]
    saved = ["a.encoder.x", "b.decoder.y", "c.weight", "d.bias"]
    assert detect_prefix(model, saved) is None


# ---------------------------------------------------------------- find_nested_state_dict


def test_nested_training_checkpoint(resnet):
    ckpt = StateDict(epoch=3, model_state_dict=resnet,
                     optimizer_state_dict=StateDict(state=StateDict(), param_groups=[{"lr": 0.1}]), loss=0.5)
    path, sd = find_nested_state_dict(ckpt, list(resnet))
    assert path == ("model_state_dict",) and sd is resnet


def test_nested_lightning_checkpoint_with_prefix(resnet):
    inner = StateDict(("model." + k, v) for k, v in resnet.items())
    ckpt = {"epoch": 1, "global_step": 10, "state_dict": inner, "optimizer_states": [{}],
            "hyper_parameters": {"lr": 0.1}, "callbacks": {"ModelCheckpoint": {"best": 0.1}}}
    path, sd = find_nested_state_dict(ckpt, resnet)
    assert path == ("state_dict",)
    change = detect_prefix(resnet, sd)
    assert change and change.strip == "model."


def test_nested_prefers_model_over_ema_and_exact_over_prefixed(resnet):
    prefixed = StateDict(("module." + k, v) for k, v in resnet.items())
    assert find_nested_state_dict({"ema": resnet, "model": resnet}, resnet)[0] == ("model",)
    assert find_nested_state_dict({"model": prefixed, "ema": resnet}, resnet)[0] == ("ema",)
    assert find_nested_state_dict({"model": resnet, "ema": resnet}, resnet)[0] == ("model",)


def test_nested_deeper_path(transformer):
    ckpt = {"meta": {"epoch": 2}, "weights": {"student": {"net": transformer}}, "args": Opaque("argparse.Namespace")}
    path, sd = find_nested_state_dict(ckpt, transformer)
    assert path == ("weights", "student", "net")


def test_nested_plain_dict_is_wrapped(resnet):
    path, sd = find_nested_state_dict({"model": dict(resnet), "epoch": 1}, resnet)
    assert isinstance(sd, StateDict) and sd.metadata is None and dict(sd) == dict(resnet)


@pytest.mark.parametrize("case", ["state-dict-itself", "unrelated", "not-mapping", "with-stray-dict"])
def test_nested_not_claimed(resnet, transformer, case):
    if case == "state-dict-itself":
        obj = resnet
    elif case == "unrelated":
        obj = {"epoch": 1, "model": transformer}
    elif case == "not-mapping":
        obj = [resnet]
    else:
        obj = StateDict(resnet)
        obj["config"] = {"fc.weight": 1}
    assert find_nested_state_dict(obj, resnet) is None


# ---------------------------------------------------------------- detect_renames


def diff(model: dict, saved: dict) -> tuple[dict, dict]:
    missing = {k: v for k, v in model.items() if k not in saved}
    unexpected = {k: v for k, v in saved.items() if k not in model}
    return missing, unexpected


def test_rename_of_a_head(resnet):
    saved = dict(resnet)
    model = {k.replace("fc.", "classifier."): v for k, v in resnet.items()}
    (r,) = detect_renames(*diff(model, saved))
    assert (r.old, r.new, r.kind) == ("fc", "classifier", "rename")
    assert r.keys == [("fc.weight", "classifier.weight"), ("fc.bias", "classifier.bias")]


def test_rename_of_a_container_coalesces(transformer):
    saved = dict(transformer)
    model = {k.replace("encoder.", "blocks.", 1): v for k, v in transformer.items()}
    renames = detect_renames(*diff(model, saved))
    assert [(r.old, r.new) for r in renames] == [("encoder", "blocks")]
    assert len(renames[0].keys) == sum(k.startswith("encoder.") for k in transformer)


def test_sequential_index_shift():
    saved = dict(infos(meta(VGGLike)))
    model = dict(infos(meta(VGGLike, extra=True)))  # a BatchNorm inserted at features.2
    missing, unexpected = diff(model, saved)
    # Without the size-mismatched keys, features.2 (conv → BatchNorm) cannot be seen.
    assert ("features.2", "features.3") not in [(r.old, r.new) for r in detect_renames(missing, unexpected)]
    mismatched = [(k, saved[k], model[k]) for k in saved if k in model and saved[k] != model[k]]
    renames = detect_renames(missing, unexpected, mismatched, saved_state=saved, model_state=model)
    missing, unexpected = model, saved
    pairs = [(r.old, r.new, r.kind) for r in renames]
    assert ("features.4", "features.5", "index-shift") in pairs
    assert ("features.6", "features.7", "index-shift") in pairs
    # features.2's BatchNorm is new; features.2's saved conv (8→8) became features.3.
    assert ("features.2", "features.3", "index-shift") in pairs
    for r in renames:
        for old, new in r.keys:
            assert unexpected[old] == missing[new]


def test_shift_with_identical_layers_is_resolved_by_one_offset():
    shape = {"weight": TensorInfo((4, 4)), "bias": TensorInfo((4,))}
    saved = {f"seq.{i}.{n}": v for i in (0, 2, 4, 6) for n, v in shape.items()}
    model = {f"seq.{i}.{n}": v for i in (0, 3, 5, 7) for n, v in shape.items()}
    renames = detect_renames(*diff(model, saved))
    assert [(r.old, r.new) for r in renames] == [("seq.2", "seq.3"), ("seq.4", "seq.5"), ("seq.6", "seq.7")]


@pytest.mark.parametrize("case", ["shape-changed", "ambiguous", "partial-module", "no-shift-fits"])
def test_rename_not_claimed(case):
    w = TensorInfo((10, 8))
    b = TensorInfo((10,))
    if case == "shape-changed":
        missing = {"classifier.weight": TensorInfo((3, 8)), "classifier.bias": TensorInfo((3,))}
        unexpected = {"fc.weight": w, "fc.bias": b}
    elif case == "ambiguous":
        missing = {"a.weight": w, "b.weight": w}
        unexpected = {"c.weight": w}
    elif case == "partial-module":
        missing = {"head.weight": w}
        unexpected = {"fc.weight": w, "fc.bias": b}
    else:
        missing = {"seq.3.weight": w, "seq.9.weight": w}
        unexpected = {"seq.1.weight": w, "seq.2.weight": w}
    assert detect_renames(missing, unexpected) == []


def test_renames_from_compare_output(resnet):
    """The analyzer's path: compare(), then renames over its missing/unexpected keys."""
    from weightmatch.types import ExpectedState, ModuleSpec

    model = meta(ResNetLike)
    model.classifier = model.fc
    del model.fc
    modules = {}
    for path, m in model.named_modules():
        modules[path] = ModuleSpec(
            path, type(m).__name__,
            params={n: TensorInfo(tuple(p.shape)) for n, p in m.named_parameters(recurse=False)},
            buffers={n: TensorInfo(tuple(b.shape), str(b.dtype)[6:]) for n, b in m.named_buffers(recurse=False)},
            children=list(m._modules))
    expected = ExpectedState(modules, "executed", "ResNetLike")
    got = compare(expected, resnet)
    keys = expected.keys()
    renames = detect_renames({k: keys[k] for k in got.missing}, {k: resnet[k] for k in got.unexpected})
    assert [(r.old, r.new) for r in renames] == [("fc", "classifier")]


def test_no_rename_when_only_a_buffer_is_missing(resnet):
    saved = dict(resnet)
    del saved["layer1.0.bn1.num_batches_tracked"]
    saved["layer2.1.conv2.weight"] = TensorInfo((8, 8, 5, 5))
    missing, unexpected = diff(dict(resnet), saved)
    mismatched = [("layer2.1.conv2.weight", saved["layer2.1.conv2.weight"], resnet["layer2.1.conv2.weight"])]
    assert detect_renames(missing, unexpected, mismatched, saved_state=saved, model_state=resnet) == []
