"""compare() against real PyTorch: random small models, mutated state dicts, real load_state_dict.

The model's side is production's one model -> expected-state function
(`worker.build.expected_state`, which tests/static/oracle.py uses too), so this also judges
it: modules with only get_extra_state or only set_extra_state, their own
`_load_from_state_dict`, and load pre/post hooks are among the random leaves. Where a module
loads its own way the engine must say so (`Comparison.inexact`) instead of predicting.
Models are built on the meta device, so neither side touches tensor data.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.parameter import is_lazy

from weightmatch.compare import EXTRA_STATE, compare
from weightmatch.types import ExpectedState, Opaque, StateDict, TensorInfo
from weightmatch.worker.build import expected_state

# BatchNorm's fix-up copies a CPU zero into a meta buffer: PyTorch warns, the outcome is ours to check.
pytestmark = pytest.mark.filterwarnings("ignore:for .*copying from a non-meta:UserWarning")

# ---------------------------------------------------------------- models


class Scalar(nn.Module):
    """A 0-dim parameter, a None parameter, buffers persistent and not, a None child."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.register_parameter("nothing", None)
        self.register_buffer("stat", torch.zeros(3))
        self.register_buffer("tmp", torch.zeros(2), persistent=False)
        self.register_buffer("unset", None)
        self.add_module("gone", None)


class WithExtra(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def get_extra_state(self):
        return {"step": 1}

    def set_extra_state(self, state) -> None:
        pass


class GetOnly(nn.Module):
    """state_dict() writes `_extra_state`; loading does not consult it, so it is unexpected."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def get_extra_state(self):
        return {"step": 1}


class SetOnly(nn.Module):
    """Loading wants `_extra_state`; state_dict() never writes it, so its own state is missing it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def set_extra_state(self, state) -> None:
        pass


class CustomLoad(nn.Module):
    """Its own _load_from_state_dict: reads an old key name. The engine cannot follow it."""

    loads_its_own_way = True

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(2))

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        if prefix + "old_w" in state_dict:
            state_dict[prefix + "w"] = state_dict.pop(prefix + "old_w")
        super()._load_from_state_dict(state_dict, prefix, *args)


def _drop_bias(module, state_dict, prefix, *args) -> None:
    state_dict.pop(prefix + "bias", None)


def _forgive_missing(module, incompatible) -> None:
    incompatible.missing_keys.clear()


def hooked(kind: str) -> nn.Module:
    """A Linear with a load pre-hook that drops its bias, or a post-hook that forgives missing keys."""
    lin = nn.Linear(2, 3)
    if kind == "pre":
        lin.register_load_state_dict_pre_hook(_drop_bias)
    else:
        lin.register_load_state_dict_post_hook(_forgive_missing)
    lin.loads_its_own_way = True
    return lin


