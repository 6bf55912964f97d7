"""Message shapes between the engine (client) and the worker child: JSON lines.

Shared by both sides, so it imports neither torch nor anything heavy. The child runs in
the user's interpreter, which may be older than ours: keep this to the standard library.

Client → child, one object per line:
    {"id": 7, "op": "build", "recipe": {<Recipe fields>}}
    {"id": 8, "op": "probe"}
Child → client:
    {"event": "ready", "python": "3.11.7", "torch": "2.13.0+cpu" | null, "error": str | null}
    {"id": 7, "ok": true, "state": <packed state>, "files": [abs paths], "notes": [...]}
    {"id": 7, "ok": false, "kind": "user-code", "message": "...", "files": [...]}
    {"id": 8, "ok": true, "probe": {...}}

A built model is packed as flat lists, not one object per tensor, so that a model with
100,000 parameters crosses the pipe in a few megabytes and decodes in milliseconds:
    {"model_type": "ResNet", "types": ["torchvision.models.resnet.ResNet", ...],
     "dtypes": ["float32", "int64"],
     "rows": [[type_index, version, flags, [child names], [None-child names],
               [name, shape | null, dtype_index, ...params], [...buffers]], ...]}
Rows are in the order `Module.load_state_dict` visits modules (pre-order over `_modules`,
None children skipped), so paths are rebuilt from the child names, not sent.
"""

from __future__ import annotations

import contextlib
import gc
import json
from typing import Any, Iterator

# flags bits of a packed row
NORM_FIXUP = 1
EXTRA_STATE = 2
CUSTOM_LOAD = 4
EXTRA_SAVED = 8  # get_extra_state overridden (EXTRA_STATE: set_extra_state, what loading consults)
OLD_WEIGHT_NORM = 16  # parametrizations.weight_norm's compat hook on `weight` (ModuleSpec.old_weight_norm)
DROPS_NUM_BATCHES = 32  # its _load_from_state_dict deletes `num_batches_tracked` first (FrozenBatchNorm2d)

RECIPE_FIELDS = ("file", "source", "root", "var", "constructor", "constructor_line", "steps", "script_globals", "argv", "undecorated", "import_dirs")


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


# Replies are untrusted: user code runs in the worker and can write to this channel. A
# line is read at most MAX_LINE_BYTES long; JSON nested deeper than the decoder allows
# (200,000 `[`) is a ValueError, not a RecursionError; and every field is checked before
# use (`check_reply`, `unpack_state`), so a forged reply is a failed build, never a crash.
MAX_LINE_BYTES = 256 * 1024 * 1024
MAX_TEXT = 20_000  # characters of a message or note kept


class BadReply(ValueError):
    """A reply that is not what the protocol says (forged, or the channel is corrupt)."""


def loads(line: bytes) -> dict[str, Any]:
    """One message; ValueError (BadReply) for anything that is not a JSON object."""
    if len(line) > MAX_LINE_BYTES:
        raise BadReply(f"a line of {len(line)} bytes")
    try:
        with gc_paused():
            message = json.loads(line.decode("utf-8", "replace"))
    except RecursionError:
        raise BadReply("JSON nested too deeply") from None
    if not isinstance(message, dict):
        raise BadReply(f"a {type(message).__name__}, not an object")
    return message


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise BadReply(f"{what} is not a string")
    return value[:MAX_TEXT]


def _strings(value: Any, what: str, limit: int = 100_000) -> list[str]:
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) for v in value):
        raise BadReply(f"{what} is not a list of strings")
    return value


