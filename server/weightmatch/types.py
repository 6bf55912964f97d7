"""The engine's shared vocabulary: small plain dataclasses, no LSP types, no torch.

Every part of the engine (checkpoint readers, the model worker, the static model
builder, compare, the analyzer) speaks in these types, and the language server and
CLI only translate them. Lines and columns are 0-based here (as in `ast` columns and
LSP); the CLI adds one when it prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "information", "hint"]
# How an expected state was obtained: built on the meta device by the worker, or
# inferred from constructor arguments without running user code.
How = Literal["executed", "static"]


@dataclass(frozen=True)
class TensorInfo:
    """Shape and dtype of one tensor, never its data.

    `shape` is None for an uninitialized (lazy) parameter, whose shape PyTorch does
    not check. `dtype` is torch's name without the `torch.` prefix ("float32").
    """

    shape: tuple[int, ...] | None
    dtype: str = "float32"

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape or ():
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_SIZES.get(self.dtype, 4)

    def shape_text(self) -> str:
        return "uninitialized" if self.shape is None else "[" + ", ".join(map(str, self.shape)) + "]"


DTYPE_SIZES = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "complex128": 16, "complex64": 8,
    "complex32": 4, "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "uint16": 2,
    "uint32": 4, "uint64": 8, "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1,
    "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "qint8": 1, "quint8": 1, "qint32": 4,
}


@dataclass(frozen=True)
class Opaque:
    """An object in a checkpoint that is not a tensor and was not rebuilt.

    `name` is the global it was made from ("argparse.Namespace"); a reader never
    calls that global.
    """

    name: str
    detail: str = ""


@dataclass(frozen=True)
class SavedNamespace(Opaque):
    """An `argparse.Namespace` / `types.SimpleNamespace` saved in a checkpoint (`ckpt["args"]`):
    its attributes, read as the data pickle stores them (the class is never called)."""

    attrs: dict = field(default_factory=dict, hash=False, compare=False)


NAMESPACE_GLOBALS = ("argparse.Namespace", "types.SimpleNamespace")


@dataclass(frozen=True)
class SavedModule(Opaque):
    """A whole `nn.Module` pickled into a checkpoint (`torch.save(model, p)`, yolov5's
    `ckpt["model"]`), read as data: the keys and shapes its `state_dict()` gives, from the
    `_parameters`, `_buffers` and `_modules` pickle stores (no class is called).

    `classes` maps each module's path to its class's global name: what that `state_dict()`
    call does depends on those classes as the script imports them, so a reader checks them
    before using `state` (materialize.py). `why` is set, and `state` empty, when the
    pickled objects are not what nn.Module stores (or a state_dict hook is registered)."""

    state: dict = field(default_factory=dict, hash=False, compare=False)
    classes: dict = field(default_factory=dict, hash=False, compare=False)
    why: str = ""


@dataclass(frozen=True)
class RuntimeValue:
    """A value put into a state dict that is known only at run time (`sd[k] = torch.tensor(...)`,
    `{"w": make()}`): it may or may not be a tensor of the right shape, so no verdict may rest on it."""

    reason: str = "a value known only at run time"


class StateDict(dict):
    """A mapping read from a checkpoint, keeping PyTorch's `_metadata` (per-module
    version numbers: `{"": {"version": 1}, "bn1": {"version": 2}}`) when it was saved.

    Values are TensorInfo, Opaque, RuntimeValue, or plain Python values (nested dicts are StateDict
    too). `metadata` is None when the saved object had no `_metadata` attribute (a
    plain dict, or a comprehension's result), which changes BatchNorm's fix-up.
    """

    metadata: dict[str, dict[str, Any]] | None = None
    ordered: bool = False  # an OrderedDict in the file (for messages only)


@dataclass
class Checkpoint:
    """What a checkpoint file holds, read without tensor data and without running pickle code."""

    path: str
    format: str  # "torch-zip" | "torch-legacy" | "safetensors" | "sharded" | "torchscript"
    size: int  # bytes on disk (all shards for a sharded checkpoint)
    obj: Any  # the root object: a StateDict, a list, an Opaque, ...
    # Globals `torch.load(weights_only=True)` would refuse ("argparse.Namespace"); empty when it loads.
    unsafe_globals: list[str] = field(default_factory=list)
    tensor_count: int = 0
    # For a TorchScript archive: it must be loaded with torch.jit.load, not torch.load.
    torchscript: bool = False
    shards: list[str] = field(default_factory=list)
    # For a sharded index: each shard as read, without its tensors (obj None): what loading that
    # one file would do (format, refused globals), without keeping its keys twice.
    shard_headers: list["Checkpoint"] = field(default_factory=list)


@dataclass
class ModuleSpec:
    """One module of a model as load_state_dict sees it (one `_modules` level)."""

    path: str  # "" for the root, "layer1.0.conv1"
    type: str  # qualified class name, "torch.nn.modules.linear.Linear"
    params: dict[str, TensorInfo] = field(default_factory=dict)  # registered, not None
    buffers: dict[str, TensorInfo] = field(default_factory=dict)  # persistent, not None
    # every name in `_modules`, in order, including ones set to None
    children: list[str] = field(default_factory=list)
    # names in `_parameters` / `_buffers` set to None: a checkpoint key for them is unexpected
    # but they are not expected either
    version: int | None = None  # the class's `_version`
    # _NormBase with track_running_stats: an old checkpoint (version < 2 or no
    # metadata) without num_batches_tracked gets it filled in instead of missing
    norm_fixup: bool = False
    # the class overrides set_extra_state: loading expects "<prefix>_extra_state" (missing without
    # it); otherwise that key is unexpected. This is what load_state_dict consults.
    extra_state: bool = False
    # the class overrides get_extra_state: state_dict() has "<prefix>_extra_state" (None: as extra_state)
    saves_extra_state: bool | None = None
    # the class overrides _load_from_state_dict in a way compare does not model, or the
    # module has load_state_dict hooks: the prediction for it is not exact
    custom_load: bool = False
    # parametrizations.weight_norm's compat hook (on `weight`): before the module loads, a
    # checkpoint holding both `<prefix>weight_g` and `<prefix>weight_v` (torch.nn.utils.weight_norm's
    # keys) has them renamed to `<prefix>parametrizations.weight.original0` / `original1`
    old_weight_norm: bool = False
    # names its `_load_from_state_dict` deletes from the state dict before loading as nn.Module
    # does (FrozenBatchNorm2d: "num_batches_tracked"; load_overrides.py): ignored, never unexpected
    drops: tuple[str, ...] = ()
    # static inference only: (path, ast node) of the call that made this module, and of each
    # bare `nn.Parameter(...)`, when made in a workspace file; where a squiggle goes when the
    # layer is built in a loop, a helper or an imported module that the source walk cannot reach
    # static inference only: the class defines its own load_state_dict (user code runs when the
    # load is called on this module itself rather than through super())
    overrides_load: bool = field(default=False, compare=False)
    origin: Any = field(default=None, compare=False)
    param_origins: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class ExpectedState:
    """The model's side of the comparison."""

    modules: dict[str, ModuleSpec]  # by path, "" is the root
    how: How
    model_type: str  # "GoogLeNet"
    notes: list[str] = field(default_factory=list)
    # the object built is not an nn.Module but holds modules (a Predictor's `self.model`): its
    # class name; the root stands for the object, so only loads into its modules are judged
    holder: str = ""
    # tied weights (one Parameter under two names, `lm_head.weight = wte.weight`): each later
    # key -> the first key of its tensor; known where static inference built the model
    tied: dict[str, str] = field(default_factory=dict)

    def keys(self) -> dict[str, TensorInfo]:
        """The model's state_dict() keys in PyTorch's order."""
        out: dict[str, TensorInfo] = {}

        def walk(path: str) -> None:
            spec = self.modules[path]
            prefix = path + "." if path else ""
            for name, info in spec.params.items():
                out[prefix + name] = info
            for name, info in spec.buffers.items():
                out[prefix + name] = info
            if spec.extra_state if spec.saves_extra_state is None else spec.saves_extra_state:
                out[prefix + "_extra_state"] = TensorInfo(None, "object")
            for child in spec.children:
                child_path = prefix + child
                if child_path in self.modules:
                    walk(child_path)

        if "" in self.modules:
            walk("")
        return out

    def with_prefix(self, prefix: str, wrapper_type: str) -> "ExpectedState":
        """The state of a wrapper (DataParallel: "module", torch.compile: "_orig_mod") around this model."""
        modules = {prefix if not p else f"{prefix}.{p}": _rehome(s, prefix) for p, s in self.modules.items()}
        modules[""] = ModuleSpec(path="", type=wrapper_type, children=[prefix])
        tied = {f"{prefix}.{k}": f"{prefix}.{v}" for k, v in self.tied.items()}
        return ExpectedState(modules, self.how, self.model_type, list(self.notes), tied=tied)


def _rehome(spec: ModuleSpec, prefix: str) -> ModuleSpec:
    from dataclasses import replace

    return replace(spec, path=prefix if not spec.path else f"{prefix}.{spec.path}")


@dataclass(frozen=True)
class Span:
    """A range in a file; 0-based lines and columns (in characters), end exclusive.

    In a notebook, after `weightmatch.notebook.Notebook.span` mapped it: `cell` is the
    cell's 0-based position among all the notebook's cells and lines count inside that
    cell. None everywhere else (the engine works on a notebook's joined text)."""

    path: str  # absolute
    line: int
    column: int
    end_line: int
    end_column: int
    cell: int | None = None


@dataclass(frozen=True)
class TextEdit:
    span: Span
    new_text: str


@dataclass
class Fix:
    """A quick fix: applying every edit makes the load succeed under PyTorch."""

    title: str
    kind: str  # "strict-false" | "filter-shapes" | "strip-prefix" | "add-prefix" | "select-nested" | "use-checkpoint-size" | "rename-keys"
    edits: list[TextEdit]
    preferred: bool = False


@dataclass
class KeyRow:
    """One state_dict key of a load, for hovers and reports."""

    key: str
    saved: TensorInfo | None  # None: not in the checkpoint
    current: TensorInfo | None  # None: not in the model
    status: str  # "ok" | "size-mismatch" | "missing" | "unexpected" | "not-a-tensor" | "ignored"


@dataclass
class Finding:
    code: str
    severity: Severity
    message: str
    span: Span  # where the squiggle goes
    load_call: Span  # the load_state_dict (or torch.load) call it belongs to
    keys: list[str] = field(default_factory=list)
    rows: list[KeyRow] = field(default_factory=list)
    related: list[tuple[Span, str]] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    how: How | None = None
    # modules of the model that load their own way (own _load_from_state_dict, load hooks):
    # what happens at and below them is not checked
    inexact: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """Everything known about one load_state_dict call."""

    call: Span
    strict: bool | None  # None: not a literal
    raises: bool | None  # None: could not be resolved
    model: str = ""  # "ModifiedCNN (built on the meta device)"
    how: How | None = None
    checkpoint: Checkpoint | None = None
    source: str = ""  # what is loaded, in words: "model.pth ['model_state_dict']"
    rows: list[KeyRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Recipe:
    """How to build the model that a load_state_dict call is made on.

    The worker replays it on the meta device: the definitions of `file` (imports,
    classes, functions, simple constants — never other top-level code), then
    `var = <constructor>`, then each step. The static builder reads the same fields
    without running anything. Wrappers (DataParallel, torch.compile) and a receiver
    below the model (`model.backbone.load_state_dict`) are applied by the analyzer to
    the built state, not by the builders.
    """

    file: str  # absolute path of the script whose definitions are replayed
    source: str  # that file's text as the editor has it
    root: str  # workspace root; workspace imports resolve here and next to `file`
    var: str  # the model variable's name, as the steps use it
    constructor: str  # a Python expression: "models.googlenet(weights=None, aux_logits=False)"
    constructor_line: int = 0  # 0-based line of the constructor call in `file`
    steps: list[str] = field(default_factory=list)  # "model.fc = nn.Linear(model.fc.in_features, 2)"
    # module-level names of `file` and their values when the constructor ran, as Python literals
    # ({"nz": "100"}: dcgan's `nz = int(opt.nz)`, read by `Generator.__init__`): values our
    # interpreter knows but a definitions-only replay cannot compute (parse_args() never runs there)
    script_globals: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)  # sys.argv[1:] of the run analysed, as the replay sees it
    # classes ("path:line" of the `class` line) whose decorators the analysis followed and found to give
    # back the class itself (`@MODELS.register_module()` filling a registry that is run-time state in
    # a replay): both builders define them without their decorators
    undecorated: list[str] = field(default_factory=list)
    # registry objects of imported workspace modules ({path: {name: expression}}: `MODELS =
    # Registry("models")` filled by `@MODELS.register_module()`), as objects of their class holding
    # the classes registered: static inference reads them where a model's `__init__` builds a part
    # from the registry (the replay never makes them: `Registry(...)` is run-time state there)
    registries: dict[str, dict[str, str]] = field(default_factory=dict)
    # folders the script (or a module it imports: `import _init_paths`) put on `sys.path` before
    # the model was made, absolute: both builders find workspace imports there too
    import_dirs: list[str] = field(default_factory=list)

    def cache_key(self) -> str:
        return self.key_with(self.source)

    def key_with(self, source: str, tag: str = "") -> str:
        """A key over the recipe's fields with `source` standing for its text (e.g. a digest of
        its AST without positions, for caches that outlive edits which cannot change a model)."""
        import hashlib

        h = hashlib.sha256(tag.encode() + b"\0" if tag else b"")
        globals_ = [f"{k}={v}" for k, v in sorted(self.script_globals.items())]
        for part in (self.file, self.root, self.var, self.constructor, *self.steps, *globals_, "\0argv", *self.argv,
                     "\0undecorated", *self.undecorated, "\0import_dirs", *self.import_dirs,
                     "\0registries", *(f"{p}:{n}={t}" for p, names in sorted(self.registries.items())
                                        for n, t in sorted(names.items())), source):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        return h.hexdigest()
