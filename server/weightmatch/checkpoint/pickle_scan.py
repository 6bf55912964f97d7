"""A pass over a pickle's opcodes that runs nothing and builds nothing.

It finds where a pickle ends (the legacy format stores several back to back, then raw
storage bytes), records what torch's weights_only unpickler would refuse (globals and
opcodes), and rejects memo indices that would make the C unpickler allocate a huge
memo table (`LONG_BINPUT 4000000000` resizes it to billions of slots).

Why not pickletools, and why a regular expression: the C unpickler offers no hook for
opcodes, so exactly which opcodes a pickle holds (torch refuses most of protocol 3-5's)
can only be learnt by walking all of them; a 1,000-tensor state dict has ~31,000. A
Python loop over them cost ~5 ms; `_fast_run` walks runs of the opcodes that need no
bookkeeping inside `re` (~1 ms), and the loop below handles the rest one at a time:
GLOBAL (its name is recorded), STOP, opcodes torch refuses, long strings, memo indices
of 2**16 and more, and anything cut short at the end of the data.
"""

from __future__ import annotations

import functools
import pickletools
import re
from dataclasses import dataclass, field

from .allowlist import TORCH_OPCODES, is_allowed, torch_global_name

# Argument layouts, from pickletools' own opcode table.
_NONE, _NL, _NL2, _LEN1, _LEN4S, _LEN4, _LEN8 = range(7)
_FIXED_BASE = 100  # kind >= 100: a fixed-size argument of (kind - 100) bytes


def _build_table() -> tuple[list, list[bool], list[str], list[int]]:
    kinds: list = [None] * 256
    torch_ok = [False] * 256
    names = [""] * 256
    for op in pickletools.opcodes:
        code = ord(op.code)
        names[code] = op.name
        torch_ok[code] = op.name in TORCH_OPCODES
        arg = op.arg
        if arg is None:
            kinds[code] = _NONE
        elif op.name in ("GLOBAL", "INST"):
            kinds[code] = _NL2
        elif arg.n == pickletools.UP_TO_NEWLINE:
            kinds[code] = _NL
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT1:
            kinds[code] = _LEN1
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT4:
            kinds[code] = _LEN4S
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT4U:
            kinds[code] = _LEN4
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT8U:
            kinds[code] = _LEN8
        else:
            kinds[code] = _FIXED_BASE + arg.n
    # The fast path: opcodes torch accepts whose length is fixed and that need no
    # check, as "bytes to skip including the opcode"; 0 sends an opcode to the slow path.
    fast = [0] * 256
    for code in range(256):
        kind = kinds[code]
        if not torch_ok[code] or kind is None or names[code] in ("LONG_BINPUT", "STOP"):
            continue
        if kind == _NONE:
            fast[code] = 1
        elif kind >= _FIXED_BASE:
            fast[code] = 1 + kind - _FIXED_BASE
    return kinds, torch_ok, names, fast


_KINDS, _TORCH_OK, _NAMES, _FAST = _build_table()
_BINUNICODE, _LONG_BINPUT, _PUT = ord("X"), ord("r"), ord("p")
_GLOBAL, _STOP = ord("c"), ord(".")
# The C unpickler grows its memo table to twice the largest index a PUT names (8 bytes a
# slot). An index below SMALL_MEMO_INDEX costs at most 1 MiB, so it is always accepted
# (that is what lets `_fast_run` skip LONG_BINPUT). A larger one must be at most a third
# of its offset (every memoized object takes an opcode and a PUT of two or more bytes
# before it, so honest pickles stay far below that) and never above MAX_MEMO_INDEX.
SMALL_MEMO_INDEX = 1 << 16
MAX_MEMO_INDEX = 10_000_000
_SHORT_STRING = 128  # BINUNICODE strings shorter than this are skipped by `_fast_run`


class PickleTruncated(Exception):
    """The data ends before the pickle's STOP."""


class PickleInvalid(Exception):
    """Not a pickle, or one this reader refuses to hand to the unpickler."""


@dataclass
class ScanResult:
    end: int  # offset just past STOP
    globals: set[str] = field(default_factory=set)  # GLOBAL names as torch checks them
    refused_opcodes: set[str] = field(default_factory=set)

    def unsafe(self) -> set[str]:
        out = {g for g in self.globals if not is_allowed(g)}
        out.update(f"pickle opcode {name}" for name in self.refused_opcodes)
        return out


def _check_memo(index: int, pos: int) -> None:
    if index >= SMALL_MEMO_INDEX and (index * 3 > pos or index > MAX_MEMO_INDEX):
        raise PickleInvalid(f"memo index {index} out of range at offset {pos}")


