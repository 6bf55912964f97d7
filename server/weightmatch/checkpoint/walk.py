"""Finding tensors and state dicts inside a checkpoint's object tree."""

from __future__ import annotations

from typing import Any, Iterator

from ..types import StateDict, TensorInfo

# Bounds a walk over a hostile DAG (the same list referenced twice at each of 60
# levels has 2**60 paths); real checkpoints have a few thousand containers.
MAX_VISITS = 200_000
MAX_DEPTH = 300


def _child_path(parent: str, key: Any) -> str:
    if isinstance(key, str):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{key!r}]"


def _walk(obj: Any) -> Iterator[tuple[str, tuple, Any]]:
    """Pre-order (dotted path, key path, value), entering each container once per path, no cycles."""
    visits = 0
    on_path: set[int] = set()

    def visit(value: Any, text: str, keys: tuple, depth: int) -> Iterator[tuple[str, tuple, Any]]:
        nonlocal visits
        yield text, keys, value
        if not isinstance(value, (dict, list, tuple)) or depth >= MAX_DEPTH or id(value) in on_path:
            return
        visits += 1
        if visits > MAX_VISITS:
            return
        on_path.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            child_text = _child_path(text, key) if isinstance(value, dict) else f"{text}[{key}]"
            yield from visit(child, child_text, keys + (key,), depth + 1)
        on_path.discard(id(value))

    yield from visit(obj, "", (), 0)


def tensor_entries(obj: Any) -> list[tuple[str, TensorInfo]]:
    """Every tensor in the tree with its path: 'model_state_dict.fc.weight', 'layers[0]', 'state[0].exp_avg'."""
    return [(text, value) for text, _, value in _walk(obj) if isinstance(value, TensorInfo)]


def count_tensors(obj: Any) -> int:
    """`len(tensor_entries(obj))` without building the paths (same walk, same limits)."""
    visits = 0
    on_path: set[int] = set()
    containers = (dict, list, tuple)

    def visit(value: Any, depth: int) -> int:
        nonlocal visits
        if depth >= MAX_DEPTH or id(value) in on_path:
            return 0
        visits += 1
        if visits > MAX_VISITS:
            return 0
        on_path.add(id(value))
        count = 0
        for child in (value.values() if isinstance(value, dict) else value):
            if isinstance(child, TensorInfo):
                count += 1
            elif isinstance(child, containers):
                count += visit(child, depth + 1)
        on_path.discard(id(value))
        return count

    if isinstance(obj, TensorInfo):
        return 1
    return visit(obj, 0) if isinstance(obj, containers) else 0


def is_state_dict(value: Any) -> bool:
    """A mapping whose values are (almost all) tensors: at most one in ten may be something else
    (a module's `_extra_state`), and an empty one counts only if it was a real `state_dict()`."""
    if not isinstance(value, dict):
        return False
    if not value:
        return isinstance(value, StateDict) and value.metadata is not None
    tensors = sum(1 for v in value.values() if isinstance(v, TensorInfo))
    return tensors > 0 and len(value) - tensors <= tensors // 10


def state_dict_candidates(obj: Any) -> list[tuple[tuple, StateDict]]:
    """Every nested state dict with its key path from the root, outermost first:
    ((), sd) for the root itself, (("model_state_dict",), sd), (("ema", "model"), sd)."""
    return [(keys, value) for _, keys, value in _walk(obj) if is_state_dict(value)]
