"""Build a recipe's model on the meta device and describe it as load_state_dict sees it.

Runs in the worker child only (imports torch). `build(recipe)` returns a protocol
message: the packed state (see protocol.py) or an error with its kind.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import sys
import textwrap
import traceback
from typing import Any, Iterator

import torch
from torch import nn

from weightmatch.load_overrides import dropped_keys
from weightmatch.worker import protocol, torchvision_compat
from weightmatch.worker.replay import MAIN_NAME, Replay, bound_names
from weightmatch.worker.workspace_imports import WorkspaceFinder

# --------------------------------------------------------------------------- module facts
_Module = nn.Module
_NormBase = nn.modules.batchnorm._NormBase
_InstanceNorm = nn.modules.instancenorm._InstanceNorm
_BASE_LOAD = _Module._load_from_state_dict
_NORM_LOAD = _NormBase._load_from_state_dict
_INSTANCE_LOAD = _InstanceNorm._load_from_state_dict
_BASE_GET_EXTRA = _Module.get_extra_state
_BASE_SET_EXTRA = _Module.set_extra_state


def _benign_hook(hook: Any) -> bool:
    """Load hooks torch registers by itself whose effect compare already models.

    In torch 2.13 the code that registers load_state_dict hooks by itself is:
    LazyModuleMixin (`_lazy_load_hook`: materialises an uninitialized parameter with the
    checkpoint's shape — that is what TensorInfo(shape=None) means: benign, known);
    `nn.utils.spectral_norm` (rewrites old keys from their values' metadata), checkpoint_wrapper (strips `_checkpoint_wrapped_module.`), FSDP2 and the
    quantization lowering: all change which keys load, so they stay custom_load.
    parametrizations.weight_norm's compat hook is a plain rename compare models
    (`_weight_norm_compat_name`, ModuleSpec.old_weight_norm).
    """
    func = getattr(hook, "__func__", hook)
    inner = getattr(func, "func", None)  # functools.partial around a bound method
    for f in (func, inner, getattr(inner, "__func__", None)):
        if f is not None and getattr(f, "__name__", "") == "_lazy_load_hook":
            return True
    return False


def _class_load(cls: type) -> str:
    """How instances of `cls` load, judged from the class alone.

    "plain": Module's own `_load_from_state_dict`; "norm": _NormBase's (modelled by
    `norm_fixup`); "instance": _InstanceNorm's (with running stats it adds _NormBase's
    fix-up; without them, a checkpoint without metadata that holds running_mean/var records
    an error, which compare models too); "custom": anything else.
    """
    load = cls._load_from_state_dict
    if load is _BASE_LOAD:
        return "plain"
    if load is _NORM_LOAD:
        return "norm"
    if load is _INSTANCE_LOAD:
        return "instance"
    return "frozen" if _drops_num_batches(cls) else "custom"


def _drops_num_batches(cls: type) -> bool:
    """FrozenBatchNorm2d's override (torchvision's, DETR's copy): it deletes
    `num_batches_tracked`, then loads as nn.Module does (load_overrides.py reads its source);
    its first base that loads must be nn.Module's own."""
    own = next((c for c in cls.__mro__ if "_load_from_state_dict" in vars(c)), None)
    later = next((c for c in cls.__mro__[cls.__mro__.index(own) + 1:] if "_load_from_state_dict" in vars(c)), None) \
        if own is not None else None
    if own is None or later is not _Module:
        return False
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(vars(own)["_load_from_state_dict"]))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return False
    return isinstance(node, ast.FunctionDef) and dropped_keys(node) == ("num_batches_tracked",)


def _extra_state_flags(cls: type) -> int:
    """EXTRA_STATE when loading consults set_extra_state (Module._load_from_state_dict's test),
    EXTRA_SAVED when state_dict() calls get_extra_state (Module._save_to_state_dict's)."""
    flags = protocol.EXTRA_STATE if getattr(cls, "set_extra_state", _BASE_SET_EXTRA) is not _BASE_SET_EXTRA else 0
    if getattr(cls, "get_extra_state", _BASE_GET_EXTRA) is not _BASE_GET_EXTRA:
        flags |= protocol.EXTRA_SAVED
    return flags


