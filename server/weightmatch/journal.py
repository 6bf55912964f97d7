"""Changes to objects that outlive a branch: `args.width = 16` under an `if` the interpreter
cannot decide, `cfg.merge_from_file(...)` in a loop body that may not run.

Names bound in a branch live in the branch's own copy of the environment, but an object
(an argparse namespace, a Trainer, a yacs config, an imported module's globals) is shared by
both copies: without this, a change made on one branch would hold on every path. Every such
change goes through `put`, which notes the old value in each open journal; the interpreter
then undoes one branch before running the other and settles each changed slot: the same
value on both paths stays, different values become unknown, naming the condition.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

MISSING = object()
_OPEN: contextvars.ContextVar[tuple[Journal, ...]] = contextvars.ContextVar("journals", default=())


class Journal:
    """The first old value of every slot changed while it was open."""

    def __init__(self) -> None:
        self.old: dict[tuple[int, Any], tuple[Any, Any, Any]] = {}

    def note(self, container: Any, key: Any) -> None:
        slot = (id(container), key)
        if slot not in self.old:
            self.old[slot] = (container, key, get(container, key))

    def now(self) -> dict[tuple[int, Any], Any]:
        return {slot: get(c, k) for slot, (c, k, _old) in self.old.items()}

    def undo(self) -> None:
        for container, key, old in self.old.values():
            _set(container, key, old)


def get(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        return container.get(key, MISSING)
    return getattr(container, key, MISSING)


def _set(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, dict):
        if value is MISSING:
            container.pop(key, None)
        else:
            container[key] = value
    elif value is not MISSING:
        setattr(container, key, value)


def put(container: Any, key: Any, value: Any) -> None:
    """`container[key] = value` (a dict) or `setattr(container, key, value)`, noted."""
    for journal in _OPEN.get():
        journal.note(container, key)
    _set(container, key, value)


def note(container: Any, key: Any) -> None:
    """Before a change made in place (a dict cleared key by key)."""
    for journal in _OPEN.get():
        journal.note(container, key)


@contextlib.contextmanager
def recording():
    journal = Journal()
    token = _OPEN.set((*_OPEN.get(), journal))
    try:
        yield journal
    finally:
        _OPEN.reset(token)


def settle(paths: list[tuple[Journal, dict]], merge) -> None:
    """After running each path from the same start (undoing in between), give every slot some
    path changed its value: `merge(container, key, values)`, `values` one per path (MISSING where
    the slot does not exist on that path)."""
    slots: dict[tuple[int, Any], tuple[Any, Any, Any]] = {}
    for journal, _after in paths:
        for slot, entry in journal.old.items():
            slots.setdefault(slot, entry)
    for slot, (container, key, original) in slots.items():
        values = [after.get(slot, original) if slot in journal.old else original for journal, after in paths]
        merge(container, key, values)