class Named(nn.Module):
    """A plain container with attribute names."""

    def __init__(self, parts: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, part in parts.items():
            self.add_module(name, part)


@st.composite
def leaves(draw) -> nn.Module:
    kind = draw(st.sampled_from(
        ["linear", "conv", "bn", "bn1d", "ln", "emb", "lstm", "inorm", "lazy", "scalar", "extra", "relu",
         "get_only", "set_only", "custom_load", "pre_hook", "post_hook"]))
    b = draw(st.booleans())
    n = draw(st.integers(1, 4))
    if kind == "linear":
        return nn.Linear(n, draw(st.integers(1, 4)), bias=b)
    if kind == "conv":
        return nn.Conv2d(n, 2, 3, bias=b)
    if kind == "bn":
        return nn.BatchNorm2d(n, affine=draw(st.booleans()), track_running_stats=b)
    if kind == "bn1d":
        return nn.BatchNorm1d(n)
    if kind == "ln":
        return nn.LayerNorm(n, elementwise_affine=draw(st.booleans()), bias=b)
    if kind == "emb":
        return nn.Embedding(5, n)
    if kind == "lstm":
        return nn.LSTM(n, 2, num_layers=draw(st.integers(1, 2)), bias=b)
    if kind == "inorm":
        return nn.InstanceNorm1d(n, affine=draw(st.booleans()), track_running_stats=b)
    if kind == "lazy":
        return nn.LazyLinear(n, bias=b)
    if kind == "scalar":
        return Scalar()
    if kind == "extra":
        return WithExtra()
    if kind == "get_only":
        return GetOnly()
    if kind == "set_only":
        return SetOnly()
    if kind == "custom_load":
        return CustomLoad()
    if kind in ("pre_hook", "post_hook"):
        return hooked(kind.removesuffix("_hook"))
    return nn.ReLU()


def trees(depth: int = 2):
    if depth == 0:
        return leaves()
    kids = st.lists(st.one_of(leaves(), trees(depth - 1)), min_size=1, max_size=3)
    return st.one_of(
        leaves(),
        kids.map(lambda ms: nn.Sequential(*ms)),
        kids.map(nn.ModuleList),
        kids.map(lambda ms: Named({f"m{i}": m for i, m in enumerate(ms)})),
    )


@st.composite
def models(draw) -> nn.Module:
    with torch.device("meta"):
        parts = draw(st.lists(trees(), min_size=1, max_size=3))
        return Named({name: m for name, m in zip(["features", "fc", "head"], parts)})


# ---------------------------------------------------------------- model → ExpectedState


def info(t: torch.Tensor) -> TensorInfo:
    return TensorInfo(None if is_lazy(t) else tuple(t.shape), str(t.dtype).removeprefix("torch."))


expected_of = expected_state  # production's function, not a re-derivation


def loaded_keys(expected: ExpectedState) -> list[str]:
    """The keys load_state_dict looks for, in its order: state_dict()'s, with `_extra_state`
    where loading consults set_extra_state (which may differ from where state_dict() writes it)."""
    out: list[str] = []

    def walk(path: str) -> None:
        spec = expected.modules[path]
        prefix = path + "." if path else ""
        out.extend(prefix + n for n in (*spec.params, *spec.buffers))
        if spec.extra_state:
            out.append(prefix + EXTRA_STATE)
        for child in spec.children:
            if prefix + child in expected.modules:
                walk(prefix + child)

    walk("")
    return out


def loads_its_own_way(model: nn.Module) -> bool:
    return any(getattr(m, "loads_its_own_way", False) for m in model.modules())


def to_saved(sd) -> StateDict | dict:
    """The engine's view of a real state dict: TensorInfo for tensors, metadata kept."""

    def conv(v):
        if isinstance(v, torch.Tensor):
            return info(v)
        if isinstance(v, dict):
            out = StateDict((k, conv(x)) for k, x in v.items())
            out.ordered = isinstance(v, OrderedDict)
            return out
        return v

    out = StateDict((k, conv(v)) for k, v in sd.items())
    meta = getattr(sd, "_metadata", None)
    out.metadata = None if meta is None else {k: dict(v) for k, v in meta.items()}
    out.ordered = isinstance(sd, OrderedDict)
    return out


# ---------------------------------------------------------------- mutations


def meta_tensor(shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


@st.composite
def mutated(draw, model: nn.Module):
    sd = model.state_dict()
    items = [(k, v) for k, v in sd.items()]
    # A saved checkpoint never holds uninitialized tensors: give lazy ones a shape.
    items = [(k, meta_tensor(draw(st.sampled_from([(3, 2), (2,), (3,)])))
              if isinstance(v, torch.Tensor) and is_lazy(v) else v) for k, v in items]
    metadata = {k: dict(v) for k, v in sd._metadata.items()}
    keys = [k for k, _ in items]
    prefixes = sorted({k.rpartition(".")[0] for k in keys} | {""} | set(metadata))
    ops = draw(st.lists(st.sampled_from(
        ["drop", "add", "shape", "dtype", "nested", "int", "opaque", "one", "drop_nbt", "v1", "prefix",
         "strip", "ignored", "extra", "inorm_stats", "swap"]), min_size=1, max_size=4))
    for op in ops:
        if not items and op not in ("add", "ignored", "v1"):
            continue
        i = draw(st.integers(0, max(len(items) - 1, 0)))
        if op == "drop":
            del items[i]
        elif op == "add":
            p = draw(st.sampled_from(prefixes))
            name = draw(st.sampled_from(["weight", "bias", "foo", "0.weight", "x.y", "running_mean", "_extra_state"]))
            items.insert(i, ((p + "." if p else "") + name, meta_tensor((2,))))
        elif op in ("shape", "dtype", "nested", "int", "opaque", "one"):
            k, v = items[i]
            if op == "shape" and isinstance(v, torch.Tensor):
                v = meta_tensor(tuple(v.shape) + (2,) if draw(st.booleans()) or v.dim() == 0
                                else (v.shape[0] + 1, *v.shape[1:]))
            elif op == "dtype" and isinstance(v, torch.Tensor):
                v = meta_tensor(tuple(v.shape), draw(st.sampled_from([torch.float64, torch.int64, torch.float16])))
            elif op == "nested":
                v = {"inner": v}
            elif op == "int":
                v = 7
            elif op == "opaque":
                v = "text"
            elif op == "one":
                v = meta_tensor(draw(st.sampled_from([(1,), (0,), (3,), (1, 1), ()])))
            items[i] = (k, v)
        elif op == "drop_nbt":
            items = [(k, v) for k, v in items if not k.endswith("num_batches_tracked")]
        elif op == "v1":
            for k in list(metadata):
                if draw(st.booleans()):
                    if draw(st.booleans()):
                        metadata[k]["version"] = 1
                    else:
                        del metadata[k]
        elif op == "prefix":
            items = [("module." + k, v) for k, v in items]
            metadata = {("module." + k if k else "module"): v for k, v in metadata.items()}
        elif op == "strip":
            items = [(k.partition(".")[2] or k, v) for k, v in items]
        elif op == "ignored":
            items.append((draw(st.sampled_from(prefixes)).partition(".")[0] + ".gone.weight", meta_tensor((1,))))
        elif op == "extra":
            items = [(k, v) for k, v in items if not k.endswith("_extra_state")]
        elif op == "inorm_stats":
            items.append((draw(st.sampled_from(prefixes)) + ".running_mean", meta_tensor((2,))))
        elif op == "swap":
            j = draw(st.integers(0, len(items) - 1))
            items[i], items[j] = items[j], items[i]
    kind = draw(st.sampled_from(["ordered", "plain", "ordered-no-meta"]))
    out = OrderedDict(items) if kind != "plain" else dict(items)
    if kind == "ordered":
        out._metadata = metadata
    return out


# ---------------------------------------------------------------- the oracle

_SIZE = re.compile(r"size mismatch for (.*): copying a param with shape torch\.Size\(\[(.*)\]\) from checkpoint, "
                   r"the shape in current model is torch\.Size\(\[(.*)\]\)\.$")
_NOT_TENSOR = re.compile(r'While copying the parameter named "(.*)", expected torch\.Tensor or Tensor-like object '
                         r"from checkpoint but received (.*)$")


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(", ")) if text else ()


def run_torch(model: nn.Module, sd, strict: bool, assign: bool) -> dict:
    seen = {}

    def post_hook(module, incompatible):
        seen["missing"] = list(incompatible.missing_keys)
        seen["unexpected"] = list(incompatible.unexpected_keys)

    handle = model.register_load_state_dict_post_hook(post_hook)
    result = {"raises": False, "mismatched": [], "not_tensor": [], "other": [], "exception": None}
    try:
        model.load_state_dict(sd, strict=strict, assign=assign)
    except RuntimeError as e:
        result["raises"] = True
        for line in str(e).split("\n\t")[1:]:
            line = line.rstrip()
            if line.startswith(("Missing key(s)", "Unexpected key(s)")):
                continue
            if m := _SIZE.match(line):
                result["mismatched"].append((m[1], _shape(m[2]), _shape(m[3])))
            elif m := _NOT_TENSOR.match(line):
                result["not_tensor"].append((m[1], m[2]))
            else:
                result["other"].append(line)
    except Exception as e:  # raised straight out of a hook or the key scan
        result["raises"] = True
        result["exception"] = type(e).__name__
    finally:
        handle.remove()
    result.update(seen)
    return result


def check(model: nn.Module, sd, strict: bool, assign: bool = False):
    expected = expected_of(model)
    saved = to_saved(sd) if isinstance(sd, dict) else sd
    got = compare(expected, saved, strict=strict, assign=assign)
    truth = run_torch(model, sd, strict, assign)
    # the engine says when a module loads its own way, and only then
    assert bool(got.inexact) == loads_its_own_way(model), got.inexact
    if got.inexact:
        return got  # no prediction to judge: the engine reports the load as not exact
    assert got.raises == truth["raises"], (got, truth)
    if truth["exception"]:
        assert got.other_errors and got.other_errors[0].startswith(truth["exception"]), (got, truth)
        return
    assert got.missing == truth["missing"]
    assert got.unexpected == truth["unexpected"]
    assert [(k, s.shape, m.shape) for k, s, m in got.mismatched] == truth["mismatched"]
    assert got.not_tensor == truth["not_tensor"]
    assert len(got.other_errors) == len(truth["other"]), (got.other_errors, truth["other"])
    for ours, theirs in zip(got.other_errors, truth["other"]):
        assert ours == theirs
    # Rows account for every key of both sides, model keys first.
    model_keys = loaded_keys(expected)
    assert [r.key for r in got.rows][: len(model_keys)] == model_keys
    assert {r.key for r in got.rows} == set(model_keys) | set(sd)
    assert {r.key for r in got.rows if r.status == "missing"} == set(got.missing)
    return got


# ---------------------------------------------------------------- tests


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), strict=st.booleans(), assign=st.booleans())
def test_matches_pytorch_on_random_models(data, strict, assign):
    model = data.draw(models())
    sd = data.draw(mutated(model))
    got = check(model, sd, strict, assign)
    for name in ("missing", "unexpected", "mismatched", "not_tensor", "other_errors", "filled", "raises"):
        if got is not None and getattr(got, name):
            event(name)  # --hypothesis-show-statistics: how often each outcome is exercised


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), strict=st.booleans())
def test_own_state_dict_loads_back_as_pytorch_says(data, strict):
    """A model's real state_dict() loaded into it: fails exactly where PyTorch fails (get_extra_state
    without set_extra_state: unexpected `_extra_state`; the reverse: missing)."""
    model = data.draw(models())
    got = check(model, model.state_dict(), strict)
    if got is not None and not got.inexact:
        extras = {k for k in model.state_dict() if k.endswith(EXTRA_STATE)}
        event("raises" if got.raises else "loads")
        assert set(got.unexpected) == {k for k in extras if k not in loaded_keys(expected_of(model))}


