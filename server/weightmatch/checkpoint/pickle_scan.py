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
_TORCH_OK_BYTES = bytes(c for c in range(256) if _TORCH_OK[c])
_BINUNICODE, _LONG_BINPUT, _PUT = ord("X"), ord("r"), ord("p")
_GLOBAL, _STOP = ord("c"), ord(".")
# The C unpickler grows its memo table to twice the largest index a PUT names (8 bytes a
# slot). An index below SMALL_MEMO_INDEX costs at most 1 MiB, so it is always accepted
# (that is what lets `_fast_run` skip LONG_BINPUT). A larger one must be at most a third
# of its offset (every memoized object takes an opcode and a PUT of two or more bytes
# before it, so honest pickles stay far below that) and never above MAX_MEMO_INDEX.
SMALL_MEMO_INDEX = 1 << 16
MAX_MEMO_INDEX = 10_000_000
# Opcodes in one pickle; a state dict takes ~32 per tensor, so ~18,000 tensors. Bounds the
# time of the scan's opcode-at-a-time path and of the structure pass (~0.5 µs an opcode, so ≤ ~0.3 s; ~1 s on a loaded machine).
MAX_OPCODES = 600_000
_SHORT_STRING = 128  # BINUNICODE strings shorter than this are skipped by `_fast_run`


class PickleTruncated(Exception):
    """The data ends before the pickle's STOP."""


class PickleInvalid(Exception):
    """Not a pickle, or one this reader refuses to hand to the unpickler."""


class PickleTooLarge(PickleInvalid):
    """A pickle that would cost more than a reader may spend (too deep or too many objects)."""


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
        fixed[0] + b"{2,}+",  # a run of argument-free opcodes, in one step
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


@functools.cache
def _bare_run() -> re.Pattern[bytes]:
    """A run of argument-free opcodes other than STOP (torch refuses some of them)."""
    codes = bytes(c for c in range(256) if _KINDS[c] == _NONE and c != _STOP)
    return re.compile(b"[" + re.escape(codes) + b"]+")


def scan_pickle(data: bytes | bytearray, pos: int = 0) -> ScanResult:
    """Walk one pickle starting at `pos`; raise PickleTruncated if it does not end in `data`.

    Raises PickleTooLarge past `MAX_OPCODES` opcodes taken one at a time (the runs the
    patterns take whole are bounded by the data's size)."""
    kinds, fast, run = _KINDS, _FAST, _fast_run().match
    n = len(data)
    result = ScanResult(end=0)
    start = pos
    slow = 0
    while pos < n:
        pos = run(data, pos).end()
        if pos >= n:
            break
        slow += 1
        if slow > MAX_OPCODES:
            raise PickleTooLarge(f"more than {MAX_OPCODES:,} opcodes in one pickle (a checkpoint reader's limit)")
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
        if kind == _NONE and op != _STOP:  # POP, DUP, EMPTY_SET ... : the whole run at once
            end = _bare_run().match(data, pos).end()
            refused = bytes(memoryview(data)[pos:end]).translate(None, _TORCH_OK_BYTES)
            result.refused_opcodes.update(_NAMES[c] for c in set(refused))
            pos = end
            continue
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


# ---------------------------------------------------------------------------------------
# The structure pass: what the unpickler would build, bounded before anything is built.
#
# The C unpickler trusts the pickle's shape. A tuple nested a million deep used as a dict
# key makes CPython's tuple hash recurse in C until the process dies (SIGSEGV); ten
# million EMPTY_DICT opcodes cost gigabytes. So before the unpickler runs, this pass
# replays the pickle's stack with one small int per object (its nesting depth) and
# counts opcodes and the objects pushed: an object nested deeper than MAX_NESTING, more
# than MAX_OBJECTS pushes or more than MAX_OPCODES opcodes refuse the pickle. Depths of
# memoized objects are remembered, so GET of a deep tuple is as deep as the tuple.
#
# The pass costs ~0.4 µs an opcode, several times the rest of a read, so it is skipped
# where counting bytes proves it unneeded: C recursion needs a chain of nested tuples,
# each level made by an opcode whose byte is one of _NESTING_BYTES; with fewer than
# SAFE_NESTING such bytes in the whole pickle (opcode or not) no chain can be deeper,
# and a pickle of at most MAX_OBJECTS bytes cannot hold more opcodes than that. So
# checkpoints up to ~2,000 tensors never pay for it.