def _flags(module: nn.Module, kind: str, extra: int) -> int:
    """protocol flag bits: NORM_FIXUP, EXTRA_STATE, EXTRA_SAVED, CUSTOM_LOAD (see ModuleSpec)."""
    flags = extra
    if kind == "custom":
        flags |= protocol.CUSTOM_LOAD
    elif kind == "frozen":
        flags |= protocol.DROPS_NUM_BATCHES
    elif kind != "plain":
        tracks = bool(getattr(module, "track_running_stats", False))
        if tracks:  # _NormBase fills in num_batches_tracked for an old checkpoint
            flags |= protocol.NORM_FIXUP
    pre, post = module._load_state_dict_pre_hooks, module._load_state_dict_post_hooks
    for hooks, is_pre in ((pre, True), (post, False)):
        for h in hooks.values():
            hook = getattr(h, "hook", h)
            if _benign_hook(hook):
                continue
            if is_pre and _weight_norm_compat_name(hook) == "weight":
                flags |= protocol.OLD_WEIGHT_NORM
            else:
                flags |= protocol.CUSTOM_LOAD
    return flags


def _weight_norm_compat_name(hook: Any) -> str | None:
    """The parameter name parametrizations.weight_norm's compat hook renames old keys for (it
    stays registered after remove_parametrizations); None for any other hook."""
    if getattr(hook, "__name__", "") != "_weight_norm_compat_hook" or \
            getattr(hook, "__module__", "") != "torch.nn.utils.parametrizations":
        return None
    cells = dict(zip(hook.__code__.co_freevars, hook.__closure__ or ()))
    try:
        name = cells["name"].cell_contents
    except (KeyError, ValueError):
        return None
    return name if isinstance(name, str) else None


def _type_name(cls: type) -> str:
    mod = cls.__module__
    if mod == MAIN_NAME:
        mod = "__main__"
    return f"{mod}.{cls.__qualname__}"


def pack(model: nn.Module) -> dict[str, Any]:
    """The packed state (protocol.py) of `model`, visiting `_modules` like load_state_dict."""
    classes: dict[type, tuple[int, str, int, Any]] = {}
    dtypes: dict[Any, int] = {}
    rows: list[list[Any]] = []
    lazy_base = nn.parameter.UninitializedTensorMixin
    lazy_by_type: dict[type, bool] = {}  # isinstance on Parameter's metaclass is slow

    def tensors(items: Any, skip: Any = ()) -> list[Any]:
        flat: list[Any] = []
        for name, t in items:
            if t is None or name in skip:
                continue
            d = dtypes.get(t.dtype)
            if d is None:
                d = dtypes[t.dtype] = len(dtypes)
            lazy = lazy_by_type.get(type(t))
            if lazy is None:
                lazy = lazy_by_type[type(t)] = issubclass(type(t), lazy_base)
            flat += (name, None if lazy else list(t.shape), d)
        return flat

    ancestors: set[int] = set()
    stack: list[Any] = [model]
    no_names: list[str] = []
    while stack:
        m = stack.pop()
        if m is None:  # marker: leaving a module with children
            ancestors.discard(stack.pop())
            continue
        cls = type(m)
        facts = classes.get(cls)
        if facts is None:
            facts = classes[cls] = (len(classes), _class_load(cls), _extra_state_flags(cls),
                                    getattr(cls, "_version", None))
        ti, kind, extra, version = facts
        if kind == "plain" and not extra and not m._load_state_dict_pre_hooks and not m._load_state_dict_post_hooks:
            flags = 0  # the common case, without a call
        else:
            flags = _flags(m, kind, extra)
        params = m._parameters
        buffers = m._buffers
        row = [ti, version, flags, no_names, no_names,
               tensors(params.items()) if params else no_names,
               tensors(buffers.items(), m._non_persistent_buffers_set) if buffers else no_names]
        rows.append(row)
        modules = m._modules
        if modules:
            key = id(m)
            if key in ancestors:
                raise RecursionError(f"module cycle: {cls.__name__} contains itself")
            row[3] = list(modules)
            row[4] = [n for n, c in modules.items() if c is None]
            ancestors.add(key)
            stack += (key, None)
            stack += [c for c in reversed(modules.values()) if c is not None]
    return {
        "model_type": type(model).__name__,
        "types": [_type_name(t) for t in classes],
        "dtypes": [str(d).removeprefix("torch.") for d in dtypes],
        "rows": rows,
    }


