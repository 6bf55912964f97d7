"""Compact display of state_dict keys: "layers.{0..11}.attn.{weight,bias}"."""

from __future__ import annotations

from collections.abc import Sequence

Parts = tuple[str, ...]


def group_keys(keys: Sequence[str], names: bool = False) -> list[str]:
    """Merge keys that differ only in one numeric component, keeping first-seen order.

    ["layers.0.w", "layers.1.w", "layers.2.w"] → ["layers.{0..2}.w"]; non-contiguous
    indices are listed ("layers.{0,2,5}.w"). Nested indices merge in turn
    ("a.{0,1}.b.{0..3}.w", only where the sets agree). With `names`, keys that then
    differ only in their last name merge too ("fc.{weight,bias}").
    """
    return [_join(parts) for parts, _ in _grouped(keys, names)]


def summarize_keys(keys: Sequence[str], limit: int = 4) -> str:
    """A short phrase for a message: "fc.weight, fc.bias", "layers.{0..11}.attn.{weight,bias} and 3 more"."""
    groups = _grouped(keys, names=False)
    if len(groups) > limit:
        groups = _grouped(keys, names=True)
    shown = ", ".join(_join(parts) for parts, _ in groups[:limit])
    rest = sum(count for _, count in groups[limit:])
    return f"{shown} and {rest} more" if rest else shown


def _grouped(keys: Sequence[str], names: bool) -> list[tuple[Parts, int]]:
    # Components are kept apart so that "{0..11}" never gets split on its dots.
    items: list[tuple[Parts, int]] = [(tuple(k.split(".")), 1) for k in dict.fromkeys(keys)]
    width = max((len(p) for p, _ in items), default=0)
    for pos in range(width):
        items = _merge_at(items, pos)
    if names:
        items = _merge_last(items)
    return items


def _merge_at(items: list[tuple[Parts, int]], pos: int) -> list[tuple[Parts, int]]:
    groups: dict[tuple, list[int]] = {}
    for i, (parts, _) in enumerate(items):
        if len(parts) > pos and parts[pos].isdigit():
            groups.setdefault((len(parts), parts[:pos], parts[pos + 1:]), []).append(i)
    out: list[tuple[Parts, int]] = []
    taken: set[int] = set()
    for i, (parts, count) in enumerate(items):
        if i in taken:
            continue
        members = groups.get((len(parts), parts[:pos], parts[pos + 1:])) if len(parts) > pos else None
        if not members or len(members) < 2 or not parts[pos].isdigit():
            out.append((parts, count))
            continue
        taken.update(members)
        values = sorted({int(items[j][0][pos]) for j in members})
        merged = parts[:pos] + (_braces(values),) + parts[pos + 1:]
        out.append((merged, sum(items[j][1] for j in members)))
    return out


def _merge_last(items: list[tuple[Parts, int]]) -> list[tuple[Parts, int]]:
    groups: dict[Parts, list[int]] = {}
    for i, (parts, _) in enumerate(items):
        groups.setdefault(parts[:-1], []).append(i)
    out: list[tuple[Parts, int]] = []
    taken: set[int] = set()
    for i, (parts, count) in enumerate(items):
        if i in taken:
            continue
        members = groups[parts[:-1]]
        if len(members) < 2 or len(parts) < 2:
            out.append((parts, count))
            continue
        taken.update(members)
        last = "{" + ",".join(items[j][0][-1] for j in members) + "}"
        out.append((parts[:-1] + (last,), sum(items[j][1] for j in members)))
    return out


def _braces(values: list[int]) -> str:
    runs: list[str] = []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        if prev - start >= 2:
            runs.append(f"{start}..{prev}")
        else:
            runs.extend(str(x) for x in range(start, prev + 1))
        if v is not None:
            start = prev = v
    return "{" + ",".join(runs) + "}"


def _join(parts: Parts) -> str:
    return ".".join(parts)
