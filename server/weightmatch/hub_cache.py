"""Where `torch.hub.load_state_dict_from_url(url)` finds its file: the hub cache.

PyTorch downloads the URL only when `<model_dir>/<file name>` is missing; otherwise it loads that
file with `torch.load` (torch/hub.py, `load_state_dict_from_url`). The folder is `model_dir`, or
`<hub dir>/checkpoints` with the hub dir `$TORCH_HOME/hub` (default `$XDG_CACHE_HOME/torch/hub`,
`~/.cache/torch/hub`); the file name is the URL path's last part, or `file_name`. Written out here
because the server process does not import torch; the test runs the same lookup under PyTorch.
"""

from __future__ import annotations

import os
import zipfile
from urllib.parse import urlparse

# `torch.utils.model_zoo.load_url` is the same function under its old name.
HUB_LOADS = {"torch.hub.load_state_dict_from_url", "torch.utils.model_zoo.load_url"}


def hub_dir() -> str | None:
    """torch.hub.get_dir() as the script would see it, None when $TORCH_HUB (deprecated, still
    honoured by some versions) makes it uncertain."""
    if os.getenv("TORCH_HUB"):
        return None
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return os.path.join(os.path.expanduser(home), "hub")


def cached_file(url: str, model_dir: str | None = None, file_name: str | None = None) -> str | None:
    """The file `load_state_dict_from_url` reads for this URL (whether or not it is there yet)."""
    if model_dir is None:
        hub = hub_dir()
        if hub is None:
            return None
        model_dir = os.path.join(hub, "checkpoints")
    name = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    if not name:
        return None
    return os.path.join(model_dir, name)


def legacy_zip(path: str) -> bool:
    """A zip holding one file (the old hub format, which PyTorch extracts before loading)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            entries = z.infolist()
        return len(entries) == 1 and not entries[0].is_dir()
    except (OSError, zipfile.BadZipFile):
        return False
