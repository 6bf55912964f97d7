"""The hand-written central-directory reader (zip_directory.py): exact where it answers,
and `zipfile` (with its errors) for everything else."""

from __future__ import annotations

import struct
import zipfile

import pytest
import torch
import torch.nn as nn
from weightmatch.checkpoint import CheckpointError, read_checkpoint, torch_zip
from weightmatch.checkpoint.files import MAX_PICKLE_BYTES
from weightmatch.checkpoint.zip_directory import read_data_pkl

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _state_dict():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).state_dict()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(_state_dict(), path)
    return path


@pytest.fixture
def no_zipfile(monkeypatch):
    """Fail the test if the reader falls back to zipfile."""

    def refuse(*args, **kwargs):
        raise AssertionError("the reader fell back to zipfile")

    monkeypatch.setattr(torch_zip, "_read_with_zipfile", refuse)


def _fast(path):
    with open(path, "rb", buffering=0) as f:
        return read_data_pkl(f, str(path), path.stat().st_size, MAX_PICKLE_BYTES)


def _zipfile_data_pkl(path):
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        return zf.read(name)


def _shapes(ckpt):
    return {k: (v.shape, v.dtype) for k, v in ckpt.obj.items()}


def test_torch_layout_is_read_without_zipfile(saved, no_zipfile):
    raw = saved.read_bytes()
    assert raw.rfind(b"PK\x06\x06") > 0  # torch writes the ZIP64 end records even for small files
    ckpt = read_checkpoint(str(saved))
    assert ckpt.tensor_count == 9 and ckpt.unsafe_globals == []


def test_same_bytes_as_zipfile(saved):
    assert _fast(saved) == _zipfile_data_pkl(saved)


def _central_directory(raw: bytes) -> tuple[int, int, int]:
    """Start and end of the central directory and the offset of the EOCD, in torch's layout."""
    eocd = len(raw) - 22
    assert raw[eocd:eocd + 4] == b"PK\x05\x06"
    z64 = eocd - 20 - 56
    assert raw[z64:z64 + 4] == b"PK\x06\x06"
    cd_size, cd_offset = struct.unpack_from("<QQ", raw, z64 + 40)
    return cd_offset, cd_offset + cd_size, eocd


def _grow_central_directory(raw: bytes, at: int, insert: bytes, patch) -> bytes:
    """Insert bytes into the central directory at `at` and fix the end records' sizes.

    `patch(bytearray)` edits the directory before the sizes are fixed."""
    cd_start, cd_end, _ = _central_directory(raw)
    cd = bytearray(raw[cd_start:cd_end])
    patch(cd)
    cd[at:at] = insert
    tail = bytearray(raw[cd_end:])  # ZIP64 EOCD, locator, EOCD
    grow = len(insert)
    struct.pack_into("<Q", tail, 40, struct.unpack_from("<Q", tail, 40)[0] + grow)  # ZIP64 cd size
    struct.pack_into("<Q", tail, 56 + 8, struct.unpack_from("<Q", tail, 56 + 8)[0] + grow)  # locator
    struct.pack_into("<L", tail, 76 + 12, struct.unpack_from("<L", tail, 76 + 12)[0] + grow)  # EOCD cd size
    return raw[:cd_start] + bytes(cd) + bytes(tail)


def test_zip64_extra_field(saved, tmp_path, no_zipfile):
    # data.pkl's record with its sizes and offset moved into a ZIP64 extra field, as for a
    # member past 4 GiB; zipfile reads it the same way.
    raw = saved.read_bytes()
    cd_start, _, _ = _central_directory(raw)
    assert raw[cd_start + 46:].startswith(b"model/data.pkl")
    csize, usize = struct.unpack_from("<LL", raw, cd_start + 20)
    offset = struct.unpack_from("<L", raw, cd_start + 42)[0]
    name_len = struct.unpack_from("<H", raw, cd_start + 28)[0]

    def patch(cd):
        struct.pack_into("<LL", cd, 20, 0xFFFFFFFF, 0xFFFFFFFF)
        struct.pack_into("<L", cd, 42, 0xFFFFFFFF)
        struct.pack_into("<H", cd, 30, 28)

    extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
    out = tmp_path / "zip64.pt"
    out.write_bytes(_grow_central_directory(raw, 46 + name_len, extra, patch))
    ckpt = read_checkpoint(str(out))
    assert _shapes(ckpt) == _shapes(read_checkpoint(str(saved)))
    assert _fast(out) == _fast(saved)


