"""torch.save's legacy format (before PyTorch 1.6, or `_use_new_zipfile_serialization=False`).

The file is several pickles back to back (magic number, protocol version, sys_info,
the saved object, the storage keys) followed by raw storage bytes. We read just far
enough to find the end of the saved object's pickle and never touch the storage bytes.
"""

from __future__ import annotations

from typing import BinaryIO

from ..types import Checkpoint
from .errors import unreadable
from .files import MAX_PICKLE_BYTES
from .pickle_scan import PickleInvalid, PickleTooLarge, PickleTruncated, check_pickle, scan_pickle
from .unpickler import to_engine, unpickle

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_FIRST_READ = 256 * 1024


class _PickleStream:
    """Reads one pickle after another, growing its buffer only as far as the scan needs."""

    def __init__(self, f: BinaryIO, path: str, size: int) -> None:
        self.f, self.path, self.size = f, path, size
        self.buf = bytearray()
        self.pos = 0
        self.unsafe: set[str] = set()

    def _grow(self) -> None:
        if len(self.buf) >= MAX_PICKLE_BYTES:
            raise unreadable(self.path, f"a pickle larger than the {MAX_PICKLE_BYTES >> 20} MiB limit")
        want = min(max(len(self.buf), _FIRST_READ), MAX_PICKLE_BYTES - len(self.buf))
        more = self.f.read(want)
        if not more:
            raise unreadable(self.path, "the file ends inside a pickle (truncated?)")
        self.buf += more

    def next(self, what: str):
        while True:
            try:
                scan = scan_pickle(self.buf, self.pos)
                check_pickle(self.buf, self.pos, scan.end)
                break
            except PickleTruncated:
                self._grow()
            except PickleTooLarge as e:
                raise unreadable(self.path, f"{what} is over the reader's budget: {e}") from None
            except PickleInvalid as e:
                raise unreadable(self.path, f"{what} is not a valid pickle ({e})") from None
        data = bytes(self.buf[self.pos:scan.end])
        self.pos = scan.end
        raw, unsafe = unpickle(data)
        self.unsafe |= unsafe | scan.unsafe()
        return raw


def read_legacy(f: BinaryIO, path: str, size: int) -> Checkpoint:
    stream = _PickleStream(f, path, size)
    magic = stream.next("the magic number")
    if magic != MAGIC_NUMBER:
        raise unreadable(path, "a pickle, but not one written by torch.save (no PyTorch magic number)")
    version = stream.next("the protocol version")
    if version != PROTOCOL_VERSION:
        raise unreadable(path, f"legacy protocol version {version!r}, expected {PROTOCOL_VERSION}")
    stream.next("sys_info")
    raw = stream.next("the saved object")
    return Checkpoint(path=path, format="torch-legacy", size=size, obj=to_engine(raw),
                      unsafe_globals=sorted(stream.unsafe))
