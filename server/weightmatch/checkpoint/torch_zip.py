"""torch.save's zip format (PyTorch >= 1.6) and TorchScript archives.

Only the central directory (read from the end of the file) and the `data.pkl` record are
read; the `data/<key>` records holding tensor bytes never are. `zip_directory` finds
data.pkl in the layout torch writes; every other archive goes through `zipfile`.
"""

from __future__ import annotations

import zipfile
from typing import Any, BinaryIO

from ..types import Checkpoint, Opaque, StateDict
from .errors import unreadable
from .files import MAX_PICKLE_BYTES
from .pickle_scan import PickleInvalid, PickleTooLarge, PickleTruncated, check_pickle, scan_pickle
from .unpickler import MAX_DEPTH, _Stub, _Tensor, to_engine, unpickle
from .zip_directory import read_data_pkl

TORCHSCRIPT_REASON = "TorchScript archive (torch.load(weights_only=True) refuses it; use torch.jit.load)"


def load_pickle(data: bytes, path: str, what: str) -> tuple[Any, set[str]]:
    """Scan, then unpickle one pickle safely: the placeholder tree and the weights_only verdict."""
    try:
        scan = scan_pickle(data)
        check_pickle(data, 0, scan.end)
    except PickleTruncated:
        raise unreadable(path, f"{what} is truncated (the file may be incomplete)") from None
    except PickleTooLarge as e:
        raise unreadable(path, f"{what} is over the reader's budget: {e}") from None
    except PickleInvalid as e:
        raise unreadable(path, f"{what} is not a valid pickle ({e})") from None
    raw, unsafe = unpickle(data[: scan.end])
    return raw, unsafe | scan.unsafe()


def _record_prefix(names: list[str]) -> str:
    # torch names every record "<archive>/<record>"; the archive folder is whatever the
    # file was first saved as ("archive", "model", "sd"), and the first record tells it.
    first = names[0]
    return first.split("/", 1)[0] + "/" if "/" in first else ""


def read_member(zf: zipfile.ZipFile, name: str, path: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_PICKLE_BYTES:
        raise unreadable(path, f"{name} declares {info.file_size} bytes, more than the {MAX_PICKLE_BYTES >> 20} MiB limit")
    with zf.open(info) as member:
        data = member.read(MAX_PICKLE_BYTES + 1)
    if len(data) > MAX_PICKLE_BYTES:
        raise unreadable(path, f"{name} expands past the {MAX_PICKLE_BYTES >> 20} MiB limit")
    return data


def read_zip(f: BinaryIO, path: str, size: int) -> Checkpoint:
    data = read_data_pkl(f, path, size, MAX_PICKLE_BYTES)
    if data is None:
        data, torchscript = _read_with_zipfile(f, path)
    else:
        torchscript = False  # read_data_pkl leaves anything that may be TorchScript to zipfile
    raw, unsafe = load_pickle(data, path, "data.pkl")
    if torchscript:
        obj = torchscript_state(raw)
        return Checkpoint(path=path, format="torchscript", size=size, obj=obj,
                          unsafe_globals=[TORCHSCRIPT_REASON], torchscript=True)
    return Checkpoint(path=path, format="torch-zip", size=size, obj=to_engine(raw),
                      unsafe_globals=sorted(unsafe))


def _read_with_zipfile(f: BinaryIO, path: str) -> tuple[bytes, bool]:
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile as e:
        raise unreadable(path, f"not a valid zip archive ({e})") from None
    with zf:
        names = zf.namelist()
        if not names:
            raise unreadable(path, "the zip archive is empty")
        prefix = _record_prefix(names)
        name_set = set(names)
        torchscript = prefix + "constants.pkl" in name_set or any(n.startswith(prefix + "code/") for n in names)
        pickle_name = prefix + "data.pkl"
        if pickle_name not in name_set:
            candidates = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if not candidates:
                raise unreadable(path, "a zip archive without data.pkl, so not written by torch.save")
            pickle_name = candidates[0]
        return read_member(zf, pickle_name, path), torchscript


def torchscript_state(raw: Any) -> Any:
    """The tensors of a scripted module's attribute tree, keyed like its state_dict.

    A TorchScript data.pkl pickles each submodule as a `__torch__.<class>` object whose
    state is its attribute dict; tensors there are its parameters and buffers.
    """
    out = StateDict()
    seen: set[int] = set()

    def walk(obj: Any, prefix: str, depth: int) -> None:
        if depth > MAX_DEPTH or id(obj) in seen:
            return
        seen.add(id(obj))
        state = obj.wm_state
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]
        if not isinstance(state, dict):
            return
        for key, value in state.items():
            if not isinstance(key, str):
                continue
            if isinstance(value, _Tensor):
                out[prefix + key] = to_engine(value)
            elif isinstance(value, _Stub):
                walk(value, prefix + key + ".", depth + 1)

    if isinstance(raw, _Stub):
        walk(raw, "", 0)
    return out if out else Opaque("torchscript")
