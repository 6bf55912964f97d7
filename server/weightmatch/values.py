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


class PathStr(str):
    """The text of a `pathlib.Path` object: a path wherever a string is read, but no `str` to
    `isinstance` and never equal to a string (`Path("w.pt") == "w.pt"` is False)."""

    __slots__ = ()


@dataclass
class Remade(Unknown):
    """A library object known only as the call that makes it (`torch.device('cpu')`): unknown to
    every question asked of it, written into a recipe as that call (`expr`)."""

    expr: Any = None
    origin: str = ""  # the assumptions behind its arguments, as Const.origin


class MaybeUnset(Unknown):
    """An attribute set on some paths only: whether it exists at all is not known."""


@dataclass
class ModelPart(Unknown):
    """`model.get_submodule(name)` with `name` known only at run time: some part of `model`
    (a change made through it changes the model in a way the recipe cannot replay)."""

    model: Any = None


@dataclass
class KeySnapshot(Unknown):
    """`keys = list(sd.keys())` / `sorted(sd)`: the state dict `name` held and how many changes it
    had then; its keys are read from the checkpoint while `sd` has had no change since."""

    name: str = ""
    sd: Any = None
    ops: int = 0
    sort: bool = False

    def current(self, env: Any) -> bool:
        """Whether `name` still holds the state dict, unchanged since the snapshot."""
        return env.get(self.name) is self.sd and len(self.sd.ops) == self.ops


@dataclass
class Const:
    value: Any
    # where an assumed value came from, for messages: "--num-classes at its default, 10"
    origin: str = ""


def origins(values: list[Any]) -> str:
    """Where known values came from, each once: the origin of a value computed from them."""
    seen: list[str] = []
    for v in values:
        for part in (v.origin.split("; ") if isinstance(v, Const) and v.origin else []):
            if part not in seen:
                seen.append(part)
    return "; ".join(seen)


@dataclass
class Step:
    text: str  # a statement replayed after construction, with the model variable as written
    node: ast.stmt
    target: str = ""  # the attribute path it assigns, "fc", "classifier.6"; "" for calls
    wrap: str | None = None  # rebinds the model to a wrapper ("module", "_orig_mod"; "" keeps keys)
    subs: Any = None  # Substitutions for `node` (see calls.substitutions)
    guards: tuple[Guard, ...] = field(default_factory=_current_guards)
    seq: int = field(default_factory=now)
    file: Any = None  # the PyFile the statement is in, when not the model's own (a Trainer's method)


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
    # values of the free names of `call` where it ran (a function's parameters, `args`, `cfg`):
    # the recipe writes the known ones in as literals (models.recipe_for)
    bindings: dict[str, Any] = field(default_factory=dict)
    cls: Any = None  # the ClassVal it was made from, when it is a workspace class
    subs: Any = None  # Substitutions for `call`: known values written in (see calls.substitutions)
    wrapped_by: str = ""  # the outermost wrapper's class, by torch's name ("torch.nn.DataParallel")
    # Substitutions for `call` written to be replayed in another file (the workspace's classes as
    # imports of their modules): a module a factory in one file makes, passed to a model made in
    # another (DETR's `build_backbone(args)` then `DETR(backbone, ...)`); None for one made in the script
    portable: Any = None
    # `model.eval()` / `model.train(mode)` as the script calls them: (seq, training; None when the
    # mode is not known), so a later step is replayed in the mode it ran in (models.recipe_for)
    modes: list[tuple[int, bool | None]] = field(default_factory=list)
    # plain data its own `__init__`, followed for its loads, set on it (`self.opts = opts`), read
    # back by the methods it calls (pSp's `torch.load(self.opts.checkpoint_path)`)
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def attribute(self, name: str) -> Any:
        """`model.<name>`: plain data its followed `__init__` kept there, else a part of the model."""
        return self.data[name] if name in self.data else ModelAttr(self, [name])

    def as_of(self, upto: int) -> "ModelVal":
        """The model as it is at point `upto`: only the steps recorded before it."""
        return ModelVal(self.file, self.var, self.call, [st for st in self.steps if st.seq < upto],
                        list(self.wrappers), self.id, self.final_name, None, self.bindings, self.cls, self.subs,
                        self.wrapped_by, self.portable, [m for m in self.modes if m[0] < upto], self.data)


