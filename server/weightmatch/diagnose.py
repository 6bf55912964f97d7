"""Causes behind a failing load, recognised from keys and shapes alone: a whole-prefix
difference, a training checkpoint passed whole, renamed layers and index shifts.

Pure functions; each answers None / [] unless the explanation is unambiguous, because a
wrong "did you mean" is worse than none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .types import StateDict, TensorInfo

Keys = Sequence[str] | Mapping[str, Any]

# Share of the smaller key set that must line up after a prefix change.
PREFIX_MIN_SHARE = 0.8
_MAX_PREFIX_PARTS = 3
_CANDIDATES = 4
_SAMPLE = 2000  # keys used to rank candidate prefixes


@dataclass(frozen=True)
class PrefixChange:
    """Rewrite each checkpoint key as `add + key.removeprefix(strip)`."""

    strip: str  # "module." or ""
    add: str  # "_orig_mod." or ""
    matched: int  # model keys the rewritten checkpoint then names
    loads: int  # of those, tensors whose shapes fit (= matched when shapes are unknown)
    before: int  # model keys the checkpoint names as it is

    def apply(self, key: str) -> str:
        return self.add + (key[len(self.strip):] if key.startswith(self.strip) else key)


def detect_prefix(model_keys: Keys, saved_keys: Keys) -> PrefixChange | None:
    """The one prefix strip/add (or both) that makes (almost) all keys line up.

    Mappings of key → TensorInfo may be passed instead of key lists; then `loads`
    counts only shape-compatible tensors.
    """
    model = model_keys if isinstance(model_keys, Mapping) else dict.fromkeys(model_keys)
    saved = saved_keys if isinstance(saved_keys, Mapping) else dict.fromkeys(saved_keys)
    if not model or not saved:
        return None
    before = sum(1 for k in saved if k in model)
    smaller = min(len(model), len(saved))
    if before >= 0.5 * smaller:  # most keys already line up: at most a few odd keys
        return None
    strips = _common_prefixes([k for k in saved if k not in model])
    adds = _common_prefixes([k for k in model if k not in saved])
    # Rank the candidates on an even sample of keys, then count the winner in full.
    sample = list(saved)[:: max(1, len(saved) // _SAMPLE)]
    best: tuple | None = None
    for strip in ["", *strips]:
        for add in ["", *adds]:
            if strip == add:
                continue
            hits = sum(1 for k in sample if add + (k[len(strip):] if k.startswith(strip) else k) in model)
            # More keys first; then the simpler change; then the shorter prefixes.
            rank = (hits, -(bool(strip) + bool(add)), -len(strip) - len(add))
            if best is None or rank > best[0]:
                best = (rank, strip, add)
    if best is None:
        return None
    _, strip, add = best
    matched = {add + (k[len(strip):] if k.startswith(strip) else k) for k in saved} & model.keys()
    if len(matched) < PREFIX_MIN_SHARE * smaller or len(matched) - before < max(1, (smaller - before) // 2):
        return None
    if before >= 0.5 * len(matched):  # most keys already line up: a few odd keys, not a prefix
        return None
    change = PrefixChange(strip, add, len(matched), 0, before)
    loads = sum(1 for k in saved if change.apply(k) in matched and _fits(saved[k], model[change.apply(k)]))
    return PrefixChange(strip, add, len(matched), loads, before)


def _common_prefixes(keys: list[str]) -> list[str]:
    """The most common leading 1–3 dotted components ("module.", "model.backbone.")."""
    keys = keys[:: max(1, len(keys) // _SAMPLE)]
    counts: Counter[str] = Counter()
    for key in keys:
        parts = key.split(".", _MAX_PREFIX_PARTS)
        for n in range(1, min(len(parts), _MAX_PREFIX_PARTS + 1)):
            counts[".".join(parts[:n]) + "."] += 1
    floor = max(1, len(keys) // 2)
    return [p for p, c in counts.most_common(_CANDIDATES * 2) if c >= floor][:_CANDIDATES]


def _fits(saved: Any, model: Any) -> bool:
    if not isinstance(saved, TensorInfo) or not isinstance(model, TensorInfo):
        return saved is None and model is None  # plain key lists: count every match
    if saved.dtype == "object":
        return False
    if saved.shape is None or model.shape is None:
        return True
    return saved.shape == model.shape or (model.shape == () and saved.shape == (1,))


# ---------------------------------------------------------------- nested checkpoints


def find_nested_state_dict(obj: Any, model_keys: Keys, max_depth: int = 3) -> tuple[tuple[str, ...], StateDict] | None:
    """Where a training checkpoint passed whole keeps the model's state dict.

    `{"epoch", "model_state_dict", "optimizer_state_dict"}` → (("model_state_dict",), sd).
    None when `obj` is itself the better state dict, or no nested mapping fits. An exact
    key match beats one that needs a prefix change; among equals, the shallower and the
    earlier one wins, except that EMA / optimizer copies give way to the plain model.
    """
    if not isinstance(obj, Mapping):
        return None
    model = model_keys if isinstance(model_keys, Mapping) else dict.fromkeys(model_keys)
    if not model:
        return None
    root_score = _fit(obj, model)
    best: tuple | None = None
    for order, (path, candidate) in enumerate(_nested_mappings(obj, max_depth)):
        score = _fit(candidate, model)
        if score[0] == 0:
            continue
        rank = (score, not _is_secondary(path), -len(path), -order)
        if best is None or rank > best[0]:
            best = (rank, path, candidate)
    if best is None:
        return None
    (score, *_), path, candidate = best
    if score <= root_score or (root_score[0] and not _looks_like_training_checkpoint(obj)):
        return None  # the object is the state dict (perhaps with a stray nested entry)
    if not isinstance(candidate, StateDict):
        wrapped = StateDict(candidate)
        wrapped.metadata = getattr(candidate, "_metadata", None)
        candidate = wrapped
    return path, candidate


def _nested_mappings(obj: Mapping, depth: int, path: tuple[str, ...] = ()):
    if depth == 0:
        return
    for key, value in obj.items():
        if isinstance(value, Mapping) and value:
            yield (*path, key), value
            yield from _nested_mappings(value, depth - 1, (*path, key))


def _fit(candidate: Mapping, model: Mapping) -> tuple[int, int]:
    """(model keys it names, exact 1 / prefixed 0): how well `candidate` serves as the state dict."""
    keys = [k for k in candidate if isinstance(k, str)]
    exact = sum(1 for k in keys if k in model)
    change = detect_prefix(list(model), keys)
    if change is not None and change.matched > exact:
        return (change.matched, 0)
    return (exact, 1) if exact else (0, 0)


def _is_secondary(path: tuple) -> bool:
    last = str(path[-1]).lower()
    return "ema" in last.split("_") or last.startswith("ema") or "optim" in last or "teacher" in last


def _looks_like_training_checkpoint(obj: Mapping) -> bool:
    values = list(obj.values())
    tensors = sum(1 for v in values if isinstance(v, TensorInfo) and v.dtype != "object")
    return tensors * 2 < len(values)


# ---------------------------------------------------------------- renames


@dataclass
class Rename:
    """Checkpoint module `old` is the model's module `new`: same names, same shapes."""

    old: str  # "fc", "features.3"
    new: str  # "classifier", "features.4"
    keys: list[tuple[str, str]] = field(default_factory=list)  # (checkpoint key, model key)
    kind: str = "rename"  # "rename" | "index-shift"


