"""`weightmatch/checkpointContents` {"path"}: what a checkpoint holds, for the viewer.

Read without tensor data and without running pickle code (the engine's readers); a
file the reader refuses comes back with "error" set rather than as a failed request.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pygls.uris import to_fs_path

from weightmatch.lsp.convert import checkpoint_contents
from weightmatch.lsp.documents import LARGE_CHECKPOINT
from weightmatch.lsp.isolation import isolated

if TYPE_CHECKING:
    from weightmatch.lsp.server import WeightMatchServer

METHOD = "weightmatch/checkpointContents"


def read_contents(server: "WeightMatchServer", path: str) -> dict[str, Any]:
    """In the pool: the answer for one path, errors included."""
    from weightmatch.checkpoint import CheckpointError

    try:
        ckpt = server.project_for(path).checkpoint_contents(path)
    except CheckpointError as e:
        return checkpoint_contents(path, None, [], str(e))
    try:
        from weightmatch.checkpoint import tensor_entries

        entries = tensor_entries(ckpt.obj)
    except Exception as e:  # the listing failed, the header did not: show what is known
        server.log("warning", f"Listing tensors of {path} failed: {e!r}")
        return checkpoint_contents(path, ckpt, [], f"could not list the tensors: {e}")
    return checkpoint_contents(path, ckpt, entries, None)


def setup(server: "WeightMatchServer") -> None:
    @server.feature(METHOD)
    @isolated(lambda: None)
    async def contents(ls: "WeightMatchServer", params: Any) -> dict[str, Any]:
        raw = params.get("path") if isinstance(params, dict) else getattr(params, "path", None)
        if not isinstance(raw, str) or not raw:
            return checkpoint_contents("", None, [], 'expected {"path": "<file path or uri>"}')
        path = to_fs_path(raw) if raw.startswith("file:") else raw
        path = os.path.abspath(os.path.expanduser(path or raw))
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
        if size > LARGE_CHECKPOINT:
            async with ls.progress("Weight Match", f"Reading {os.path.basename(path)} ({size // 2**20} MB)…"):
                return await ls.run_in_pool(read_contents, ls, path)
        return await ls.run_in_pool(read_contents, ls, path)
