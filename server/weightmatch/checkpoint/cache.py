"""A thread-safe cache of read checkpoints, checked against the files' size and mtime."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable

from ..types import Checkpoint
from .errors import CheckpointError, unreadable

Stamp = tuple[str, int, int] | tuple[str, None, None]  # realpath, size, mtime_ns


def _stamp(path: str) -> Stamp:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return (real, None, None)
    return (real, st.st_size, st.st_mtime_ns)


@dataclass
class _Entry:
    stamps: list[Stamp]  # the file, then each shard of a sharded checkpoint
    result: Checkpoint | CheckpointError


class CheckpointCache:
    """`get(path)` returns the checkpoint read earlier while neither the file (nor any of
    its shards) changed size or mtime; errors are cached the same way, so a missing or
    broken file is not re-read on every keystroke."""

    def __init__(self, reader: Callable[[str], Checkpoint] | None = None) -> None:
        if reader is None:
            from . import read_checkpoint as reader
        self._read = reader
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Checkpoint:
        if "\0" in path:  # os calls raise ValueError on it; so does torch.load
            raise unreadable(path, "the path holds a NUL byte (torch.load raises ValueError: embedded null byte)")
        stamp = _stamp(path)
        with self._lock:
            entry = self._entries.get(stamp[0])
        if entry is None or entry.stamps[0] != stamp or any(_stamp(s[0]) != s for s in entry.stamps[1:]):
            entry = self._load(path, stamp)
        if isinstance(entry.result, CheckpointError):
            raise entry.result
        return entry.result

    def _load(self, path: str, stamp: Stamp) -> _Entry:
        # Read outside the lock: one slow file must not block lookups of others.
        try:
            result: Checkpoint | CheckpointError = self._read(path)
            shards = [_stamp(s) for s in result.shards]
        except CheckpointError as e:
            result, shards = e, []
        entry = _Entry([stamp, *shards], result)
        with self._lock:
            self._entries[stamp[0]] = entry
        return entry

    def stamps(self, path: str) -> tuple[Stamp, ...] | None:
        """The size and mtime now of the shards the cached reading of `path` took in (None: not
        read), for callers that keep what they made of it."""
        with self._lock:
            entry = self._entries.get(os.path.realpath(path))
        return None if entry is None else tuple(_stamp(s[0]) for s in entry.stamps[1:])

    def invalidate(self, path: str) -> None:
        with self._lock:
            self._entries.pop(os.path.realpath(path), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