MAX_NESTING = 200  # real checkpoints nest < 20 deep
MAX_OBJECTS = 400_000  # pushes (≈ 80 bytes each at most); a state dict takes ~17 per tensor
SAFE_NESTING = 20_000  # CPython's tuple hash crashes past ~150,000 levels on an 8 MiB stack
# TUPLE, TUPLE1-3, REDUCE, NEWOBJ, NEWOBJ_EX, BUILD, APPEND(S), SETITEM(S), ADDITEMS, LIST,
# DICT, FROZENSET, OBJ, INST, BINPERSID: every opcode that puts one object inside another
_NESTING_BYTES = b"t\x85\x86\x87R\x81\x92bae su\x90ld\x91oiQ".replace(b" ", b"")


_OTHER_BYTES = bytes(b for b in range(256) if b not in _NESTING_BYTES)


def needs_structure_pass(data, start: int, end: int) -> bool:
    """False when counting bytes proves the structure pass cannot refuse data[start:end]."""
    if end - start > MAX_OBJECTS:
        return True
    return len(bytes(memoryview(data)[start:end]).translate(None, _OTHER_BYTES)) >= SAFE_NESTING


def _actions() -> list[int]:
    """One small int per opcode byte, for the dispatch in check_structure."""
    groups = {
        1: ("NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1",
            "LONG4", "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES",
            "BINBYTES8", "BYTEARRAY8", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
            "BINUNICODE8", "FLOAT", "BINFLOAT", "GLOBAL", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER",
            "EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET", "PERSID"),  # push a leaf
        2: ("BINPUT",), 3: ("LONG_BINPUT",), 4: ("PUT",), 5: ("MEMOIZE",),
        6: ("BINGET",), 7: ("LONG_BINGET",), 8: ("GET",),
        9: ("MARK",),
        10: ("TUPLE", "LIST", "DICT", "FROZENSET", "OBJ", "INST"),  # items since the mark -> one object
        11: ("APPENDS", "SETITEMS", "ADDITEMS"),  # items since the mark -> into the object below
        12: ("TUPLE1", "BINPERSID"),  # 1 -> 1
        13: ("TUPLE2", "REDUCE", "NEWOBJ"),  # 2 -> 1
        14: ("TUPLE3", "NEWOBJ_EX"),  # 3 -> 1
        15: ("APPEND", "BUILD"),  # 1 -> into the object below
        16: ("SETITEM",),  # 2 -> into the object below
        17: ("STACK_GLOBAL",), 18: ("POP",), 19: ("POP_MARK",), 20: ("DUP",), 21: ("STOP",),
        # 0: PROTO, FRAME, READONLY_BUFFER: nothing on the stack
    }
    by_name = {op.name: ord(op.code) for op in pickletools.opcodes}
    table = [0] * 256
    for action, names in groups.items():
        for name in names:
            table[by_name[name]] = action
    return table


_ACTIONS = _actions()
_SIZES = [0 if k is None or not (k == _NONE or k >= _FIXED_BASE) else (1 if k == _NONE else 1 + k - _FIXED_BASE)
          for k in _KINDS]  # whole size of an opcode with a fixed-size argument; 0: variable


def _arg_end(data, pos: int, op: int) -> int:
    """Offset just past the opcode at `pos` with a variable-size argument (the scan checked it fits)."""
    kind = _KINDS[op]
    pos += 1
    if kind == _LEN1:
        return pos + 1 + data[pos]
    if kind == _LEN4 or kind == _LEN4S:
        return pos + 4 + int.from_bytes(data[pos:pos + 4], "little")
    if kind == _LEN8:
        return pos + 8 + int.from_bytes(data[pos:pos + 8], "little")
    end = data.find(b"\n", pos) + 1
    if kind == _NL2:
        end = data.find(b"\n", end) + 1
    return end