@pytest.mark.parametrize("make, strict, raises", [
    (GetOnly, True, "Unexpected key(s) in state_dict: \"x._extra_state\""),
    (SetOnly, True, "Missing key(s) in state_dict: \"x._extra_state\""),
    (GetOnly, False, None), (SetOnly, False, None), (WithExtra, True, None)])
def test_extra_state_follows_what_loading_consults(make, strict, raises):
    with torch.device("meta"):
        model = Named({"x": make()})
    sd = model.state_dict()
    got = check(model, sd, strict)
    assert got.raises == (raises is not None)
    if raises:
        with pytest.raises(RuntimeError, match=re.escape(raises)):
            model.load_state_dict(sd, strict=strict)


def scalar_model() -> nn.Module:
    with torch.device("meta"):
        return Named({"s": Scalar(), "bn": nn.BatchNorm2d(2), "inorm": nn.InstanceNorm2d(2)})


@pytest.mark.parametrize("shape", [(1,), (0,), (3,), (1, 1), ()])
@pytest.mark.parametrize("strict", [True, False])
def test_zero_dim_parameter(shape, strict):
    model = scalar_model()
    sd = model.state_dict()
    sd["s.scale"] = meta_tensor(shape)
    check(model, sd, strict)


@pytest.mark.parametrize("kind", ["ordered", "plain", "v1", "v2", "partial"])
def test_num_batches_tracked_fixup(kind):
    model = scalar_model()
    sd = model.state_dict()
    del sd["bn.num_batches_tracked"]
    if kind == "plain":
        sd = dict(sd)
    elif kind == "v1":
        sd._metadata["bn"]["version"] = 1
    elif kind == "partial":
        del sd._metadata["bn"]
    check(model, sd, True)
    got = compare(expected_of(model), to_saved(sd))
    assert (got.filled == ["bn.num_batches_tracked"]) == (kind != "ordered" and kind != "v2")