@dataclass
class Substitutions:
    """Known values to write into a recipe's text in place of the names that held them, so the
    recipe stands alone (`SmallCNN(num_classes=args.num_classes)` -> `SmallCNN(num_classes=10)`)."""

    by_span: dict[tuple[int, int, int, int], ast.expr] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the assumptions made: "--num-classes at its default, 10"
    error: str = ""  # a value the recipe needs is known only at run time: why, for the user
    spread: set = field(default_factory=set, repr=False, compare=False)  # ids of `**value` nodes
    arguments: set = field(default_factory=set, repr=False, compare=False)  # ids of a call's argument nodes
    globals: dict[str, str] = field(default_factory=dict)  # Recipe.script_globals: module-level names, as literals
    undecorated: list[str] = field(default_factory=list)  # Recipe.undecorated
    registries: dict[str, dict[str, str]] = field(default_factory=dict)  # Recipe.registries
    argv: list[str] = field(default_factory=list)  # Recipe.argv: the arguments the run is analysed with
    import_dirs: list[str] = field(default_factory=list)  # Recipe.import_dirs
    # the items of a list written in module by module (`nn.Sequential(*layers)`), by the span of
    # the name: ModelVals and plain values, so a layer is located where its module was made
    inlined: dict[tuple[int, int, int, int], list] = field(default_factory=dict, repr=False, compare=False)

    def render(self, node: ast.AST, pf: PyFile, reasons: bool = True) -> str:
        """`node`'s source with the known values written in. Without `reasons`, the objects'
        reasons for the attributes left out are dropped (the worker never reads them, and they
        name lines: a recipe that changed with every line moved would be built again)."""
        if not self.by_span:
            return pf.segment(node)
        import copy

        by_span = self.by_span

        class _Put(ast.NodeTransformer):
            def visit(self, n):
                key = (getattr(n, "lineno", -1), getattr(n, "col_offset", -1), getattr(n, "end_lineno", -1),
                       getattr(n, "end_col_offset", -1))
                if key in by_span:
                    put = copy.deepcopy(by_span[key])
                    return put if reasons else _WithoutReasons().visit(put)
                return self.generic_visit(n)

        return ast.unparse(_Put().visit(copy.deepcopy(node)))


class _WithoutReasons(ast.NodeTransformer):
    """`recipe_objects.made(Config, {'x': 'why'}, ...)` -> `…made(Config, {'x': ''}, ...)` (and
    `namespace`): the worker needs which attributes are not known, not why."""

    def visit_Call(self, n: ast.Call) -> ast.AST:
        self.generic_visit(n)
        func = n.func
        if isinstance(func, ast.Attribute) and func.attr in ("made", "namespace") and isinstance(func.value, ast.Call) \
                and func.value.args and isinstance(func.value.args[0], ast.Constant) \
                and func.value.args[0].value == "weightmatch.recipe_objects":
            n.args = [ast.Dict(a.keys, [ast.Constant("") for _ in a.values]) if isinstance(a, ast.Dict) else a
                      for a in n.args]
        return n


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
    text: bool = True  # opened in text mode (`read()` gives a str)
    # read from already (`f.readline()`, a `for line in f`): where it stands is not followed
    used: bool = field(default=False, compare=False)
    lines_taken: int = field(default=0, compare=False)  # lines `next(f)` took (a header skipped)


@dataclass
class JsonFile:
    """`json.load(open(p))`: the JSON document at `path` (read only if a loop needs it)."""

    path: Any  # Const | Unknown
    kind: str = "json"  # "json" | "yaml" | "toml" | "text" (`open(p).read()`: the text itself)


# ---------------------------------------------------------------- state dict sources
@dataclass
class LoadedFile:
    """`torch.load(p)` / `safetensors.torch.load_file(p)`."""

    path: Any  # Const(str) | Unknown
    call: ast.Call
    file: PyFile
    loader: str  # "torch" | "safetensors"
    weights_only: bool | None  # None: PyTorch's default (True)
    virtual: Any = None  # At(value): written by torch.save earlier in this run; Unknown: perhaps overwritten
    over_shards: bool = False  # `path` is a sharded index; `loader` loads each of its shards (a loop)


@dataclass
class StateDictOf:
    """`model.state_dict()`."""

    model: Any  # At(ModelVal | ModelAttr): the model when state_dict() was called


def model_state(model: Any) -> SourceVal:
    """`model.state_dict()` as the model is now (a ModelVal, or a ModelAttr for a submodule)."""
    return SourceVal(StateDictOf(frozen(model)))


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


# ---------------------------------------------------------------- program values
@dataclass
class FuncVal:
    """A function (or method) defined in a workspace file; `self_value` for a bound method."""

    file: PyFile
    node: ast.FunctionDef | ast.AsyncFunctionDef
    owner: str = ""  # "Solver." for a method
    self_value: Any = None
    closure: Any = None  # the environment a nested function sees
    decorated: bool = False  # its decorators were the workspace's own, applied (a registry's `register`)

    def __deepcopy__(self, memo: dict) -> "FuncVal":
        return self  # as Python's deepcopy treats a function: the same object


