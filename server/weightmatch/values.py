"""Abstract values the source interpreter tracks: models, loaded checkpoints, state dicts.

A state dict is tracked as a base (a checkpoint file, a model's state_dict(), an empty
dict) plus the operations applied to it in program order (subscripts, pops,
comprehensions, updates, loops), and is only evaluated against real key lists later.
"""

from __future__ import annotations

import ast
import contextvars
import itertools
from dataclasses import dataclass, field
from typing import Any

from weightmatch.pyfile import PyFile

_ids = itertools.count(1)
_clock = itertools.count(1)


def now() -> int:
    """A point in program order. Every recorded operation and step takes one, and a value
    used at a point sees only the operations recorded before it: Python's aliasing
    semantics (a later `sd.pop(k)` changes `sd` for later loads, not for earlier ones)."""
    return next(_clock)


@dataclass(frozen=True)
class Guard:
    """A condition an operation or step ran under: `test` true (or false, `polarity`).

    `test` None means a condition that can never be known statically (a loop body, an
    except block); `reason` says which.
    """

    test: ast.expr | None
    env: Any  # free names of the test, as tracked values, before the branch
    polarity: bool = True
    reason: str = ""


# The guards of the statement being interpreted. Ops and steps pick them up when they
# are created, so every place that records one needs no extra argument.
CURRENT_GUARDS: contextvars.ContextVar[tuple[Guard, ...]] = contextvars.ContextVar("guards", default=())


def _current_guards() -> tuple[Guard, ...]:
    return CURRENT_GUARDS.get()


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
    guards: tuple[Guard, ...] = field(default_factory=_current_guards)
    seq: int = field(default_factory=now)


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

    def as_of(self, upto: int) -> "ModelVal":
        """The model as it is at point `upto`: only the steps recorded before it."""
        return ModelVal(self.file, self.var, self.call, [st for st in self.steps if st.seq < upto],
                        list(self.wrappers), self.id, self.final_name)


@dataclass
class ModelAttr:
    """`model.module`, `model.backbone`: a submodule of a tracked model."""

    model: ModelVal
    path: list[str]



@dataclass
class At:
    """A mutable tracked value (a dict, a model) as it is at one point of the program."""

    value: Any
    upto: int

    def loaded_file(self):
        return self.value.loaded_file() if isinstance(self.value, SourceVal) else None

    def model_as_of(self):
        """For a model reference: the model (or submodule) with only the steps made so far."""
        v = self.value
        if isinstance(v, ModelVal):
            return v.as_of(self.upto)
        if isinstance(v, ModelAttr):
            return ModelAttr(v.model.as_of(self.upto), list(v.path))
        return v


def frozen(value: Any) -> Any:
    """`value` as it is now; later mutations of the same object do not show through it."""
    if isinstance(value, (SourceVal, ModelVal, ModelAttr)):
        return At(value, now())
    return value


@dataclass
class FileHandle:
    path: Any  # Const | Unknown


@dataclass
class JsonFile:
    """`json.load(open(p))`: the JSON document at `path` (read only if a loop needs it)."""

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
    virtual: Any = None  # At(value): written by torch.save earlier in the same file
    over_shards: bool = False  # `path` is a sharded index; `loader` loads each of its shards (a loop)


@dataclass
class StateDictOf:
    """`model.state_dict()`."""

    model: Any  # At(ModelVal | ModelAttr): the model when state_dict() was called


@dataclass
class EmptyDict:
    ordered: bool


@dataclass
class CondVal:
    """A name bound differently in the two branches of an `if` whose test is known only
    once the checkpoint is read (`if "state_dict" in ckpt: ckpt = ckpt["state_dict"]`)."""

    guard: Guard
    then: Any
    orelse: Any


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
    guards: tuple[Guard, ...] = field(default_factory=_current_guards)
    seq: int = field(default_factory=now)


@dataclass
class SourceVal:
    """A value derived from a base by operations, in order."""

    base: Any  # LoadedFile | StateDictOf | EmptyDict | DictLit | CondVal | SourceVal
    ops: list[Op] = field(default_factory=list)
    base_upto: int | None = None  # a derived value sees its base as it was when derived

    def derive(self, op: Op) -> "SourceVal":
        return SourceVal(self, [op], base_upto=op.seq)

    def loaded_file(self) -> LoadedFile | None:
        base = self.base
        while isinstance(base, (SourceVal, At)):
            base = base.base if isinstance(base, SourceVal) else base.value
        return base if isinstance(base, LoadedFile) else None


@dataclass
class LoadSite:
    """One `<receiver>.load_state_dict(<arg>, strict=..., assign=...)` call."""

    file: PyFile
    call: ast.Call
    receiver: Any  # At(ModelVal | ModelAttr) | Unknown
    arg: Any  # At(SourceVal) | Unknown | Const
    arg_node: ast.expr | None
    strict: Any  # Const(bool) | Unknown
    assign: Any
    statement: ast.stmt


@dataclass
class TorchLoadSite:
    """A `torch.load` / `load_file` call, checked on its own (it can raise before any load)."""

    loaded: LoadedFile
