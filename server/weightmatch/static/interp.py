"""The abstract interpreter: runs `__init__` bodies (and the helpers they call) over
abstract values, without importing or running anything.

It follows Python's and nn.Module's rules for the constructs it knows and raises
StaticUnsupported for every other one: a wrong guess is worse than no answer.
"""

from __future__ import annotations

from typing import Any

from . import sources
from .calling import Calls
from .expressions import Expressions
from .modules import ModuleOps
from .names import Names
from .statements import Statements


class Interp(Names, Statements, Expressions, Calls):
    """The state of one run; the rules are in its mixins (names, statements, expressions,
    calling) and, for nn.Module and torch, in `self.ops` (modules.ModuleOps)."""

    def __init__(self, root: str, deps: dict[str, tuple | None] | None = None,
                 buffers: sources.Buffers | None = None) -> None:
        self.root = root
        self.deps = deps if deps is not None else {}  # path -> fingerprint of every file looked at
        self.buffers = buffers  # the editor's unsaved text of workspace files, read before the disk
        self.steps = 0
        self.depth = 0
        self.globals: dict[str, dict[str, Any]] = {}  # file path -> evaluated top-level names
        self.pending: set[tuple[str, str]] = set()
        self.undecorated: set[tuple[str, int]] = set()  # (real path, line): Recipe.undecorated
        self.import_dirs: list[str] = []  # Recipe.import_dirs
        self.ops = ModuleOps(self)
