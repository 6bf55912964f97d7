"""Every supported torch layer, over generated constructor arguments: the static
state equals what real torch builds (keys, order, shapes, dtypes, versions, fix-up)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import HEADER, assert_same
from weightmatch.static.layers import PARAM_FREE

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
size = st.integers(1, 6)
flag = st.booleans()
dtype = st.sampled_from([None, "torch.float16", "torch.float64"])


def check(expr: str) -> None:
    assert_same(HEADER, expr.replace(", , ", ", ").replace(", )", ")").replace("(, ", "("))


def kw(**items: object) -> str:
    return ", ".join(f"{k}={v}" for k, v in items.items() if v is not None)


@SETTINGS
@given(size, size, flag, dtype)
def test_linear(i, o, bias, dt):
    check(f"nn.Linear({i}, {o}, {kw(bias=bias, dtype=dt)})")


@SETTINGS
@given(size, size, size, flag)
def test_bilinear(a, b, o, bias):
    check(f"nn.Bilinear({a}, {b}, out_features={o}, bias={bias})")


@SETTINGS
@given(size, flag)
def test_lazy_linear(o, bias):
    check(f"nn.LazyLinear({o}, bias={bias})")


@SETTINGS
@given(st.sampled_from([1, 2, 3]), st.sampled_from([False, True]), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), flag, st.data())
def test_conv(dims, transposed, g, i, o, bias, data):
    kind = "ConvTranspose" if transposed else "Conv"
    kernel = data.draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * dims)))
    check(f"nn.{kind}{dims}d({i * g}, {o * g}, {kernel}, groups={g}, bias={bias})")


@SETTINGS
@given(st.sampled_from(["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d",
                        "InstanceNorm2d", "InstanceNorm3d"]), size, st.sampled_from([None, True, False]),
       st.sampled_from([None, True, False]), flag)
def test_norms(name, c, affine, track, bias):
    check(f"nn.{name}({c}, {kw(affine=affine, track_running_stats=track)}, bias={bias})")


@SETTINGS
@given(st.one_of(size, st.lists(size, min_size=1, max_size=3)), flag, flag)
def test_layer_norm(shape, affine, bias):
    check(f"nn.LayerNorm({shape}, elementwise_affine={affine}, bias={bias})")
    check(f"nn.RMSNorm({shape}, elementwise_affine={affine})")


@SETTINGS
@given(size, size, flag)
def test_group_norm(g, k, affine):
    check(f"nn.GroupNorm({g}, {g * k}, affine={affine})")


@SETTINGS
@given(size, size, st.sampled_from(["Embedding", "EmbeddingBag"]))
def test_embedding(n, d, name):
    check(f"nn.{name}({n}, {d}, padding_idx={n - 1})")


@SETTINGS
@given(st.sampled_from(["LSTM", "GRU", "RNN"]), size, st.integers(2, 6), st.integers(1, 3), flag, flag, st.data())
def test_rnn(name, i, h, layers, bias, bidir, data):
    extra = ""
    if name == "LSTM":
        extra = f", proj_size={data.draw(st.integers(0, h - 1))}"
    if name == "RNN":
        extra = f", nonlinearity={data.draw(st.sampled_from(['tanh', 'relu']))!r}"
    check(f"nn.{name}({i}, {h}, num_layers={layers}, bias={bias}, bidirectional={bidir}{extra})")


@SETTINGS
@given(st.sampled_from(["LSTMCell", "GRUCell", "RNNCell"]), size, size, flag)
def test_cells(name, i, h, bias):
    check(f"nn.{name}({i}, {h}, bias={bias})")


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), flag, flag, st.sampled_from([None, 2, 3]), st.sampled_from([None, 2, 3]))
def test_multihead_attention(heads, per_head, bias, bias_kv, kdim, vdim):
    check(f"nn.MultiheadAttention({heads * per_head}, {heads}, {kw(bias=bias, add_bias_kv=bias_kv, kdim=kdim, vdim=vdim)})")


@SETTINGS
@given(st.integers(1, 2), st.integers(1, 3), size, flag,
       st.sampled_from([None, "'gelu'", "F.gelu", "nn.GELU()"]), st.sampled_from(["Encoder", "Decoder"]))
def test_transformer_layers(heads, per_head, ff, bias, act, kind):
    d = heads * per_head
    check(f"nn.Transformer{kind}Layer({d}, {heads}, dim_feedforward={ff}, {kw(bias=bias, activation=act)})")


@SETTINGS
@given(st.integers(1, 3), flag)
def test_transformer_encoder(n, norm):
    norm_arg = ", norm=nn.LayerNorm(4)" if norm else ""
    check(f"nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), {n}{norm_arg}, enable_nested_tensor=False)")


@SETTINGS
@given(size)
def test_prelu(n):
    check(f"nn.PReLU({n})")


@pytest.mark.parametrize("name", sorted(PARAM_FREE))
def test_parameter_free(name):
    args = {"Unflatten": "1, (2, 2)", "ConstantPad1d": "1, 0.0", "ConstantPad2d": "1, 0.0", "ConstantPad3d": "1, 0.0",
            "Fold": "4, 2", "Unfold": "2", "FractionalMaxPool2d": "2, output_size=2",
            "FractionalMaxPool3d": "2, output_size=2", "LocalResponseNorm": "2", "CrossMapLRN2d": "3",
            "ChannelShuffle": "2", "PixelShuffle": "2", "PixelUnshuffle": "2", "Threshold": "0.1, 0.0",
            "Upsample": "scale_factor=2"}.get(name)
    if args is None:
        args = "2" if any(p in name for p in ("Pool", "Pad", "Unpool")) else ""
    if name.startswith("LPPool"):
        args = "2, 2"
    check(f"nn.{name}({args})")


def test_containers():
    check("nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))")
    check("nn.Sequential(OrderedDict([('fc', nn.Linear(4, 8)), ('act', nn.ReLU()), ('out', nn.Linear(8, 2))]))")
    check("nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])")
    check("nn.ModuleDict({'a': nn.Linear(2, 3), 'b': nn.Conv2d(1, 2, 3)})")
    check("nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), torch.ones(4)])")
    check("nn.ParameterDict({'a': nn.Parameter(torch.zeros(2)), 'b': torch.ones(3, dtype=torch.float64)})")