def test_instance_norm_old_running_stats():
    model = scalar_model()
    sd = dict(model.state_dict())
    sd["inorm.running_mean"] = meta_tensor((2,))
    sd["inorm.running_var"] = meta_tensor((2,))
    check(model, sd, False)
    assert compare(expected_of(model), to_saved(sd), strict=False).raises


def test_key_under_none_child_is_silently_ignored():
    model = scalar_model()
    sd = model.state_dict()
    sd["s.gone.weight"] = meta_tensor((2,))
    sd["s.nothing"] = meta_tensor((2,))  # a None parameter: unexpected
    sd["s.tmp"] = meta_tensor((2,))  # a non-persistent buffer: unexpected
    check(model, sd, True)
    got = compare(expected_of(model), to_saved(sd))
    assert got.unexpected == ["s.nothing", "s.tmp"]
    assert {r.key: r.status for r in got.rows}["s.gone.weight"] == "ignored"


@pytest.mark.parametrize("value", [[1, 2], 3, None, Opaque("argparse.Namespace")])
def test_not_a_mapping(value):
    model = scalar_model()
    got = compare(expected_of(model), value, strict=False)
    assert got.raises and got.other_errors[0].startswith("TypeError: Expected state_dict to be dict-like")
    if not isinstance(value, Opaque):
        with pytest.raises(TypeError) as e:
            model.load_state_dict(value, strict=False)
        assert got.other_errors[0] == f"TypeError: {e.value}"
    else:
        assert got.other_errors[0].endswith("got <class 'argparse.Namespace'>.")


