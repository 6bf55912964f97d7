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

RECIPE_FIELDS = ("file", "source", "root", "var", "constructor", "constructor_line", "steps")


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    with gc_paused():
        return json.loads(line.decode("utf-8", "replace"))


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
    """Turn a packed state (see the module docstring) into an ExpectedState (how="executed")."""
    with gc_paused():
        return _unpack(packed, notes)


def _unpack(packed: dict[str, Any], notes: list[str]) -> Any:
    from weightmatch.types import ExpectedState, ModuleSpec, TensorInfo

    types = packed["types"]
    dtypes = packed["dtypes"]
    rows = packed["rows"]
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
        )
        if children:
            prefix = path + "." if path else ""
            stack += [prefix + c for c in reversed(children) if c not in absent]
    return ExpectedState(modules=modules, how="executed", model_type=packed["model_type"], notes=list(notes))
