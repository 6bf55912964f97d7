"""`safetensors.torch.load_model(model, filename, strict=True)` as safetensors runs it: the
file is read with `load_file`, loaded with `model.load_state_dict(sd, strict=False)` (a size
mismatch raises there, listing only mismatches), and then missing or unexpected keys raise
when `strict`, except a missing key that shares memory with a loaded one (tied weights, which
`save_model` writes once). Which parameters share memory is not known from the model's shapes:
a missing key that could be such a twin (the shape and dtype of a key the file fills) gets no
verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weightmatch.compare import Comparison, compare
from weightmatch.types import ExpectedState, KeyRow

LOAD_MODEL = {"safetensors.torch.load_model"}


def outcome(expected: ExpectedState, saved: Mapping | object, strict: bool | None, assign: bool) -> Comparison:
    first = compare(expected, saved, strict=False, assign=assign)
    if first.raises is not False or strict is False:
        return first  # raised inside load_state_dict (or not strict: its result is returned)
    out = compare(expected, saved, strict=True, assign=assign)
    infos = expected.keys()
    filled = {(info.shape, info.dtype) for k, info in infos.items() if isinstance(saved, Mapping) and k in saved}
    twins = [k for k in out.missing if k in infos and (infos[k].shape, infos[k].dtype) in filled]
    if twins:
        out.missing = [k for k in out.missing if k not in twins]
        out.unknown.extend(twins)
        out.twins = twins
        out.rows = [KeyRow(r.key, r.saved, r.current, "unknown") if r.key in twins else r for r in out.rows]
    definite = bool(out.mismatched or out.not_tensor or out.other_errors or out.missing or out.unexpected)
    out.raises = True if definite else (None if out.unknown or out.inexact else False)
    if strict is None and out.raises:
        out.raises = None  # strict known only at run time
    return out


def call_parts(call: Any, kw) -> tuple[Any, Any, Any]:
    """The model, filename and strict argument nodes of a `load_model(...)` call (None when absent)."""
    args = call.args
    model = args[0] if args else kw(call, "model")
    filename = args[1] if len(args) > 1 else kw(call, "filename")
    strict = args[2] if len(args) > 2 else kw(call, "strict")
    return model, filename, strict
