"""From a comparison to findings: one finding per cause, on the line that causes it,
with the severity PyTorch's behaviour calls for (design.md, "Severity follows what
PyTorch would do").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from weightmatch.keygroups import summarize_keys
from weightmatch.compare import Comparison
from weightmatch.locate import LayerSite
from weightmatch.types import ExpectedState, Finding, RuntimeValue, Span, TensorInfo


@dataclass
class SiteFacts:
    """What the analyzer knows about one load call, for building findings and fixes."""

    call: Span
    strict: bool | None
    expected: ExpectedState
    saved: Any
    comparison: Comparison
    layer_of: Callable[..., LayerSite]  # (module path, key=None) -> where that layer (or bare parameter) is defined
    how: str
    nested: tuple | None = None  # key path of the state dict inside a training checkpoint
    prefix: Any = None  # diagnose.PrefixChange
    renames: list = field(default_factory=list)
    after_cause: Comparison | None = None  # the comparison once the prefix / nesting is fixed


def _still(after: Comparison | None) -> str:
    """What would still fail once the one cause is fixed, so the next surprise is not one."""
    if after is None or after.raises is not True:
        return ""
    parts = [f"{k} (checkpoint {_shape(s)}, model {_shape(m)})" for k, s, m in after.mismatched[:3]]
    if len(after.mismatched) > 3:
        parts.append(f"{len(after.mismatched) - 3} more size mismatches")
    if not parts and after.missing:
        parts.append(f"{len(after.missing)} missing keys")
    if not parts and after.unexpected:
        parts.append(f"{len(after.unexpected)} unexpected keys")
    return ". Even then the load would fail: " + ", ".join(parts) if parts else ""


def _module_of(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _strict_sev(strict: bool | None, if_false: str) -> str:
    return "error" if strict is not False else if_false


def _shape(info: TensorInfo | None) -> str:
    return info.shape_text() if info is not None else "—"


def build_findings(f: SiteFacts) -> list[Finding]:
    c = f.comparison
    rows = {r.key: r for r in c.rows}
    if isinstance(f.saved, RuntimeValue):
        return [Finding("unresolved-checkpoint", "hint", f"Cannot tell what is loaded: {f.saved.reason}",
                        f.call, f.call, how=f.how)]
    if not isinstance(f.saved, Mapping):
        return [Finding("not-a-state-dict", "error", c.other_errors[0] if c.other_errors else
                        "load_state_dict expects a dict of tensors", f.call, f.call, how=f.how)]
    out: list[Finding] = []
    explained: set[str] = set()
    # a whole training checkpoint passed in, or a prefix on every key: one cause, on the call
    cause = _one_cause(f)
    if cause is not None:
        code, msg, keys = cause
        out.append(Finding(code, _strict_sev(f.strict, "warning"), msg + _still(f.after_cause), f.call, f.call,
                           keys, [rows[k] for k in keys if k in rows], how=f.how))
        explained.update(keys)
    out += _size_findings(f, rows)
    for key, what in c.not_tensor:
        site = f.layer_of(_module_of(key))
        out.append(Finding("not-a-tensor", "error",
                           f"{key}: the checkpoint holds {what}, not a tensor; load_state_dict raises",
                           site.span, f.call, [key], how=f.how))
    out += [Finding("load-error", "error", err, f.call, f.call, how=f.how) for err in c.other_errors]

    raises_anyway = bool(c.mismatched or c.not_tensor or c.other_errors)
    # with strict=False and an error, PyTorch's message lists only the errors: report what it reports
    if f.strict is not False or not raises_anyway:
        out += _missing_findings(f, rows, [k for k in c.missing if k not in explained])
        out += _unexpected_findings(f, rows, [k for k in c.unexpected if k not in explained])
    if c.raises is None and not any(x.severity == "error" for x in out):
        out.append(_undecided(f, rows))
    if c.inexact:
        note = _inexact_note(f)
        for x in out:
            x.inexact = list(c.inexact)
            if x.code != "unresolved-load":
                x.message += f" (not exact: {note})"
    # link layer-line findings back from the call
    call_related = [(x.span, x.message.split(";")[0]) for x in out if x.span != f.call]
    for x in out:
        if x.span == f.call and call_related:
            x.related = call_related[:20]
    return out


def _by_layer(f: SiteFacts, keys: list[str]) -> list[tuple[LayerSite, list[str]]]:
    """Keys grouped by the source line that defines their layer, in first-seen order."""
    groups: dict[tuple, tuple[LayerSite, list[str]]] = {}
    for key in keys:
        site = f.layer_of(_module_of(key), key)
        ident = (site.span.path, site.span.line, site.span.column)
        groups.setdefault(ident, (site, []))[1].append(key)
    return list(groups.values())


def _size_findings(f: SiteFacts, rows: dict) -> list[Finding]:
    """Size mismatches: always raise; one finding per layer definition."""
    infos = {k: (s, m) for k, s, m in f.comparison.mismatched}
    out = []
    for site, keys in _by_layer(f, list(infos)):
        parts = [f"{k}: checkpoint {_shape(infos[k][0])}, model {_shape(infos[k][1])}" for k in keys]
        msg = "Size mismatch — " + "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more" if len(parts) > 4 else "")
        if f.strict is False:
            msg += " (strict=False does not skip size mismatches)"
        out.append(Finding("size-mismatch", "error", msg, site.span, f.call, keys,
                           [rows[k] for k in keys if k in rows],
                           related=[(f.call, "the load_state_dict call"), *site.related],
                           how=f.how))
    return out


def loaded_twins(expected, comparison, keys: list[str]) -> dict[str, str]:
    """Missing keys that are the same tensor as a key the load fills (tied weights): key -> twin."""
    if not expected.tied:
        return {}
    missing = set(comparison.missing) | {k for k, _, _ in comparison.mismatched}
    groups: dict[str, list[str]] = {}
    for later, first in expected.tied.items():
        groups.setdefault(first, [first]).append(later)
    out = {}
    for k in keys:
        group = groups.get(expected.tied.get(k, k), [])
        twin = next((t for t in group if t != k and t not in missing), None)
        if twin is not None:
            out[k] = twin
    return out


def _kept(f: SiteFacts, keys: list[str]) -> str:
    twins = loaded_twins(f.expected, f.comparison, keys)
    if not twins:
        return "these keep their initial values"
    shown = ", ".join(f"{k} is {t}" for k, t in list(twins.items())[:3])
    rest = [k for k in keys if k not in twins]
    return (f"the tied ones get the loaded values ({shown}: one tensor)"
            + (f"; {summarize_keys(rest)} keep their initial values" if rest else ""))


def _missing_findings(f: SiteFacts, rows: dict, missing: list[str]) -> list[Finding]:
    out = []
    for site, keys in _by_layer(f, missing):
        shown = summarize_keys(keys)
        if f.strict is not False:
            msg = f"Missing from the checkpoint: {shown}; load_state_dict(strict=True) raises"
        else:
            msg = f"Missing from the checkpoint: {shown}; with strict=False {_kept(f, keys)}"
        note = _renamed_here(f.renames, keys)
        if note:
            msg += f" ({note})"
        out.append(Finding("missing-keys", _strict_sev(f.strict, "warning"), msg, site.span, f.call,
                           keys, [rows[k] for k in keys if k in rows],
                           related=[(f.call, "the load_state_dict call")], how=f.how))
    return out


def _unexpected_findings(f: SiteFacts, rows: dict, unexpected: list[str]) -> list[Finding]:
    if not unexpected:
        return []
    shown = summarize_keys(unexpected)
    if f.strict is not False:
        msg = f"Unexpected keys in the checkpoint: {shown}; load_state_dict(strict=True) raises"
    else:
        msg = f"Unexpected keys in the checkpoint are ignored with strict=False: {shown}"
    return [Finding("unexpected-keys", _strict_sev(f.strict, "information"), msg, f.call, f.call, unexpected,
                    [rows[k] for k in unexpected if k in rows], how=f.how)]


def _inexact_note(f: SiteFacts) -> str:
    """`head` (CustomHead) loads its own way: ..., for the modules of Comparison.inexact."""
    names = [f"`{p or '(the model)'}` ({f.expected.modules[p].type.rsplit('.', 1)[-1]})"
             for p in f.comparison.inexact[:3] if p in f.expected.modules]
    more = len(f.comparison.inexact) - len(names)
    what = ", ".join(names) + (f" and {more} more" if more > 0 else "")
    return (f"{what} {'loads' if len(f.comparison.inexact) == 1 else 'load'} its own way (its own "
            "_load_from_state_dict or load_state_dict hooks), which is not checked")


def _undecided(f: SiteFacts, rows: dict) -> Finding:
    """No verdict: it rests on values known only at run time, or on a module that loads its own way."""
    c = f.comparison
    if not c.unknown:
        return Finding("unresolved-load", "hint", f"Cannot tell exactly what this load does: {_inexact_note(f)}",
                       f.call, f.call, list(c.own_way), [rows[k] for k in c.own_way if k in rows], how=f.how)
    runtime = [k for k in c.unknown if (k not in rows or rows[k].saved is None) and k not in c.twins]
    unread = [k for k in c.unknown if k not in runtime and k not in c.twins]
    parts = []
    if c.twins:
        parts.append(f"the file lacks {summarize_keys(c.twins)}, which load_model forgives only if "
                     f"{'it shares' if len(c.twins) == 1 else 'they share'} memory with a loaded tensor "
                     "(tied weights, which save_model writes once); which tensors are tied is not checked")
    if runtime:
        parts.append(f"{summarize_keys(runtime)} {'is' if len(runtime) == 1 else 'are'} set to values known "
                     "only at run time")
    if unread:
        parts.append(f"the checkpoint holds {summarize_keys(unread)} as tensors it does not describe "
                     "(sparse, nested or of unreadable size)")
    return Finding("unresolved-checkpoint", "hint",
                   "Cannot tell whether this load succeeds: " + "; ".join(parts),
                   f.call, f.call, list(c.unknown), [rows[k] for k in c.unknown if k in rows], how=f.how)


def _one_cause(f: SiteFacts) -> tuple[str, str, list[str]] | None:
    c, strict = f.comparison, f.strict
    if f.nested is not None and c.loaded == 0:
        where = "".join(f"[{k!r}]" for k in f.nested)
        if strict is not False:
            return ("not-a-state-dict", f"This is a training checkpoint, not a state dict: the model's weights are "
                    f"under {where}; load_state_dict raises with {len(c.missing)} missing and {len(c.unexpected)} "
                    f"unexpected keys", [*c.missing, *c.unexpected])
        return ("not-a-state-dict", f"This is a training checkpoint, not a state dict (weights under {where}): with "
                f"strict=False it loads nothing and every layer keeps its initial values", [*c.missing, *c.unexpected])
    if f.prefix is None:
        return None
    p = f.prefix
    model_set = set(f.expected.keys())
    mapped = {p.apply(k) for k in c.unexpected}
    keys = [k for k in c.missing if k in mapped] + [k for k in c.unexpected if p.apply(k) in model_set]
    if strict is not False:
        return ("prefix-mismatch", f"Key prefix mismatch: {_prefix_text(p)}; none of the "
                f"{len(c.missing) + len(c.unexpected)} differing keys line up, so load_state_dict raises", keys)
    return ("prefix-mismatch", f"Key prefix mismatch: {_prefix_text(p)}; with strict=False this loads {c.loaded} of "
            f"{len(model_set)} tensors and the rest keep their initial values", keys)


def _prefix_text(p) -> str:
    strip, add = getattr(p, "strip", ""), getattr(p, "add", "")
    if strip and add:
        return f"the checkpoint's keys start with '{strip}' where the model's start with '{add}'"
    if strip:
        return f"the checkpoint's keys start with '{strip}', the model's do not"
    return f"the model's keys start with '{add}', the checkpoint's do not"


def _renamed_here(renames, keys: list[str]) -> str:
    for r in renames or []:
        pairs = dict(r.keys)
        inverse = {new: old for old, new in pairs.items()}
        hit = [k for k in keys if k in inverse or k in pairs]
        if hit:
            what = "moved by an nn.Sequential index shift" if r.kind == "index-shift" else "renamed"
            return f"{what}: the checkpoint has '{r.old}' where the model has '{r.new}'"
    return ""

