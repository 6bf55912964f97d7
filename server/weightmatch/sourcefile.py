"""Reading a Python source file: only a regular file, and only up to a size limit.

A FIFO named `evil.py` blocks `open()` forever; `x.py` linked to /dev/zero reads until
memory runs out. The file is opened without blocking, checked on the open descriptor
(so a path swapped after a stat cannot slip through), and read up to MAX_SOURCE_BYTES.
"""

from __future__ import annotations

import os
import stat

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # 8 MiB: far above any hand-written module


class SourceSkipped(OSError):
    """Not read: `reason` says why ("not a regular file", "larger than 8 MiB")."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def check_source(path: str, limit: int = MAX_SOURCE_BYTES) -> None:
    """Raise SourceSkipped (or OSError) unless `path` is a regular file within `limit`."""
    try:
        st = os.stat(path)
    except ValueError:  # an embedded NUL byte
        raise SourceSkipped(path, "not a valid path") from None
    _check(path, st, limit)


def _check(path: str, st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise SourceSkipped(path, "not a regular file")
    if st.st_size > limit:
        raise SourceSkipped(path, f"larger than {limit >> 20} MiB")


def read_source(path: str, errors: str = "replace", limit: int = MAX_SOURCE_BYTES) -> str:
    """The text of the regular file `path` (UTF-8, newlines translated as `open()` in text
    mode does); SourceSkipped or OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except ValueError:
        raise SourceSkipped(path, "not a valid path") from None
    with os.fdopen(fd, "rb") as f:
        _check(path, os.fstat(fd), limit)
        data = f.read(limit + 1)
    if len(data) > limit:  # grew after the check
        raise SourceSkipped(path, f"larger than {limit >> 20} MiB")
    text = data.decode("utf-8", errors)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