def test_zip64_extra_field_matches_zipfile(saved, tmp_path):
    raw = saved.read_bytes()
    cd_start, _, _ = _central_directory(raw)
    usize = struct.unpack_from("<L", raw, cd_start + 24)[0]
    name_len = struct.unpack_from("<H", raw, cd_start + 28)[0]

    def patch(cd):
        struct.pack_into("<L", cd, 24, 0xFFFFFFFF)  # only the uncompressed size moves out
        struct.pack_into("<H", cd, 30, 12)

    out = tmp_path / "zip64.pt"
    out.write_bytes(_grow_central_directory(raw, 46 + name_len, struct.pack("<HHQ", 1, 8, usize), patch))
    assert _fast(out) == _zipfile_data_pkl(out) == _zipfile_data_pkl(saved)
    # a ZIP64 field too short for the value it must hold is refused, as zipfile refuses it
    out.write_bytes(_grow_central_directory(raw, 46 + name_len, struct.pack("<HHL", 1, 4, usize),
                                            lambda cd: (patch(cd), struct.pack_into("<H", cd, 30, 8))))
    with pytest.raises(CheckpointError, match="zip64"):
        read_checkpoint(str(out))


def test_plain_zip_without_zip64_records(saved, tmp_path, no_zipfile):
    # zipfile writes no ZIP64 end records for a small archive; the same members still read.
    out = tmp_path / "plain.pt"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    assert b"PK\x06\x06" not in out.read_bytes()[-200:]
    assert _shapes(read_checkpoint(str(out))) == _shapes(read_checkpoint(str(saved)))


def test_truncated_central_directory(saved, tmp_path):
    raw = saved.read_bytes()
    cd_start, cd_end, _ = _central_directory(raw)
    out = tmp_path / "cut.pt"
    # the directory cut short with the end records kept: its size no longer adds up
    out.write_bytes(raw[:cd_end - 30] + raw[cd_end:])
    with pytest.raises(CheckpointError, match="zip"):
        read_checkpoint(str(out))
    # the end records claiming a shorter directory: the last record is cut inside
    shorter = bytearray(raw)
    tail = cd_end
    struct.pack_into("<Q", shorter, tail + 40, cd_end - cd_start - 30)
    struct.pack_into("<Q", shorter, tail + 48, cd_start + 30)
    out.write_bytes(bytes(shorter))
    assert _fast(out) is None
    with pytest.raises(CheckpointError):
        read_checkpoint(str(out))
    # the file cut anywhere inside the directory or its end records
    for cut in range(cd_start, len(raw), 97):
        out.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError):
            read_checkpoint(str(out))


def test_damaged_record_after_data_pkl(saved, tmp_path):
    # torch's reader refuses a damaged directory; so do we, although data.pkl is intact.
    raw = bytearray(saved.read_bytes())
    cd_start, _, _ = _central_directory(bytes(raw))
    second = raw.find(b"PK\x01\x02", cd_start + 4)
    raw[second + 2] = ord("X")
    out = tmp_path / "damaged.pt"
    out.write_bytes(bytes(raw))
    assert _fast(out) is None
    with pytest.raises(CheckpointError, match="zip"):
        read_checkpoint(str(out))


def _rename(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)
    return raw.replace(old, new)


def test_data_pkl_missing(saved, tmp_path):
    out = tmp_path / "renamed.pt"
    out.write_bytes(_rename(saved.read_bytes(), b"model/data.pkl", b"model/data.pkx"))
    assert _fast(out) is None
    with pytest.raises(CheckpointError, match="without data.pkl"):
        read_checkpoint(str(out))


