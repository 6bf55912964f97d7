"""Abstract values the source interpreter tracks: models, loaded checkpoints, state dicts.

A state dict is tracked as a base (a checkpoint file, a model's state_dict(), an empty
dict) plus the operations applied to it in program order (subscripts, pops,
comprehensions, updates, loops), and is only evaluated against real key lists later.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Any

from weightmatch.pyfile import PyFile

_ids = itertools.count(1)


@dataclass
class Unknown:
    reason: str


@dataclass
class Const:
    value: Any


@dataclass
class Step:
    text: str  # a statement replayed after construction, with the model variable as written
    node: ast.stmt
    target: str = ""  # the attribute path it assigns, "fc", "classifier.6"; "" for calls
    wrap: str | None = None  # rebinds the model to a wrapper ("module", "_orig_mod"; "" keeps keys)


@dataclass
class ModelVal:
    """A model object: how it is built, what was done to it, and how it is wrapped."""

    file: PyFile
    var: str
    call: ast.expr  # the constructor expression (device/dtype moves stripped)
    steps: list[Step] = field(default_factory=list)
    wrappers: list[str] = field(default_factory=list)  # prefixes, innermost first: ["module"]
    id: int = field(default_factory=lambda: next(_ids))
    final_name: str = ""  # the name bound to the object load_state_dict sees (a wrapper's)
    pending_wrap: ast.Call | None = None


@dataclass
class ModelAttr:
    """`model.module`, `model.backbone`: a submodule of a tracked model."""

    model: ModelVal
    path: list[str]


@dataclass
class FileHandle:
    path: Any  # Const | Unknown


# ---------------------------------------------------------------- state dict sources
@dataclass
class LoadedFile:
    """`torch.load(p)` / `safetensors.torch.load_file(p)`."""

    path: Any  # Const(str) | Unknown
    call: ast.Call
    file: PyFile
    loader: str  # "torch" | "safetensors"
    weights_only: bool | None  # None: PyTorch's default (True)
    virtual: "SourceVal | None" = None  # written by torch.save earlier in the same file


@dataclass
class StateDictOf:
    """`model.state_dict()`."""

    model: ModelVal | ModelAttr


@dataclass
class EmptyDict:
    ordered: bool


@dataclass
class DictLit:
    """`{"epoch": 3, "model_state_dict": model.state_dict()}`."""

    entries: dict[Any, Any]


@dataclass
class Op:
    kind: str  # "subscript" | "pop" | "del" | "update" | "comprehension" | "loop" | "strip-prefix" | "setitem"
    arg: Any = None
    node: ast.AST | None = None
    env: dict[str, Any] = field(default_factory=dict)  # free names of a comprehension/loop


@dataclass
class SourceVal:
    """A value derived from a base by operations, in order."""

    base: Any  # LoadedFile | StateDictOf | EmptyDict | SourceVal (a frozen copy)
    ops: list[Op] = field(default_factory=list)

    def frozen(self) -> "SourceVal":
        return SourceVal(self.base, list(self.ops))

    def derive(self, op: Op) -> "SourceVal":
        return SourceVal(self.frozen(), [op])

    def loaded_file(self) -> LoadedFile | None:
        base = self.base
        while isinstance(base, SourceVal):
            base = base.base
        return base if isinstance(base, LoadedFile) else None


@dataclass
class LoadSite:
    """One `<receiver>.load_state_dict(<arg>, strict=..., assign=...)` call."""

    file: PyFile
    call: ast.Call
    receiver: Any  # ModelVal | ModelAttr | Unknown
    arg: Any  # SourceVal | Unknown | Const
    arg_node: ast.expr | None
    strict: Any  # Const(bool) | Unknown
    assign: Any
    statement: ast.stmt


@dataclass
class TorchLoadSite:
    """A `torch.load` / `load_file` call, checked on its own (it can raise before any load)."""

    loaded: LoadedFile
