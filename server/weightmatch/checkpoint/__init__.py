"""The checkpoint reader: what a checkpoint file holds, without tensor data and without
running any of its pickle code. Never imports torch (the language server stays torch-free).

    read_checkpoint(path) -> Checkpoint        raises CheckpointError
    CheckpointCache().get(path) -> Checkpoint  the same, cached by realpath, size and mtime
    tensor_entries(obj), state_dict_candidates(obj)   for viewers and for nested checkpoints
"""

from __future__ import annotations

import os
import stat

from ..types import Checkpoint
from . import files
from .cache import CheckpointCache
from .errors import CheckpointError, not_found, unreadable
from .legacy import read_legacy
from .safetensors_header import looks_like_safetensors, read_safetensors
from .sharded import read_index
from .torch_zip import read_zip
from .walk import count_tensors, state_dict_candidates, tensor_entries

__all__ = [
    "CheckpointCache", "CheckpointError", "read_checkpoint", "state_dict_candidates", "tensor_entries",
]


def read_checkpoint(path: str) -> Checkpoint:
    """Read a torch.save file (zip or legacy), a TorchScript archive, a safetensors file or a
    sharded `*.index.json`. Only CheckpointError escapes, whatever the file holds."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise not_found(path) from None
    except (OSError, ValueError) as e:
        raise unreadable(path, _describe(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise unreadable(path, "it is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise unreadable(path, "not a regular file")
    try:
        checkpoint = _read(path, st.st_size)
    except CheckpointError:
        raise
    except Exception as e:  # hostile input must end here, as a diagnostic
        raise unreadable(path, _describe(e)) from None
    checkpoint.tensor_count = count_tensors(checkpoint.obj)
    return checkpoint


def _read(path: str, size: int) -> Checkpoint:
    if size == 0:
        raise unreadable(path, "the file is empty")
    with files.open_binary(path) as f:
        head = f.read(16)
        f.seek(0)
        if head[:2] == b"PK":
            return read_zip(f, path, size)
        # before the legacy check: a safetensors header of 128 + 256k bytes starts with 0x80 too
        # (a legacy file's 9th byte is inside its magic number, never "{")
        if looks_like_safetensors(head):
            return read_safetensors(f, path, size)
        if head[:1] == b"\x80":
            return read_legacy(f, path, size)
        if head.lstrip()[:1] == b"{" or path.endswith(".json"):
            return read_index(f, path, size, read_checkpoint)
        f.seek(257)
        if f.read(5) == b"ustar":
            raise unreadable(path, "a tar archive: PyTorch's pre-0.4 tar format is not supported")
    raise unreadable(path, "not a torch.save, TorchScript, safetensors or sharded-index file")


def _describe(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "objects nested too deeply"
    if isinstance(e, MemoryError):
        return "it needs more memory than a checkpoint reader may use"
    if isinstance(e, EOFError):
        return "the file ends early (truncated?)"
    text = str(e).splitlines()[0][:200] if str(e) else ""
    kind = {"UnpicklingError": "invalid pickle", "OverBudget": "over the reader's budget", "BadZipFile": "damaged zip archive"}.get(type(e).__name__, type(e).__name__)
    return f"{kind}: {text}" if text else kind