def expected_state(model: nn.Module) -> Any:
    """What the server receives for `model`: its ExpectedState, packed, sent as JSON and unpacked.
    The one model -> expected-state function; tests judge it by load_state_dict itself."""
    return protocol.unpack_state(protocol.loads(protocol.dumps(pack(model))), [])


# --------------------------------------------------------------------------- patches
class SkippedWeights(dict):
    """Returned instead of downloaded weights; load_state_dict(SkippedWeights) does nothing."""


def _skip_download(*args: Any, **kwargs: Any) -> SkippedWeights:
    return SkippedWeights()


def _blocked(*args: Any, **kwargs: Any) -> Any:
    raise OSError("network access is blocked while Weight Match builds a model")


def install_permanent_patches() -> None:
    """Done once at worker start, before torchvision can bind `load_state_dict_from_url`."""
    import socket
    import torch.hub
    import torch.utils.model_zoo

    torch.hub.load_state_dict_from_url = _skip_download
    torch.utils.model_zoo.load_url = _skip_download
    torch.hub.download_url_to_file = _blocked
    socket.socket.connect = _blocked  # type: ignore[method-assign]
    socket.socket.connect_ex = _blocked  # type: ignore[method-assign]
    socket.create_connection = _blocked
    torchvision_compat.install()


def _returns_self(self: Any, *args: Any, **kwargs: Any) -> Any:
    return self