@functools.cache
def _fast_run() -> re.Pattern[bytes]:
    """A pattern matching a run of whole opcodes that the loop would skip without a record.

    Each alternative is one opcode with its argument, and opcode bytes decide which
    alternative applies, so a match ends exactly on an opcode boundary: at the first
    opcode that needs the loop, or where an opcode would run past the end of the data.
    Compiled on first use (~4 ms), not at import.
    """
    by_size: dict[int, list[int]] = {}
    for code, skip in enumerate(_FAST):
        if skip:
            by_size.setdefault(skip - 1, []).append(code)
    fixed = {size: b"[" + b"".join(re.escape(bytes([c])) for c in codes) + b"]" + b"." * size
             for size, codes in by_size.items()}
    alternatives = [  # the most frequent first: `re` tries them in order
        rb"r..\x00\x00",  # LONG_BINPUT below SMALL_MEMO_INDEX
        fixed.pop(1),  # BINPUT, BINGET, BININT1, PROTO
        fixed.pop(0),
        b"X(?:" + b"|".join(  # BINUNICODE: one branch per short length
            re.escape(n.to_bytes(4, "little")) + (b".{%d}" % n if n else b"") for n in range(_SHORT_STRING)) + b")",
        *fixed.values(),
        b"\x8a(?:" + b"|".join(  # LONG1 of up to 8 bytes
            re.escape(bytes([n])) + (b".{%d}" % n if n else b"") for n in range(9)) + b")",
    ]
    return re.compile(b"(?:" + b"|".join(alternatives) + b")*+", re.DOTALL)


def scan_pickle(data: bytes | bytearray, pos: int = 0) -> ScanResult:
    """Walk one pickle starting at `pos`; raise PickleTruncated if it does not end in `data`."""
    kinds, fast, run = _KINDS, _FAST, _fast_run().match
    n = len(data)
    result = ScanResult(end=0)
    start = pos
    while pos < n:
        pos = run(data, pos).end()
        if pos >= n:
            break
        op = data[pos]
        skip = fast[op]
        if skip:  # an opcode the run would have taken, cut short by the end of the data
            pos += skip
            continue
        if op == _LONG_BINPUT:
            if pos + 5 > n:
                raise PickleTruncated
            index = int.from_bytes(data[pos + 1:pos + 5], "little")
            if index >= SMALL_MEMO_INDEX and (index * 3 > pos - start or index > MAX_MEMO_INDEX):
                raise PickleInvalid(f"memo index {index} out of range at offset {pos}")
            pos += 5
            continue
        if op == _BINUNICODE:
            pos += 5 + int.from_bytes(data[pos + 1:pos + 5], "little")
            continue
        kind = kinds[op]
        if kind is None:
            raise PickleInvalid(f"invalid pickle opcode 0x{op:02x} at offset {pos}")
        if not _TORCH_OK[op]:
            result.refused_opcodes.add(_NAMES[op])
        pos += 1
        if kind >= _FIXED_BASE:
            pos += kind - _FIXED_BASE
        elif kind == _NONE:
            if op == _STOP:
                result.end = pos
                return result
        elif kind == _LEN1:
            if pos >= n:
                raise PickleTruncated
            pos += 1 + data[pos]
        elif kind == _LEN4 or kind == _LEN4S:
            if pos + 4 > n:
                raise PickleTruncated
            size = int.from_bytes(data[pos:pos + 4], "little", signed=kind == _LEN4S)
            if size < 0:
                raise PickleInvalid(f"negative length at offset {pos - 1}")
            pos += 4 + size
        elif kind == _LEN8:
            if pos + 8 > n:
                raise PickleTruncated
            pos += 8 + int.from_bytes(data[pos:pos + 8], "little")
        else:  # one or two newline-terminated lines
            end = data.find(b"\n", pos)
            if end < 0:
                raise PickleTruncated
            line = data[pos:end]
            pos = end + 1
            if kind == _NL2:
                end = data.find(b"\n", pos)
                if end < 0:
                    raise PickleTruncated
                name = data[pos:end]
                pos = end + 1
                if op == _GLOBAL:
                    result.globals.add(
                        torch_global_name(line.decode("utf-8", "replace"), name.decode("utf-8", "replace"))
                    )
            elif op == _PUT:
                try:
                    index = int(line)
                except ValueError:
                    raise PickleInvalid(f"bad PUT argument at offset {pos}") from None
                if index < 0:
                    raise PickleInvalid(f"negative memo index at offset {pos}")
                _check_memo(index, pos - start)
    raise PickleTruncated