def detect_renames(missing: Mapping[str, TensorInfo], unexpected: Mapping[str, TensorInfo],
                   mismatched: Sequence[tuple[str, TensorInfo, TensorInfo]] = (),
                   saved_state: Mapping[str, TensorInfo] | None = None,
                   model_state: Mapping[str, TensorInfo] | None = None) -> list[Rename]:
    """Same-shape renames and nn.Sequential index shifts between unexpected and missing keys.

    Only one-to-one mappings where every key of a checkpoint module finds the model key
    with the same final name and shape. Ambiguous candidates are left alone unless one
    renamed parent module or one constant index shift explains them all. `mismatched`
    (compare's (key, saved, model) triples) lets a shift that lands a layer on a
    same-named key of another shape be seen: `features.2.weight` conv → BatchNorm; with
    the full `saved_state` / `model_state` too, such a module is compared whole (its
    same-shaped `bias` is neither missing nor mismatched).
    """
    old_keys = {**unexpected, **{k: saved for k, saved, _ in mismatched}}
    new_keys = {**missing, **{k: model for k, _, model in mismatched}}
    old_keys = _complete(old_keys, saved_state)
    new_keys = _complete(new_keys, model_state)
    old_groups = _module_groups(old_keys)
    new_groups = _module_groups(new_keys)
    pairs = _parent_renames(old_groups, new_groups)

    by_sig_old: dict[frozenset, list[str]] = {}
    by_sig_new: dict[frozenset, list[str]] = {}
    for path, members in old_groups.items():
        if path not in pairs:
            by_sig_old.setdefault(_signature(members), []).append(path)
    taken = set(pairs.values())
    for path, members in new_groups.items():
        if path not in taken:
            by_sig_new.setdefault(_signature(members), []).append(path)
    for sig, olds in by_sig_old.items():
        news = by_sig_new.get(sig, [])
        if len(olds) == 1 and len(news) == 1 and olds[0] != news[0]:
            pairs[olds[0]] = news[0]

    pairs.update(_index_shifts(
        {p: g for p, g in old_groups.items() if p not in pairs},
        {p: g for p, g in new_groups.items() if p not in pairs.values()}))
    return _coalesce(pairs, old_groups, new_groups, old_keys)


