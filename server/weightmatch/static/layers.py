"""The torch.nn layers the static builder knows exactly: signature, then the
parameters and buffers each registers, in PyTorch's order and with its shapes.

Everything here was read from torch/nn/modules (2.x) and is checked against real
torch by tests/static/test_layers.py.
"""

from __future__ import annotations

from typing import Any, Callable

from . import copying
from .values import Dtype, Module, Ref, StaticUnsupported, Tensor, Unknown

REQUIRED = object()
VAR = object()  # *args / **kwargs of RNN classes: handled by their builder

# name -> torch module that defines it (for the qualified type name)
_PARAM_FREE = {
    "activation": "CELU ELU GELU GLU Hardshrink Hardsigmoid Hardswish Hardtanh LeakyReLU LogSigmoid "
    "LogSoftmax Mish RReLU ReLU ReLU6 SELU SiLU Sigmoid Softmax Softmax2d Softmin Softplus Softshrink "
    "Softsign Tanh Tanhshrink Threshold",
    "dropout": "AlphaDropout Dropout Dropout1d Dropout2d Dropout3d FeatureAlphaDropout",
    "pooling": "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d "
    "AdaptiveMaxPool3d AvgPool1d AvgPool2d AvgPool3d FractionalMaxPool2d FractionalMaxPool3d LPPool1d "
    "LPPool2d LPPool3d MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d ConstantPad3d "
    "ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d "
    "ZeroPad1d ZeroPad2d ZeroPad3d",
    "flatten": "Flatten Unflatten",
    "linear": "Identity",
    "upsampling": "Upsample UpsamplingBilinear2d UpsamplingNearest2d",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "channelshuffle": "ChannelShuffle",
    "fold": "Fold Unfold",
    "distance": "CosineSimilarity PairwiseDistance",
    "normalization": "LocalResponseNorm CrossMapLRN2d",
}
PARAM_FREE = {n: f"torch.nn.modules.{m}.{n}" for m, names in _PARAM_FREE.items() for n in names.split()}


def _sig(text: str) -> list[tuple[str, Any, bool]]:
    """'a b c=1 *d=True' -> [(name, default, keyword_only)]; defaults are Python literals."""
    out = []
    for part in text.split():
        kwonly = part.startswith("*")
        part = part.lstrip("*")
        if "=" in part:
            name, default = part.split("=", 1)
            out.append((name, eval(default, {"__builtins__": {}}), kwonly))  # literals only, ours
        else:
            out.append((part, REQUIRED, kwonly))
    return out


_CONV = "in_channels out_channels kernel_size stride=1 padding=0 dilation=1 groups=1 bias=True padding_mode='zeros' device=None dtype=None"
_CONVT = "in_channels out_channels kernel_size stride=1 padding=0 output_padding=0 groups=1 bias=True dilation=1 padding_mode='zeros' device=None dtype=None"
_BN = "num_features eps=1e-05 momentum=0.1 affine=True track_running_stats=True device=None dtype=None *bias=True"
_IN = "num_features eps=1e-05 momentum=0.1 affine=False track_running_stats=False device=None dtype=None *bias=True"
_RNN_COMMON = "input_size hidden_size num_layers=1"
_TEL = "d_model nhead dim_feedforward=2048 dropout=0.1 activation=None layer_norm_eps=1e-05 batch_first=False norm_first=False bias=True device=None dtype=None"