@dataclass
class ClassVal:
    """A class defined in a workspace file."""

    file: PyFile
    node: ast.ClassDef
    is_module: bool  # an nn.Module subclass (through workspace bases)
    dataclass: bool = False
    # its decorators are the workspace's own and gave back the class itself (`@MODELS.register_module()`):
    # the builders define it without them (Recipe.undecorated)
    undecorated: bool = field(default=False, compare=False)

    def __deepcopy__(self, memo: dict) -> "ClassVal":
        return self  # as Python's deepcopy treats a class: the same object


@dataclass
class MethodsOf:
    """An object's methods a loop over a state dict's keys calls (CycleGAN's
    `self.__patch_instance_norm_state_dict(state_dict, net, key.split("."))`): their definitions."""

    methods: dict[str, ast.FunctionDef]


@dataclass
class ObjVal:
    """A plain object whose attributes are tracked: an argparse Namespace, a SimpleNamespace,
    an instance of a workspace class that is not a module (a Trainer, a Config)."""

    attrs: dict[str, Any]
    name: str  # for messages: "the argparse namespace", "Solver"
    cls: ClassVal | None = None
    # why attributes not in `attrs` may still exist (`setattr(args, k, v)` with `k` not known)
    unsure: str = ""


@dataclass
class SuperOf:
    """`super()` / `super(C, self)` in a method of a plain workspace class: `obj`'s attributes
    looked up in the classes after C (a single-inheritance chain)."""

    obj: ObjVal
    classes: list  # the ClassVals after C, nearest first


@dataclass(frozen=True)
class LibRef:
    """A torch layer class used as a value (`norm_layer=nn.LayerNorm`, `act = nn.GELU`), by its
    dotted name; a recipe names it `__import__('torch').nn.LayerNorm`."""

    dotted: str


@dataclass
class PartialVal:
    """`functools.partial(Net, in_features=4)` of a workspace class or function, or of a torch
    layer class (a registry's value, `norm_layer=partial(nn.LayerNorm, eps=1e-6)`)."""

    func: Any  # ClassVal | FuncVal | LibRef | PartialVal
    args: list[Any]
    kwargs: dict[str, Any]


@dataclass
class SeqVal:
    """A list or tuple literal holding tracked values (`[("G", netG), ("D", netD)]`)."""

    items: list[Any]


@dataclass
class ModVal:
    """A workspace module imported as a whole (`import config`)."""

    file: PyFile


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
    # how the interpreter got here when it followed calls: "load_model() as called from main.py:37"
    context: str = ""
    guards: tuple = ()  # the conditions the call itself runs under: what it loads shares them
    via_super: bool = False  # `super().load_state_dict(...)` in a model's own override
    unreached: str = ""  # why the run never gets here (exits.py): the load is not judged
    # reached from a function nothing calls, run with its parameters unknown (not a run of the script)
    uncalled: bool = False
    api: str = ""  # "" for load_state_dict; "safetensors" for safetensors.torch.load_model(model, path)
    # the assumptions behind the `if` tests decided on the way here ("no GPU visible (...)")
    decided: tuple = ()


@dataclass
class TorchLoadSite:
    """A `torch.load` / `load_file` call, checked on its own (it can raise before any load)."""

    loaded: LoadedFile
    guards: tuple = field(default_factory=_current_guards)  # the conditions it runs under


def loaded_files(value) -> list[LoadedFile]:
    """The torch.load / load_file calls whose result makes up `value`: its base, and what its
    operations merged in (`sd.update(load_file(shard))`, `sd[k] = other[k]`, a loop's source).
    Iterative and bounded: a chain of 2,000 reassignments is a 2,000-deep value. Each part is
    walked once: values share parts (a dict updated in a loop, both branches of an `if` built
    on one base), and walking every path through them took seconds (litgpt's tests)."""
    out: list[LoadedFile] = []
    stack, seen = [value], set()
    while stack and len(seen) < 100_000:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, At):
            stack.append(value.value)
        elif isinstance(value, SourceVal):
            stack.append(value.base)
            for op in value.ops:
                stack.extend(op.arg if isinstance(op.arg, tuple) else (op.arg,))
        elif isinstance(value, LoadedFile):
            out.append(value)
        elif isinstance(value, CondVal):
            stack += [value.then, value.orelse]
        elif isinstance(value, DictLit):
            stack.extend(value.entries.values())
    return out


def unsure(obj: "ObjVal") -> "Unknown":
    """Why an attribute of `obj` is not known after a change not followed (`obj.unsure`: the reason,
    or the Unknown an undecided branch settled it to)."""
    return obj.unsure if isinstance(obj.unsure, Unknown) else Unknown(str(obj.unsure))