def _meta_tensor_to(original: Any) -> Any:
    def to(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not self.is_meta:
            return original(self, *args, **kwargs)
        # A meta tensor cannot move: keep only a dtype conversion, if any.
        kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        kwargs.pop("memory_format", None)
        dtype = kwargs.pop("dtype", None)
        for a in args:
            if isinstance(a, torch.dtype):
                dtype = a
            elif isinstance(a, torch.Tensor):
                dtype = a.dtype
        return self if dtype is None or dtype == self.dtype else original(self, dtype)

    return to


INIT_FILLS = ("uniform_", "normal_", "random_", "bernoulli_", "exponential_", "geometric_", "cauchy_",
              "log_normal_", "zero_", "fill_")


def _meta_fill_skipped(original: Any) -> Any:
    def fill(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if type(self) in _PLAIN_TENSORS and self.is_meta and not any(
                isinstance(a, torch.Tensor) for a in (*args, *kwargs.values())):
            return self
        return original(self, *args, **kwargs)

    return fill


_PLAIN_TENSORS = (torch.Tensor, nn.Parameter)


@contextlib.contextmanager
def build_patches() -> Iterator[None]:
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        if hasattr(owner, name):
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    for name in ("to", "cuda", "cpu", "xpu", "mps", "ipu", "mtia", "half", "float", "double",
                 "bfloat16", "type", "to_empty", "share_memory"):
        patch(_Module, name, _returns_self)
    def load_state_dict(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        # A load the model makes while it is built (latent-diffusion's `init_from_ckpt` in
        # `__init__`) changes no shape when it succeeds, and is judged as a load of its own
        # (interpret's follow_init_loads); run here it would only turn a mismatch into "cannot
        # build the model". Skipped weights (downloads) are not there to load anyway.
        return nn.modules.module._IncompatibleKeys([], [])

    patch(_Module, "load_state_dict", load_state_dict)
    patch(torch.Tensor, "to", _meta_tensor_to(torch.Tensor.to))
    for name in ("cuda", "cpu", "pin_memory"):
        original = getattr(torch.Tensor, name)
        patch(torch.Tensor, name, (lambda orig: lambda self, *a, **k: self if self.is_meta else orig(self, *a, **k))(original))
    # Filling a meta tensor with values changes nothing (no data, same shape), but each call
    # still runs PyTorch's Python decomposition: ~60 µs per `uniform_`, most of the time of
    # building a model of many small layers (every nn.Linear's reset_parameters). Skip them
    # on meta tensors when no tensor argument could make them raise a shape error.
    for name in INIT_FILLS:
        original = getattr(torch.Tensor, name, None)
        if original is not None:
            patch(torch.Tensor, name, _meta_fill_skipped(original))
    # `self.conv.weight.data = W` of a CPU tensor (WaveGlow's Invertible1x1Conv) on a meta
    # parameter: PyTorch refuses the mix of devices, a run on one device does not; the parameter
    # takes the value's shape on the meta device, as set_data gives it its shape there.
    data = torch._C.TensorBase.__dict__.get("data")
    own_data = "data" in torch.Tensor.__dict__
    if data is not None and not own_data:
        def set_data(self: torch.Tensor, value: Any) -> None:
            if isinstance(value, torch.Tensor) and self.is_meta and not value.is_meta:
                value = torch.empty_like(value, device="meta")
            data.__set__(self, value)

        torch.Tensor.data = property(data.__get__, set_data)
    try:
        yield
    finally:
        if data is not None and not own_data:
            del torch.Tensor.data
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


# --------------------------------------------------------------------------- build
class BuildFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _is_memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "DefaultCPUAllocator" in text or "out of memory" in text
        or "bad_alloc" in text
    )


def _user_frame(exc: BaseException, user_files: set[str]) -> str | None:
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<step "):
            where = frame.filename.strip("<>")
        elif os.path.realpath(frame.filename) in user_files:
            where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
    return where


def _classify(exc: BaseException, replay: Replay, runtime_names: dict[str, int], where: str) -> BuildFailure:
    frame = _user_frame(exc, replay.user_files)
    at = f" ({frame})" if frame else ""
    if _is_memory_error(exc):
        return BuildFailure("memory", f"the model needs more memory than the worker allows while {where}{at}")
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        name = exc.name
        if name in replay.failed:
            return BuildFailure("user-code", f"name '{name}' is not defined: {replay.failed[name]}{at}")
        if name in runtime_names:
            return BuildFailure(
                "unresolved",
                f"'{name}' is only set when the script runs (line {runtime_names[name]}); "
                f"its value is unknown before{at}",
            )
    if isinstance(exc, SystemExit):
        last = f"SystemExit: {exc.code}"
    elif isinstance(exc, RecursionError):
        last = f"RecursionError: {exc}"
    else:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return BuildFailure("user-code", f"{last}{at} while {where}")


def _torchvision_used(model: nn.Module, namespaces: list[dict[str, Any]]) -> bool:
    if any(type(m).__module__.startswith("torchvision") for m in model.modules()):
        return True
    for ns in namespaces:
        for value in ns.values():
            name = getattr(value, "__name__", None) if isinstance(value, type(sys)) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.startswith("torchvision"):
                return True
    return False


def _holder(obj: Any, constructor: str) -> nn.Module:
    """An object that is not a module but holds modules in its attributes (a cog Predictor's
    `self.model`): a bare nn.Module with those as its children, for loads into them."""
    held = [(k, v) for k, v in vars(obj).items() if isinstance(v, nn.Module)] if hasattr(obj, "__dict__") else []
    if not held:
        raise BuildFailure("user-code", f"`{constructor}` made a {type(obj).__name__}, not an nn.Module")
    root = nn.Module()
    for name, module in held:
        root.add_module(name, module)
    return root


_REAL_BUILD_LIMIT = 20_000_000  # elements (80 MB of float32): made again on the CPU when a step needs values


_REAL_BUILD_MEMORY = 2 << 30  # bytes a build on the CPU may add: a large model fails (MemoryError), never swaps


@contextlib.contextmanager
def _memory_capped(extra: int):
    """The process's data size limited to what it uses now plus `extra` (Linux), then restored."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
    except (ImportError, OSError, StopIteration, ValueError):
        yield
        return
    cap = used + extra if hard == resource.RLIM_INFINITY else min(hard, used + extra)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _made(code: Any, recipe: dict[str, Any], ns: dict[str, Any], at: list[str]) -> None:
    """Run the constructor and the steps in `ns`; `at[0]` says which one runs (for a failure)."""
    at[0] = f"building `{recipe['constructor']}`"
    exec(code, ns)
    for number, step in enumerate(recipe["steps"], 1):
        at[0] = f"applying `{step}`"
        exec(compile(step, f"<step {number}>", "exec"), ns)


def _numel(model: Any) -> float:
    try:
        return sum(t.numel() for t in [*model.parameters(), *model.buffers()])
    except Exception:  # noqa: BLE001 - not a module: no second build
        return float("inf")


def build(recipe: dict[str, Any]) -> dict[str, Any]:
    """Replay `recipe` (protocol field names) and return the reply message's body."""
    import ast

    replay = Replay(recipe["root"], recipe["file"])
    replay.import_dirs = [str(d) for d in recipe.get("import_dirs") or [] if os.path.isdir(str(d))]
    for place in recipe.get("undecorated") or []:
        path, _, line = str(place).rpartition(":")
        if line.isdigit():
            replay.undecorated.add((os.path.realpath(path), int(line)))
    finder = WorkspaceFinder(replay)
    old_cwd = os.getcwd()
    try:
        runtime_names = bound_names(ast.parse(recipe["source"], recipe["file"]))
    except SyntaxError as exc:
        return {"ok": False, "kind": "user-code",
                "message": f"SyntaxError: {exc.msg} ({os.path.basename(recipe['file'])}:{exc.lineno})", "files": []}
    sys.meta_path.insert(0, finder)
    old_argv = sys.argv
    sys.argv = [recipe["file"], *(recipe.get("argv") or [])]  # the run analysed, never the worker's own
    try:
        if recipe["root"] and os.path.isdir(recipe["root"]):
            os.chdir(recipe["root"])  # relative paths in constructors, as when run from the root
        where = "replaying the script's definitions"
        try:
            with build_patches():
                ns = replay.run_script(recipe["source"], recipe["file"])
                for name, text in (recipe.get("script_globals") or {}).items():
                    ns[name] = ast.literal_eval(text)  # literals only: no code runs
                where = f"building `{recipe['constructor']}`"
                line = int(recipe.get("constructor_line") or 0)
                # Compile at the constructor's line so a traceback points there.
                code = compile("\n" * line + f"{recipe['var']} = {recipe['constructor']}", recipe["file"], "exec")
                at = [where]
                try:
                    with torch.device("meta"):
                        _made(code, recipe, ns, at)
                except (NotImplementedError, TypeError, RuntimeError, ValueError) as exc:
                    # code that needs tensor values (`prune.global_unstructured` ranks weights,
                    # latent diffusion's `register_schedule` calls `.numpy()`, whisper's
                    # `.to_sparse()`): a small model is made again, on the CPU
                    made = ns.get(recipe["var"])  # (None when the constructor itself needed values)
                    if "meta" not in str(exc).lower() or made is not None and _numel(made) > _REAL_BUILD_LIMIT:
                        raise
                    with _memory_capped(_REAL_BUILD_MEMORY):
                        _made(code, recipe, ns, at)
                finally:
                    where = at[0]
                model = ns[recipe["var"]]
                holder = "" if isinstance(model, nn.Module) else type(model).__name__
                if holder:
                    model = _holder(model, recipe["constructor"])
                with protocol.gc_paused():
                    packed = pack(model)
        except BuildFailure as failure:
            return {"ok": False, "kind": failure.kind, "message": failure.message, "files": replay.files}
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code
            failure = _classify(exc, replay, runtime_names, where)
            return {"ok": False, "kind": failure.kind, "message": failure.message, "files": replay.files}
        notes = []
        tv = torchvision_compat.note()
        if tv:
            spaces = [ns] + [vars(sys.modules[n]) for n in replay.module_names if n in sys.modules]
            if _torchvision_used(model, spaces):
                notes.append(tv)
        return {"ok": True, "state": packed, "files": replay.files, "notes": notes, "holder": holder}
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        replay.cleanup()