SIGNATURES: dict[str, list[tuple[str, Any, bool]]] = {
    "Linear": _sig("in_features out_features bias=True device=None dtype=None"),
    "Bilinear": _sig("in1_features in2_features out_features bias=True device=None dtype=None"),
    "LazyLinear": _sig("out_features bias=True device=None dtype=None"),
    **{f"Conv{d}d": _sig(_CONV) for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _sig(_CONVT) for d in (1, 2, 3)},
    **{f"BatchNorm{d}d": _sig(_BN) for d in (1, 2, 3)},
    "SyncBatchNorm": _sig(_BN.replace("device=None", "process_group=None device=None")),
    **{f"InstanceNorm{d}d": _sig(_IN) for d in (1, 2, 3)},
    "LayerNorm": _sig("normalized_shape eps=1e-05 elementwise_affine=True bias=True device=None dtype=None"),
    "GroupNorm": _sig("num_groups num_channels eps=1e-05 affine=True device=None dtype=None *bias=True"),
    "RMSNorm": _sig("normalized_shape eps=None elementwise_affine=True device=None dtype=None"),
    "Embedding": _sig("num_embeddings embedding_dim padding_idx=None max_norm=None norm_type=2.0 "
                      "scale_grad_by_freq=False sparse=False _weight=None _freeze=False device=None dtype=None"),
    "EmbeddingBag": _sig("num_embeddings embedding_dim max_norm=None norm_type=2.0 scale_grad_by_freq=False "
                         "mode='mean' sparse=False _weight=None include_last_offset=False padding_idx=None "
                         "device=None dtype=None"),
    "LSTM": _sig(_RNN_COMMON + " bias=True batch_first=False dropout=0.0 bidirectional=False proj_size=0 device=None dtype=None"),
    "GRU": _sig(_RNN_COMMON + " bias=True batch_first=False dropout=0.0 bidirectional=False device=None dtype=None"),
    "RNN": _sig(_RNN_COMMON + " nonlinearity='tanh' bias=True batch_first=False dropout=0.0 bidirectional=False device=None dtype=None"),
    "LSTMCell": _sig("input_size hidden_size bias=True device=None dtype=None"),
    "GRUCell": _sig("input_size hidden_size bias=True device=None dtype=None"),
    "RNNCell": _sig("input_size hidden_size bias=True nonlinearity='tanh' device=None dtype=None"),
    "MultiheadAttention": _sig("embed_dim num_heads dropout=0.0 bias=True add_bias_kv=False add_zero_attn=False "
                               "kdim=None vdim=None batch_first=False device=None dtype=None"),
    "TransformerEncoderLayer": _sig(_TEL),
    "TransformerDecoderLayer": _sig(_TEL),
    "TransformerEncoder": _sig("encoder_layer num_layers norm=None enable_nested_tensor=True mask_check=True"),
    "TransformerDecoder": _sig("decoder_layer num_layers norm=None"),
    "PReLU": _sig("num_parameters=1 init=0.25 device=None dtype=None"),
}

