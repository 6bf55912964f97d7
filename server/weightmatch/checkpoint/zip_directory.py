"""torch.save's `<archive>/data.pkl`, found without building zipfile's view of the archive.

Why this is hand-written: `zipfile.ZipFile` parses every central-directory record into a
`ZipInfo` (one per tensor, ~2.5 µs each), which was a quarter of the time to read a
1,000-tensor checkpoint, although only data.pkl's record is needed. Here the central
directory is one `bytes` blob: names are found with `bytes.find` and the record chain is
checked by a loop that only adds up lengths (~0.27 µs a record).

It is exact where it answers and answers only for the plain layout torch writes; for
anything else it returns None and the caller uses `zipfile`, whose errors and edge cases
(archive comments, data prepended to the archive, encryption, other compression methods,
duplicate or look-alike names, non-ASCII folder names) then apply unchanged:

- The end-of-central-directory record must be the file's last 22 bytes (no comment), with
  the ZIP64 records right before it when torch wrote them (it always does), read the way
  `zipfile._EndRecData64` reads them, and the central directory must end where they start.
- The record chain is walked once (signature, lengths, version needed), so a damaged
  directory goes to `zipfile` and gets its error, as torch's reader would fail on it too;
  no per-record objects are built, which is where zipfile's time went.
- The member is found by its name's bytes. The name must occur exactly once in the whole
  directory blob, so no other record, real or hidden in an extra field, has it (zipfile
  keeps the last of duplicate names), and the walk must pass through that record.
- `constants.pkl` or `code/` under the archive folder anywhere in the blob (a TorchScript
  archive, or something that looks like one) also sends the archive to `zipfile`.
- Only stored (torch) and deflated members; the CRC-32 is checked like zipfile checks it.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO

from .errors import unreadable

_EOCD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries here, entries, cd size, cd offset, comment len
_LOCATOR = struct.Struct("<4sLQL")  # signature, disk with the ZIP64 EOCD, its offset, disks
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disk, cd disk, entries here, entries, cd size, cd offset
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # one central-directory record's fixed 46 bytes
_CHAIN = struct.Struct("<I2xB21xHHH")  # of those: signature, version needed, the three lengths
_MAX_EXTRACT_VERSION = 63  # zipfile's MAX_EXTRACT_VERSION
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # a local file header's fixed 30 bytes
_TAIL = _EOCD64.size + _LOCATOR.size + _EOCD.size  # 98

_CD_SIG, _LOCAL_SIG = b"PK\x01\x02", b"PK\x03\x04"
_CD_SIG_INT = int.from_bytes(_CD_SIG, "little")
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, patched data, strong encryption
_STORED, _DEFLATED = 0, 8
_MASK32 = 0xFFFF_FFFF
# A real directory takes ~70 bytes a record; this is millions of tensors. It bounds the one
# read whose size the file declares before anything is checked.
MAX_DIRECTORY_BYTES = 256 * 1024 * 1024


class _Member:
    __slots__ = ("compress_size", "crc", "file_size", "flags", "header_offset", "method")


def read_data_pkl(f: BinaryIO, path: str, size: int, limit: int) -> bytes | None:
    """data.pkl's bytes, or None when the archive is not in torch's plain layout (use zipfile).

    Raises CheckpointError for a member over `limit`, zipfile.BadZipFile for a damaged
    archive (as zipfile would) and EOFError when the file ends inside the member.
    """
    blob = _central_directory(f, path, size)
    if blob is None:
        return None
    first_name = _record_name(blob, 0)
    if first_name is None:
        return None
    slash = first_name.find(b"/")
    prefix = first_name[: slash + 1] if slash >= 0 else b""
    if not prefix.isascii() or prefix + b"constants.pkl" in blob or prefix + b"code/" in blob:
        return None
    name = prefix + b"data.pkl"
    found = blob.find(name)
    if found < 46 or blob.find(name, found + 1) >= 0 or not _chain_passes(blob, found - 46, len(name)):
        return None
    member = _member(blob, found - 46)
    if member is None:
        return None
    if member.file_size > limit:
        raise unreadable(path, f"{name.decode()} declares {member.file_size} bytes, "
                               f"more than the {limit >> 20} MiB limit")
    return _read_member(f, size, name, member)


def _central_directory(f: BinaryIO, path: str, size: int) -> bytes | None:
    if size < _EOCD.size:
        return None
    tail_start = max(0, size - _TAIL)
    f.seek(tail_start)
    tail = f.read(size - tail_start)
    if len(tail) != size - tail_start:
        return None
    sig, disk, cd_disk, _, entries, cd_size, cd_offset, comment = _EOCD.unpack_from(tail, len(tail) - _EOCD.size)
    if sig != b"PK\x05\x06" or comment:
        return None
    end = size - _EOCD.size  # where the central directory must end
    locator_at = len(tail) - _EOCD.size - _LOCATOR.size
    if locator_at >= 0 and tail[locator_at:locator_at + 4] == b"PK\x06\x07":
        _, z64_disk, _, disks = _LOCATOR.unpack_from(tail, locator_at)
        if z64_disk or disks > 1:
            return None  # zipfile refuses multi-disk archives; let it say so
        if locator_at < _EOCD64.size or tail[:4] != b"PK\x06\x06":
            return None  # a locator without the record zipfile expects before it
        fields = _EOCD64.unpack_from(tail, 0)
        disk, cd_disk, entries, cd_size, cd_offset = fields[4], fields[5], fields[7], fields[8], fields[9]
        end = size - _TAIL
    if disk or cd_disk or not entries or cd_offset + cd_size != end:
        return None  # multi-disk, empty, or data before the archive: zipfile's business
    if cd_size > MAX_DIRECTORY_BYTES:
        raise unreadable(path, f"a zip directory of {cd_size} bytes, more than the "
                               f"{MAX_DIRECTORY_BYTES >> 20} MiB limit")
    f.seek(cd_offset)
    blob = f.read(cd_size)
    if len(blob) != cd_size:
        raise zipfile.BadZipFile("Truncated central directory")
    return blob


def _record_name(blob: bytes, at: int) -> bytes | None:
    if blob[at:at + 4] != _CD_SIG or at + 46 > len(blob):
        return None
    name_len = int.from_bytes(blob[at + 28:at + 30], "little")
    if at + 46 + name_len > len(blob):
        return None
    return blob[at + 46:at + 46 + name_len]


def _chain_passes(blob: bytes, target: int, name_len: int) -> bool:
    """Whether the records from the first one tile the whole blob, one of them starting at
    `target` with that name length. ~0.27 µs a record: the one per-record loop left."""
    at = _walk(blob, 0, target)
    if at != target or int.from_bytes(blob[at + 28:at + 30], "little") != name_len:
        return False
    return _walk(blob, at, len(blob)) == len(blob)


def _walk(blob: bytes, at: int, stop: int) -> int:
    """The offset of the first record at or after `stop` (or the blob's end), -1 if damaged."""
    unpack, sig, last = _CHAIN.unpack_from, _CD_SIG_INT, min(stop, len(blob) - 46)
    while at <= last and at < stop:
        magic, version, n, m, k = unpack(blob, at)
        if magic != sig or version > _MAX_EXTRACT_VERSION:
            return -1
        at += 46 + n + m + k
    return at


def _member(blob: bytes, at: int) -> _Member | None:
    if at + 46 > len(blob):
        return None
    rec = _CENTRAL.unpack_from(blob, at)
    name_len, extra_len, comment_len = rec[12], rec[13], rec[14]
    if at + 46 + name_len + extra_len + comment_len > len(blob):
        return None  # zipfile reads such a record short; not torch's layout
    m = _Member()
    m.flags, m.method, m.crc = rec[5], rec[6], rec[9]
    m.compress_size, m.file_size, m.header_offset = rec[10], rec[11], rec[18]
    extra = blob[at + 46 + name_len:at + 46 + name_len + extra_len]
    _decode_zip64(m, extra)
    if m.flags & _UNSUPPORTED_FLAGS or m.method not in (_STORED, _DEFLATED):
        return None
    return m


def _decode_zip64(m: _Member, extra: bytes) -> None:
    """zipfile's `ZipInfo._decodeExtra`: the ZIP64 field replaces 32-bit fields set to 0xFFFFFFFF."""
    while len(extra) >= 4:
        kind, length = struct.unpack("<HH", extra[:4])
        if length + 4 > len(extra):
            raise zipfile.BadZipFile(f"Corrupt extra field {kind:04x} (size={length})")
        if kind == 0x0001:
            data = extra[4:length + 4]
            for field in ("file_size", "compress_size", "header_offset"):
                if getattr(m, field) == _MASK32:
                    if len(data) < 8:
                        raise zipfile.BadZipFile(f"Corrupt zip64 extra field. {field} not found.")
                    setattr(m, field, int.from_bytes(data[:8], "little"))
                    data = data[8:]
        extra = extra[length + 4:]


def _read_member(f: BinaryIO, size: int, name: bytes, m: _Member) -> bytes | None:
    if m.method == _STORED and m.compress_size != m.file_size:
        return None  # zipfile reads the shorter of the two; rare enough to leave to it
    if m.method == _DEFLATED and m.compress_size > m.file_size + (m.file_size >> 6) + 4096:
        return None  # more input than any deflate stream of that output needs: zipfile streams it
    f.seek(m.header_offset)
    header = f.read(_LOCAL.size)
    if len(header) != _LOCAL.size:
        raise zipfile.BadZipFile("Truncated file header")
    fields = _LOCAL.unpack(header)
    if fields[0] != _LOCAL_SIG:
        raise zipfile.BadZipFile("Bad magic number for file header")
    name_len, extra_len = fields[10], fields[11]
    if m.header_offset + _LOCAL.size + name_len + extra_len + m.compress_size > size:
        raise EOFError  # the member runs past the end of the file: do not allocate what it claims
    rest = f.read(name_len + extra_len + m.compress_size)
    if rest[:name_len] != name:
        if len(rest) < name_len:
            raise EOFError
        raise zipfile.BadZipFile(f"File name in directory {name.decode()!r} and header {rest[:name_len]!r} differ.")
    raw = rest[name_len + extra_len:]
    if len(raw) != m.compress_size:
        raise EOFError  # the file ends inside the member
    if m.method == _DEFLATED:
        decompressor = zlib.decompressobj(-15)
        try:
            data = decompressor.decompress(raw, m.file_size + 1)
        except zlib.error as e:
            raise zipfile.BadZipFile(f"invalid deflate data in {name.decode()} ({e})") from None
        if len(data) != m.file_size:
            raise zipfile.BadZipFile(f"{name.decode()} does not inflate to its declared {m.file_size} bytes")
    else:
        data = raw
    if zlib.crc32(data) != m.crc:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {name.decode()!r}")
    return data  # at most m.file_size bytes, which the caller checked against the limit