def _complete(keys: dict[str, TensorInfo], state: Mapping[str, TensorInfo] | None) -> dict[str, TensorInfo]:
    """Every key of `state` in the modules `keys` touches, in `state`'s order."""
    if not state or not keys:
        return keys
    paths = {k.rpartition(".")[0] for k in keys}
    extra = {k: v for k, v in state.items() if k.rpartition(".")[0] in paths and k not in keys}
    return {**keys, **extra}


def _parent_renames(olds: dict[str, dict], news: dict[str, dict], max_pairs: int = 20000) -> dict[str, str]:
    """Renames of a parent module (`encoder` → `blocks`) whose children alone are ambiguous.

    Candidates come from same-signature group pairs with a common tail of names; the
    widest candidate that maps every group under it one-to-one wins, unless another
    candidate of the same width claims the same groups.
    """
    by_sig: dict[frozenset, list[str]] = {}
    for path, members in news.items():
        by_sig.setdefault(_signature(members), []).append(path)
    candidates: set[tuple[str, str]] = set()
    for o, members in olds.items():
        for n in by_sig.get(_signature(members), ()):
            candidates.add(_roots(o, n))
            if len(candidates) > max_pairs:
                return {}
    valid: list[tuple[int, str, str, dict[str, str]]] = []
    for old_root, new_root in candidates:
        if not old_root or not new_root or old_root == new_root:
            continue
        mapping = {}
        for o in olds:
            if _under(o, old_root):
                n = new_root + o[len(old_root):]
                if n not in news or _signature(news[n]) != _signature(olds[o]):
                    break
                mapping[o] = n
        else:
            if len(mapping) >= 2 and len(mapping) == sum(1 for n in news if _under(n, new_root)):
                valid.append((len(mapping), old_root, new_root, mapping))
    out: dict[str, str] = {}
    valid.sort(key=lambda v: -v[0])
    for width, _, _, mapping in valid:
        same_width = [m for w, _, _, m in valid if w == width and m is not mapping]
        if any(set(m) & set(mapping) or set(m.values()) & set(mapping.values()) for m in same_width):
            continue
        if set(mapping) & set(out) or set(mapping.values()) & set(out.values()):
            continue
        out.update(mapping)
    return out