TYPES = {
    **{n: f"torch.nn.modules.linear.{n}" for n in ("Linear", "Bilinear", "LazyLinear")},
    **{n: f"torch.nn.modules.conv.{n}" for n in SIGNATURES if n.startswith("Conv")},
    **{n: f"torch.nn.modules.batchnorm.{n}" for n in SIGNATURES if n.startswith(("BatchNorm", "SyncBatchNorm"))},
    **{n: f"torch.nn.modules.instancenorm.{n}" for n in SIGNATURES if n.startswith("InstanceNorm")},
    **{n: f"torch.nn.modules.normalization.{n}" for n in ("LayerNorm", "GroupNorm", "RMSNorm")},
    **{n: f"torch.nn.modules.sparse.{n}" for n in ("Embedding", "EmbeddingBag")},
    **{n: f"torch.nn.modules.rnn.{n}" for n in ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell")},
    **{n: f"torch.nn.modules.activation.{n}" for n in ("MultiheadAttention", "PReLU")},
    **{n: f"torch.nn.modules.transformer.{n}" for n in SIGNATURES if n.startswith("Transformer")},
}
CONTAINERS = {
    "Sequential": "sequential", "ModuleList": "modulelist", "ModuleDict": "moduledict",
    "ParameterList": "parameterlist", "ParameterDict": "parameterdict",
}
KNOWN_LAYERS = set(SIGNATURES) | set(PARAM_FREE) | set(CONTAINERS)


def new_module(name: str) -> Module:
    if name in CONTAINERS:
        return Module(f"torch.nn.modules.container.{name}", name, kind=CONTAINERS[name])
    return Module(TYPES.get(name) or PARAM_FREE[name], name)


def bind(name: str, sig: list[tuple[str, Any, bool]], args: list, kwargs: dict) -> dict[str, Any]:
    """Bind call arguments to a signature as Python would, or raise like Python would."""
    out: dict[str, Any] = {}
    positional = [p for p in sig if not p[2]]
    if len(args) > len(positional):
        raise StaticUnsupported(f"`nn.{name}` takes at most {len(positional)} positional arguments, got {len(args)}")
    for (pname, _, _), value in zip(positional, args):
        out[pname] = value
    names = {p[0] for p in sig}
    for key, value in kwargs.items():
        if key not in names:
            raise StaticUnsupported(f"`nn.{name}` has no argument `{key}`")
        if key in out:
            raise StaticUnsupported(f"`nn.{name}` got `{key}` twice")
        out[key] = value
    for pname, default, _ in sig:
        if pname not in out:
            if default is REQUIRED:
                raise StaticUnsupported(f"`nn.{name}` is missing the argument `{pname}`")
            out[pname] = default
    return out


def _int(a: dict, key: str, layer: str) -> int:
    v = a[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise StaticUnsupported(_why(v, f"`nn.{layer}` argument `{key}`"))
    if v < 0:
        raise StaticUnsupported(f"`nn.{layer}` argument `{key}` is negative ({v})")
    return v


def _bool(a: dict, key: str, layer: str) -> bool:
    v = a[key]
    if isinstance(v, Unknown) or not isinstance(v, (bool, int, type(None), str, float)):
        raise StaticUnsupported(_why(v, f"`nn.{layer}` argument `{key}`"))
    return bool(v)


def _why(value: Any, what: str) -> str:
    if isinstance(value, Unknown):
        return f"{what} is not known statically: {value.reason}"
    return f"{what} is not a known integer ({type(value).__name__})"


def _dtype(a: dict, layer: str) -> str:
    v = a.get("dtype")
    if v is None:
        return "float32"
    if isinstance(v, Dtype):
        return v.name
    raise StaticUnsupported(_why(v, f"`nn.{layer}` argument `dtype`"))


def _tuple(a: dict, key: str, layer: str, n: int) -> tuple[int, ...]:
    """torch's _single/_pair/_triple: an int is repeated, an iterable is taken as is."""
    v = a[key]
    if isinstance(v, (tuple, list)):
        items = tuple(v)
    else:
        items = (v,) * n
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise StaticUnsupported(_why(item, f"`nn.{layer}` argument `{key}`"))
    return items


def _build_linear(m: Module, a: dict) -> None:
    i, o, dt = _int(a, "in_features", m.name), _int(a, "out_features", m.name), _dtype(a, m.name)
    m.attrs.update(in_features=i, out_features=o)
    m.params["weight"] = Tensor((o, i), dt, True)
    m.params["bias"] = Tensor((o,), dt, True) if _bool(a, "bias", m.name) else None


def _build_bilinear(m: Module, a: dict) -> None:
    i1, i2, o = (_int(a, k, m.name) for k in ("in1_features", "in2_features", "out_features"))
    dt = _dtype(a, m.name)
    m.attrs.update(in1_features=i1, in2_features=i2, out_features=o)
    m.params["weight"] = Tensor((o, i1, i2), dt, True)
    m.params["bias"] = Tensor((o,), dt, True) if _bool(a, "bias", m.name) else None


def _build_lazy_linear(m: Module, a: dict) -> None:
    o, dt = _int(a, "out_features", m.name), _dtype(a, m.name)
    m.attrs.update(in_features=0, out_features=o)
    m.params["weight"] = Tensor(None, dt, True)
    m.params["bias"] = Tensor(None, dt, True) if _bool(a, "bias", m.name) else None


def _build_conv(m: Module, a: dict) -> None:
    n = int(m.name[-2])
    transposed = m.name.startswith("ConvTranspose")
    i, o, g = _int(a, "in_channels", m.name), _int(a, "out_channels", m.name), a["groups"]
    k = _tuple(a, "kernel_size", m.name, n)
    dt = _dtype(a, m.name)
    if isinstance(g, bool) or not isinstance(g, int):
        raise StaticUnsupported(_why(g, f"`nn.{m.name}` argument `groups`"))
    if g <= 0 or i % g or o % g:
        raise StaticUnsupported(f"`nn.{m.name}({i}, {o}, groups={g})` raises: channels must be divisible by groups")
    padding, mode = a["padding"], a["padding_mode"]
    if isinstance(padding, str) and (transposed or padding not in ("same", "valid")):
        raise StaticUnsupported(f"`nn.{m.name}` raises for padding={padding!r}")
    if isinstance(padding, str) and padding == "same":
        stride = _tuple(a, "stride", m.name, n)
        if any(s != 1 for s in stride):
            raise StaticUnsupported(f"`nn.{m.name}` raises for padding='same' with stride != 1")
    if not isinstance(mode, str) or mode not in ("zeros", "reflect", "replicate", "circular") or (transposed and mode != "zeros"):
        raise StaticUnsupported(f"`nn.{m.name}` argument `padding_mode` is not a valid known value")
    m.attrs.update(in_channels=i, out_channels=o, kernel_size=k, groups=g)
    shape = (i, o // g, *k) if transposed else (o, i // g, *k)
    m.params["weight"] = Tensor(shape, dt, True)
    m.params["bias"] = Tensor((o,), dt, True) if _bool(a, "bias", m.name) else None


def _build_norm(m: Module, a: dict) -> None:
    """_NormBase: BatchNorm*, SyncBatchNorm, InstanceNorm*."""
    c, dt = _int(a, "num_features", m.name), _dtype(a, m.name)
    affine, track = _bool(a, "affine", m.name), _bool(a, "track_running_stats", m.name)
    m.attrs.update(num_features=c, affine=affine, track_running_stats=track)
    m.version = 2
    if affine:
        m.params["weight"] = Tensor((c,), dt, True)
        m.params["bias"] = Tensor((c,), dt, True) if _bool(a, "bias", m.name) else None
    else:
        m.params["weight"] = m.params["bias"] = None
    if track:
        m.buffers["running_mean"] = Tensor((c,), dt)
        m.buffers["running_var"] = Tensor((c,), dt)
        m.buffers["num_batches_tracked"] = Tensor((), "int64")
    else:
        m.buffers["running_mean"] = m.buffers["running_var"] = m.buffers["num_batches_tracked"] = None
    # _NormBase._load_from_state_dict fills num_batches_tracked in for old checkpoints
    # (InstanceNorm* inherit it through super()); see ModuleSpec.norm_fixup.
    m.norm_fixup = track


def _normalized_shape(a: dict, layer: str) -> tuple[int, ...]:
    v = a["normalized_shape"]
    items = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise StaticUnsupported(_why(item, f"`nn.{layer}` argument `normalized_shape`"))
    return items


def _build_layer_norm(m: Module, a: dict) -> None:
    shape, dt = _normalized_shape(a, m.name), _dtype(a, m.name)
    m.attrs.update(normalized_shape=shape)
    if _bool(a, "elementwise_affine", m.name):
        m.params["weight"] = Tensor(shape, dt, True)
        m.params["bias"] = Tensor(shape, dt, True) if _bool(a, "bias", m.name) else None
    else:
        m.params["weight"] = m.params["bias"] = None


def _build_rms_norm(m: Module, a: dict) -> None:
    shape, dt = _normalized_shape(a, m.name), _dtype(a, m.name)
    m.attrs.update(normalized_shape=shape)
    m.params["weight"] = Tensor(shape, dt, True) if _bool(a, "elementwise_affine", m.name) else None


def _build_group_norm(m: Module, a: dict) -> None:
    g, c, dt = _int(a, "num_groups", m.name), _int(a, "num_channels", m.name), _dtype(a, m.name)
    if g == 0 or c % g:
        raise StaticUnsupported(f"`nn.GroupNorm({g}, {c})` raises: num_channels must be divisible by num_groups")
    m.attrs.update(num_groups=g, num_channels=c)
    if _bool(a, "affine", m.name):
        m.params["weight"] = Tensor((c,), dt, True)
        m.params["bias"] = Tensor((c,), dt, True) if _bool(a, "bias", m.name) else None
    else:
        m.params["weight"] = m.params["bias"] = None


def _build_embedding(m: Module, a: dict) -> None:
    n, d, dt = _int(a, "num_embeddings", m.name), _int(a, "embedding_dim", m.name), _dtype(a, m.name)
    pad = a["padding_idx"]
    if pad is not None:
        if isinstance(pad, bool) or not isinstance(pad, int):
            raise StaticUnsupported(_why(pad, f"`nn.{m.name}` argument `padding_idx`"))
        if not -n <= pad < n:
            raise StaticUnsupported(f"`nn.{m.name}` raises: padding_idx {pad} is out of range")
    w = a["_weight"]
    if w is not None:
        if not isinstance(w, Tensor) or w.shape != (n, d):
            raise StaticUnsupported(f"`nn.{m.name}(_weight=...)`: the weight's shape is not known to match")
    m.attrs.update(num_embeddings=n, embedding_dim=d)
    m.params["weight"] = Tensor((n, d), dt, True)


def _build_prelu(m: Module, a: dict) -> None:
    n = _int(a, "num_parameters", m.name)
    m.attrs.update(num_parameters=n)
    m.params["weight"] = Tensor((n,), _dtype(a, m.name), True)


def _build_rnn(m: Module, a: dict) -> None:
    name = m.name
    i, h, layers = _int(a, "input_size", name), _int(a, "hidden_size", name), _int(a, "num_layers", name)
    bias, bidir = a["bias"], _bool(a, "bidirectional", name)
    proj = _int(a, "proj_size", name) if name == "LSTM" else 0
    dt = _dtype(a, name)
    if not isinstance(bias, bool):
        raise StaticUnsupported(f"`nn.{name}` argument `bias` is not a known bool")
    if name == "RNN" and a["nonlinearity"] not in ("tanh", "relu"):
        raise StaticUnsupported("`nn.RNN` argument `nonlinearity` is not 'tanh' or 'relu'")
    if i <= 0 or h <= 0 or layers <= 0 or proj >= h:
        raise StaticUnsupported(f"`nn.{name}` raises for these sizes")
    gate = {"LSTM": 4, "GRU": 3, "RNN": 1}[name] * h
    dirs = 2 if bidir else 1
    real_h = proj if proj > 0 else h
    m.attrs.update(input_size=i, hidden_size=h, num_layers=layers, bidirectional=bidir, proj_size=proj)
    for layer in range(layers):
        for direction in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            layer_in = i if layer == 0 else real_h * dirs
            m.params["weight_ih" + sfx] = Tensor((gate, layer_in), dt, True)
            m.params["weight_hh" + sfx] = Tensor((gate, real_h), dt, True)
            if bias:
                m.params["bias_ih" + sfx] = Tensor((gate,), dt, True)
                m.params["bias_hh" + sfx] = Tensor((gate,), dt, True)
            if proj > 0:
                m.params["weight_hr" + sfx] = Tensor((proj, h), dt, True)


def _build_cell(m: Module, a: dict) -> None:
    i, h, dt = _int(a, "input_size", m.name), _int(a, "hidden_size", m.name), _dtype(a, m.name)
    chunks = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[m.name]
    m.attrs.update(input_size=i, hidden_size=h)
    m.params["weight_ih"] = Tensor((chunks * h, i), dt, True)
    m.params["weight_hh"] = Tensor((chunks * h, h), dt, True)
    if _bool(a, "bias", m.name):
        m.params["bias_ih"] = Tensor((chunks * h,), dt, True)
        m.params["bias_hh"] = Tensor((chunks * h,), dt, True)
    else:
        m.params["bias_ih"] = m.params["bias_hh"] = None


def _build_mha(m: Module, a: dict) -> None:
    e, heads, dt = _int(a, "embed_dim", m.name), _int(a, "num_heads", m.name), _dtype(a, m.name)
    kdim = e if a["kdim"] is None else _int(a, "kdim", m.name)
    vdim = e if a["vdim"] is None else _int(a, "vdim", m.name)
    if e <= 0 or heads <= 0 or e % heads:
        raise StaticUnsupported(f"`nn.MultiheadAttention({e}, {heads})` raises: embed_dim must be divisible by num_heads")
    bias = _bool(a, "bias", m.name)
    m.attrs.update(embed_dim=e, num_heads=heads, kdim=kdim, vdim=vdim)
    if kdim == e and vdim == e:
        m.params["in_proj_weight"] = Tensor((3 * e, e), dt, True)
        m.params["q_proj_weight"] = m.params["k_proj_weight"] = m.params["v_proj_weight"] = None
    else:
        m.params["q_proj_weight"] = Tensor((e, e), dt, True)
        m.params["k_proj_weight"] = Tensor((e, kdim), dt, True)
        m.params["v_proj_weight"] = Tensor((e, vdim), dt, True)
        m.params["in_proj_weight"] = None
    m.params["in_proj_bias"] = Tensor((3 * e,), dt, True) if bias else None
    out = Module("torch.nn.modules.linear.NonDynamicallyQuantizableLinear", "NonDynamicallyQuantizableLinear")
    _build_linear(out, {"in_features": e, "out_features": e, "bias": bias, "dtype": a.get("dtype")})
    m.modules["out_proj"] = out
    if _bool(a, "add_bias_kv", m.name):
        m.params["bias_k"] = Tensor((1, 1, e), dt, True)
        m.params["bias_v"] = Tensor((1, 1, e), dt, True)


def _build_transformer_layer(m: Module, a: dict) -> None:
    d, heads, ff = _int(a, "d_model", m.name), _int(a, "nhead", m.name), _int(a, "dim_feedforward", m.name)
    bias, dtype = a["bias"], a.get("dtype")
    act = a["activation"]
    decoder = m.name == "TransformerDecoderLayer"

    def child(name: str, **kw: Any) -> Module:
        sub = new_module(name)
        BUILDERS[name](sub, bind(name, SIGNATURES[name], [], {**kw, "dtype": dtype}) if name in SIGNATURES else kw)
        return sub

    m.attrs.update(d_model=d, nhead=heads)
    m.modules["self_attn"] = child("MultiheadAttention", embed_dim=d, num_heads=heads, bias=bias)
    if decoder:
        m.modules["multihead_attn"] = child("MultiheadAttention", embed_dim=d, num_heads=heads, bias=bias)
    m.modules["linear1"] = child("Linear", in_features=d, out_features=ff, bias=bias)
    m.modules["dropout"] = new_module("Dropout")
    m.modules["linear2"] = child("Linear", in_features=ff, out_features=d, bias=bias)
    for k in range(1, 4 if decoder else 3):
        m.modules[f"norm{k}"] = child("LayerNorm", normalized_shape=d, bias=bias)
    for k in range(1, 4 if decoder else 3):
        m.modules[f"dropout{k}"] = new_module("Dropout")
    # a module passed as activation becomes a child; a string or function does not
    if isinstance(act, Module):
        m.modules["activation"] = act
    elif not (act is None or act in ("relu", "gelu") or (isinstance(act, Ref) and act.name.startswith("torch.nn.functional."))):
        raise StaticUnsupported(f"`nn.{m.name}` argument `activation` is not known statically")


def _build_transformer_stack(m: Module, a: dict) -> None:
    layer = a["encoder_layer" if m.name == "TransformerEncoder" else "decoder_layer"]
    n, norm = _int(a, "num_layers", m.name), a["norm"]
    if not isinstance(layer, Module):
        raise StaticUnsupported(f"`nn.{m.name}`: the layer argument is not a known module")
    if norm is not None and not isinstance(norm, Module):
        raise StaticUnsupported(f"`nn.{m.name}` argument `norm` is not a known module")
    layers = new_module("ModuleList")
    for i in range(n):  # PyTorch's _get_clones: copy.deepcopy of the layer, n times
        layers.modules[str(i)] = copying.deepcopy(layer)
    m.attrs.update(num_layers=n)
    m.modules["layers"] = layers
    if norm is not None:  # `self.norm = None` on a fresh module is a plain attribute
        m.modules["norm"] = norm


BUILDERS: dict[str, Callable[[Module, dict], None]] = {
    "Linear": _build_linear,
    "Bilinear": _build_bilinear,
    "LazyLinear": _build_lazy_linear,
    "LayerNorm": _build_layer_norm,
    "RMSNorm": _build_rms_norm,
    "GroupNorm": _build_group_norm,
    "Embedding": _build_embedding,
    "EmbeddingBag": _build_embedding,
    "PReLU": _build_prelu,
    "LSTM": _build_rnn, "GRU": _build_rnn, "RNN": _build_rnn,
    "LSTMCell": _build_cell, "GRUCell": _build_cell, "RNNCell": _build_cell,
    "MultiheadAttention": _build_mha,
    "TransformerEncoderLayer": _build_transformer_layer,
    "TransformerDecoderLayer": _build_transformer_layer,
    "TransformerEncoder": _build_transformer_stack,
    "TransformerDecoder": _build_transformer_stack,
    **{n: _build_conv for n in SIGNATURES if n.startswith("Conv")},
    **{n: _build_norm for n in SIGNATURES if "Norm" in n and n[:-2] in ("BatchNorm", "InstanceNorm")},
    "SyncBatchNorm": _build_norm,
}


def build_layer(name: str, args: list, kwargs: dict) -> Module:
    """A torch layer with parameters, from evaluated call arguments."""
    m = new_module(name)
    if name in PARAM_FREE:
        return m  # registers nothing whatever its arguments
    BUILDERS[name](m, bind(name, SIGNATURES[name], args, kwargs))
    return m