def test_data_pkl_name_hidden_in_a_comment(saved, tmp_path):
    # A fake record inside another record's comment names data.pkl, the real one is gone:
    # the name occurs once but the walk never lands on it, so zipfile decides (and refuses).
    raw = _rename(saved.read_bytes(), b"model/data.pkl", b"model/data.pkx")
    cd_start, _, _ = _central_directory(raw)
    fake = b"PK\x01\x02" + bytes(24) + struct.pack("<H", 14) + bytes(16) + b"model/data.pkl"
    name_len = struct.unpack_from("<H", raw, cd_start + 28)[0]

    def patch(cd):
        struct.pack_into("<H", cd, 32, len(fake))  # the first record's comment length

    out = tmp_path / "hidden.pt"
    out.write_bytes(_grow_central_directory(raw, 46 + name_len, fake, patch))
    assert _fast(out) is None
    with pytest.raises(CheckpointError, match="without data.pkl"):
        read_checkpoint(str(out))


def test_duplicate_data_pkl_keeps_zipfiles_choice(tmp_path):
    import pickle

    out = tmp_path / "dup.pt"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"first": 1}, protocol=2))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("archive/data.pkl", pickle.dumps({"second": 2}, protocol=2))
    assert _fast(out) is None
    assert read_checkpoint(str(out)).obj == {"second": 2}  # zipfile keeps the last


def test_deflated_data_pkl(saved, tmp_path, no_zipfile):
    out = tmp_path / "deflated.pt"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    ckpt = read_checkpoint(str(out))
    assert _shapes(ckpt) == _shapes(read_checkpoint(str(saved)))
    assert ckpt.obj.metadata == read_checkpoint(str(saved)).obj.metadata


def _deflated(tmp_path, data: bytes):
    path = tmp_path / "d.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", data)
        zf.writestr("archive/version", b"3\n")
    return path


def test_damaged_deflate_stream(tmp_path):
    import pickle

    path = _deflated(tmp_path, pickle.dumps({"k" * 50: list(range(300))}, protocol=2))
    raw = bytearray(path.read_bytes())
    start = raw.find(b"archive/data.pkl") + len("archive/data.pkl")
    for i in range(start + 5, start + 40):
        raw[i] ^= 0x55
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="zip"):
        read_checkpoint(str(path))


def test_crc_mismatch(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    key = raw.find(b"0.weight")
    raw[key] = ord("9")  # still a valid pickle, but not the one the CRC was taken of
    out = tmp_path / "crc.pt"
    out.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="CRC"):
        read_checkpoint(str(out))


def test_local_header_name_differs(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    assert raw[30:44] == b"model/data.pkl"  # the first local header
    raw[30:44] = b"model/data.pkx"
    out = tmp_path / "local.pt"
    out.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="differ"):
        read_checkpoint(str(out))


def test_member_running_past_the_end(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    cd_start, _, _ = _central_directory(bytes(raw))
    struct.pack_into("<L", raw, cd_start + 42, len(raw) - 40)  # data.pkl's header near the end
    out = tmp_path / "past.pt"
    out.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError):
        read_checkpoint(str(out))


@pytest.mark.parametrize("kind", ["torchscript", "comment", "non-ascii-folder"])
def test_other_layouts_go_to_zipfile(tmp_path, kind):
    if kind == "torchscript":
        path = tmp_path / "scripted.pt"
        torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(path))
    elif kind == "comment":
        path = tmp_path / "commented.pt"
        torch.save(_state_dict(), path)
        with zipfile.ZipFile(path, "a") as zf:
            zf.comment = b"saved by a test"
    else:  # torch names the folder "archive" then; another writer may not
        saved = tmp_path / "model.pt"
        torch.save(_state_dict(), saved)
        path = tmp_path / "renamed.pt"
        with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                dst.writestr(info.filename.replace("model/", "modèle/"), src.read(info))
    assert _fast(path) is None
    ckpt = read_checkpoint(str(path))
    assert ckpt.tensor_count in (2, 9)
    assert ckpt.torchscript == (kind == "torchscript")


def test_declared_size_over_the_limit_is_refused_before_reading(saved, monkeypatch):
    monkeypatch.setattr(torch_zip, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(CheckpointError, match="declares .* more than the 0 MiB limit"):
        read_checkpoint(str(saved))


def test_directory_size_limit(saved, monkeypatch):
    from weightmatch.checkpoint import zip_directory

    monkeypatch.setattr(zip_directory, "MAX_DIRECTORY_BYTES", 100)
    with pytest.raises(CheckpointError, match="zip directory of .* bytes, more than"):
        read_checkpoint(str(saved))