def _roots(old: str, new: str) -> tuple[str, str]:
    """Strip the longest common tail of names: "fc.0" / "head.0" → ("fc", "head")."""
    o, n = old.split("."), new.split(".")
    t = 0
    while t < min(len(o), len(n)) - 1 and o[-1 - t] == n[-1 - t]:
        t += 1
    return ".".join(o[: len(o) - t]), ".".join(n[: len(n) - t])


def _module_groups(keys: Mapping[str, TensorInfo]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for key, info in keys.items():
        path, _, name = key.rpartition(".")
        groups.setdefault(path, {})[name] = info.shape if isinstance(info, TensorInfo) else None
    return groups


def _signature(members: dict[str, Any]) -> frozenset:
    return frozenset(members.items())


def _index_shifts(olds: dict[str, dict], news: dict[str, dict]) -> dict[str, str]:
    """One shift d per Sequential: every leftover `base.i.rest` → `base.(i+d).rest`."""
    def split(path: str) -> list[tuple[str, int, str]]:
        parts = path.split(".")
        return [(".".join(parts[:i]), int(p), ".".join(parts[i + 1:])) for i, p in enumerate(parts) if p.isdigit()]

    out: dict[str, str] = {}
    bases = {base for path in olds for base, _, _ in split(path)}
    for base in sorted(bases, key=len):
        todo = {p: (i, rest) for p in olds if p not in out for b, i, rest in split(p) if b == base}
        targets = {(i, rest): p for p in news if p not in out.values() for b, i, rest in split(p) if b == base}
        if not todo:
            continue
        shifts = {ti - i for (i, rest) in todo.values() for (ti, trest) in targets if trest == rest and ti != i}
        found = []
        for d in shifts:
            mapping = {}
            for p, (i, rest) in todo.items():
                target = targets.get((i + d, rest))
                if target is None or _signature(olds[p]) != _signature(news[target]):
                    break
                mapping[p] = target
            else:
                found.append(mapping)
        if len(found) == 1:
            out.update(found[0])
    return out


def _coalesce(pairs: dict[str, str], old_groups: dict, new_groups: dict,
              old_keys: Mapping[str, TensorInfo]) -> list[Rename]:
    """Merge module pairs that are one higher-level rename (fc.0→head.0, fc.2→head.2 ⇒ fc→head)."""
    def key_of(path: str, name: str) -> str:
        return f"{path}.{name}" if path else name

    merged: dict[tuple[str, str], list[str]] = {}
    for old, new in pairs.items():
        merged.setdefault(_roots(old, new), []).append(old)

    renames: list[Rename] = []
    for (old_root, new_root), olds in merged.items():
        covers_old = all(p in pairs for p in old_groups if _under(p, old_root))
        covers_new = all(p in pairs.values() for p in new_groups if _under(p, new_root))
        groups = [(o, pairs[o]) for o in olds] if (covers_old and covers_new and len(olds) > 1) else None
        units = [(old_root, new_root, groups)] if groups else [(o, pairs[o], [(o, pairs[o])]) for o in olds]
        for old, new, members in units:
            keys = [(key_of(o, name), key_of(n, name)) for o, n in members for name in old_groups[o]]
            kind = "index-shift" if _is_shift(old, new) else "rename"
            renames.append(Rename(old, new, keys, kind))
    order = {k: i for i, k in enumerate(old_keys)}
    renames.sort(key=lambda r: order.get(r.keys[0][0], 0))
    return renames


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + ".") or not root


def _is_shift(old: str, new: str) -> bool:
    o, n = old.split("."), new.split(".")
    diff = [i for i in range(min(len(o), len(n))) if o[i] != n[i]]
    return len(o) == len(n) and len(diff) == 1 and o[diff[0]].isdigit() and n[diff[0]].isdigit()