def test_non_tensor_descriptions():
    model = scalar_model()
    sd = model.state_dict()
    sd["s.stat"] = OrderedDict(a=1)
    sd["bn.weight"] = {"a": 1}
    sd["bn.bias"] = 3
    check(model, sd, False)
    got = compare(expected_of(model), {"s.scale": Opaque("argparse.Namespace")}, strict=False)
    assert got.not_tensor == [("s.scale", "<class 'argparse.Namespace'>")]


def test_non_string_key():
    model = scalar_model()
    sd = dict(model.state_dict())
    sd[3] = meta_tensor((1,))
    check(model, sd, False)


def test_lazy_module_materializes_and_rejects_non_tensors():
    with torch.device("meta"):
        model = Named({"lazy": nn.LazyLinear(3)})
    check(model, {"lazy.weight": meta_tensor((3, 5)), "lazy.bias": meta_tensor((3,))}, True)
    with torch.device("meta"):
        model = Named({"lazy": nn.LazyLinear(3)})
    check(model, {"lazy.weight": 4, "lazy.bias": meta_tensor((3,))}, True)


def test_assign_integer_into_parameter_errors():
    model = scalar_model()
    sd = model.state_dict()
    sd["s.scale"] = meta_tensor((), torch.int64)
    sd["s.stat"] = meta_tensor((3,), torch.int64)  # a buffer: fine
    check(model, sd, True, assign=True)
    # PyTorch left assign_to_params_buffers in sd._metadata: later loads assign too.
    assert sd._metadata["s"]["assign_to_params_buffers"] is True
    check(scalar_model(), sd, True, assign=False)
    sd = OrderedDict(sd)  # no metadata
    check(scalar_model(), sd, True, assign=False)


def test_rows_and_counts():
    model = scalar_model()
    sd = model.state_dict()
    sd["bn.weight"] = meta_tensor((5,))
    del sd["bn.bias"]
    sd["extra.weight"] = meta_tensor((1,))
    got = compare(expected_of(model), to_saved(sd), strict=False)
    status = {r.key: r.status for r in got.rows}
    assert status["bn.weight"] == "size-mismatch"
    assert status["bn.bias"] == "missing"
    assert status["extra.weight"] == "unexpected"
    assert status["s.scale"] == "ok"
    assert got.rows[-1].key == "extra.weight"
    assert got.loaded == len(expected_of(model).keys()) - 2
    assert got.raises  # strict=False does not stop a size mismatch


def test_custom_load_is_reported_inexact():
    exp = expected_of(scalar_model())
    exp.modules["bn"].custom_load = True
    assert compare(exp, {}).inexact == ["bn"]


@pytest.mark.parametrize("strict", [True, False])
def test_a_tensor_the_reader_could_not_describe_gets_no_verdict(strict):
    # issue 11.1: the reader's Opaque("torch.Tensor") (sparse, nested, unreadable size) is a tensor
    # whose shape is unknown, not "not a tensor"
    model = scalar_model()
    saved = to_saved(model.state_dict())
    saved["bn.weight"] = Opaque("torch.Tensor", "tensor with an unreadable size")
    got = compare(expected_of(model), saved, strict=strict)
    assert got.raises is None and got.unknown == ["bn.weight"] and got.not_tensor == []
    del saved["bn.bias"]  # a definite failure beside it still decides (with strict=True)
    assert compare(expected_of(model), saved, strict=strict).raises is (True if strict else None)