def check_reply(reply: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    """The fields of a build reply the client uses, checked; raises BadReply."""
    out: dict[str, Any] = {"ok": reply.get("ok") is True,
                           "files": _strings(reply.get("files", []), "files"),
                           "notes": [n[:MAX_TEXT] for n in _strings(reply.get("notes", []), "notes", 1000)]}
    if out["ok"]:
        if not isinstance(reply.get("state"), dict):
            raise BadReply("a successful build without a state")
        out["state"] = reply["state"]
        out["holder"] = _text(reply.get("holder", ""), "holder")  # (build.py's _holder: not an nn.Module)
    else:
        kind = reply.get("kind", "crash")
        out["kind"] = kind if kind in kinds else "crash"
        out["message"] = _text(reply.get("message", "unknown failure"), "message")
    return out


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while making many small containers that are all kept: with
    a big model alive, collections triggered by those allocations cost 3-8x the work."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def recipe_to_message(recipe: Any) -> dict[str, Any]:
    return {name: getattr(recipe, name) for name in RECIPE_FIELDS}


def unpack_state(packed: dict[str, Any], notes: list[str]) -> Any:
    """Turn a packed state (see the module docstring) into an ExpectedState (how="executed").
    Raises BadReply if it is not shaped as the worker packs it."""
    with gc_paused():
        try:
            return _unpack(packed, notes)
        except BadReply:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise BadReply(f"the packed state is malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


def _check_tensors(flat: Any, ndtypes: int) -> None:
    if not isinstance(flat, list) or len(flat) % 3:
        raise BadReply("a tensor list is malformed")
    for i in range(0, len(flat), 3):
        name, shape, dtype = flat[i], flat[i + 1], flat[i + 2]
        if not isinstance(name, str) or type(dtype) is not int or not 0 <= dtype < ndtypes:
            raise BadReply("a tensor entry is malformed")
        if shape is not None and (not isinstance(shape, list) or len(shape) > 64
                                  or not all(type(d) is int and d >= 0 for d in shape)):
            raise BadReply(f"tensor {name[:100]!r} has an invalid shape")


def _unpack(packed: dict[str, Any], notes: list[str]) -> Any:
    from weightmatch.types import ExpectedState, ModuleSpec, TensorInfo

    types = _strings(packed.get("types"), "types")
    dtypes = _strings(packed.get("dtypes"), "dtypes", 1000)
    rows = packed.get("rows")
    model_type = _text(packed.get("model_type"), "model_type")
    if not isinstance(rows, list):
        raise BadReply("rows is not a list")
    for row in rows:
        if not isinstance(row, list) or len(row) != 7:
            raise BadReply("a row is malformed")
        type_index, version, flags, children, absent, params, buffers = row
        if type(type_index) is not int or not 0 <= type_index < len(types) or type(flags) is not int:
            raise BadReply("a row's type or flags are malformed")
        if version is not None and type(version) is not int:
            raise BadReply("a row's version is malformed")
        _strings(children, "children")
        _strings(absent, "absent children")
        if params:
            _check_tensors(params, len(dtypes))
        if buffers:
            _check_tensors(buffers, len(dtypes))
    modules: dict[str, ModuleSpec] = {}
    info_cache: dict[tuple[Any, int], TensorInfo] = {}  # equal TensorInfos are shared (frozen)

    def tensors(flat: list[Any]) -> dict[str, TensorInfo]:
        out: dict[str, TensorInfo] = {}
        for i in range(0, len(flat), 3):
            shape = flat[i + 1]
            key = (tuple(shape) if shape is not None else None, flat[i + 2])
            info = info_cache.get(key)
            if info is None:
                info = info_cache[key] = TensorInfo(key[0], dtypes[key[1]])
            out[flat[i]] = info
        return out

    # Iterative pre-order walk: deep models must not hit the recursion limit here.
    index = 0
    stack: list[str] = [""]
    while stack and index < len(rows):
        path = stack.pop()
        type_index, version, flags, children, absent, params, buffers = rows[index]
        index += 1
        modules[path] = ModuleSpec(
            path=path,
            type=types[type_index],
            params=tensors(params) if params else {},
            buffers=tensors(buffers) if buffers else {},
            children=children,
            version=version,
            norm_fixup=bool(flags & NORM_FIXUP),
            extra_state=bool(flags & EXTRA_STATE),
            saves_extra_state=None if bool(flags & EXTRA_SAVED) == bool(flags & EXTRA_STATE) else bool(flags & EXTRA_SAVED),
            custom_load=bool(flags & CUSTOM_LOAD),
            old_weight_norm=bool(flags & OLD_WEIGHT_NORM),
            drops=("num_batches_tracked",) if flags & DROPS_NUM_BATCHES else (),
        )
        if children:
            prefix = path + "." if path else ""
            stack += [prefix + c for c in reversed(children) if c not in absent]
    return ExpectedState(modules=modules, how="executed", model_type=model_type, notes=list(notes))