# A run of the same one-byte push (the cheapest way to spend opcodes) is taken whole.
_ONE_BYTE_PUSHES = b"N}])\x88\x89\x8f"
_SAME_RUN = {op: re.compile(re.escape(bytes([op])) + b"+") for op in _ONE_BYTE_PUSHES}


def _text_index(line) -> int:
    try:
        return int(line)
    except ValueError:
        return -1


def check_pickle(data, start: int, end: int) -> None:
    """The structure pass where it is needed (see above); raises PickleTooLarge."""
    if needs_structure_pass(data, start, end):
        check_structure(data, start, end)


def check_structure(data, start: int, end: int, max_nesting: int = MAX_NESTING,
                    max_objects: int = MAX_OBJECTS, max_opcodes: int = MAX_OPCODES) -> None:
    """Raise PickleTooLarge if the pickle in data[start:end] (already scanned) would build an
    object nested deeper than `max_nesting`, push more than `max_objects` objects or take
    more than `max_opcodes` opcodes."""
    actions, sizes = _ACTIONS, _SIZES
    stack: list[int] = []
    push = stack.append
    marks: list[int] = []
    memo: dict[int, int] = {}
    pushes = ops = deepest = 0
    pos = start
    while pos < end:
        op = data[pos]
        size = sizes[op]
        nxt = pos + size if size else _arg_end(data, pos, op)
        act = actions[op]
        ops += 1
        if act == 1:
            if size == 1 and pos + 1 < end and data[pos + 1] == op:
                run = _SAME_RUN[op].match(data, pos, end).end() - pos
                stack.extend([0] * min(run, max_objects + 1))
                pushes += run
                ops += run - 1
                nxt = pos + run
            else:
                push(0)
                pushes += 1
        elif act == 2:
            if stack:
                memo[data[pos + 1]] = stack[-1]
        elif act == 6:
            push(memo.get(data[pos + 1], 0))
            pushes += 1
        elif act == 9:
            marks.append(len(stack))
            pushes += 1
        elif act == 10 or act == 11:
            at = marks.pop() if marks else 0
            d = max(stack[at:], default=-1) + 1
            del stack[at:]
            if act == 10:
                push(d)
            elif stack and d > stack[-1]:
                stack[-1] = d
            if d > deepest:
                deepest = d
        elif act == 13 or act == 12 or act == 14:
            n = act - 11
            d = max(stack[-n:], default=-1) + 1
            del stack[-n:]
            push(d)
            if d > deepest:
                deepest = d
        elif act == 15 or act == 16:
            n = act - 14
            d = max(stack[-n:], default=-1) + 1
            del stack[-n:]
            if stack and d > stack[-1]:
                stack[-1] = d
            if d > deepest:
                deepest = d
        elif act == 3:
            if stack:
                memo[int.from_bytes(data[pos + 1:pos + 5], "little")] = stack[-1]
        elif act == 4:
            if stack:
                memo[_text_index(data[pos + 1:nxt - 1])] = stack[-1]
        elif act == 5:
            if stack:
                memo[len(memo)] = stack[-1]
        elif act == 7:
            push(memo.get(int.from_bytes(data[pos + 1:pos + 5], "little"), 0))
            pushes += 1
        elif act == 8:
            push(memo.get(_text_index(data[pos + 1:nxt - 1]), 0))
            pushes += 1
        elif act == 17:
            del stack[-2:]
            push(0)
        elif act == 18:
            if stack:
                stack.pop()
            elif marks:
                marks.pop()
        elif act == 19:
            del stack[(marks.pop() if marks else 0):]
        elif act == 20:
            if stack:
                push(stack[-1])
                pushes += 1
        elif act == 21:
            break
        if deepest > max_nesting:
            raise PickleTooLarge(f"objects nested more than {max_nesting} levels deep (at offset {pos})")
        if pushes > max_objects or ops > max_opcodes:
            raise PickleTooLarge(f"more than {max_objects:,} objects or {max_opcodes:,} opcodes in one pickle "
                                 "(a checkpoint reader's limit)")
        pos = nxt
