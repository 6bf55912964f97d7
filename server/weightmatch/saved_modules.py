"""A whole module pickled into a checkpoint, used as a state dict: `torch.load(p,
weights_only=False).state_dict()`, yolov5's `ckpt["model"].float().state_dict()`.

The reader gives the keys and shapes (types.SavedModule); what `state_dict()` does with them
depends on the classes the script imports when it unpickles: PyTorch's own layers are known,
a class of the workspace is read to see that it changes nothing `state_dict()` does, and any
other class leaves the result unknown.
"""

from __future__ import annotations

import ast
from typing import Any

from weightmatch.types import SavedModule, StateDict
from weightmatch.values import ClassVal

# nn.Module's names that change what `state_dict()` gives or how the object is unpickled.
_STATE_NAMES = frozenset({
    "state_dict", "_save_to_state_dict", "get_extra_state", "set_extra_state", "_version", "__setstate__",
    "__getstate__", "__reduce__", "__reduce_ex__", "__getattr__", "__getattribute__", "__setattr__",
    "_register_state_dict_hook", "register_state_dict_post_hook", "register_state_dict_pre_hook",
})
_TORCH_LAYERS = "torch.nn.modules."
_VERSION_2 = ("torch.nn.modules.batchnorm.", "torch.nn.modules.instancenorm.")  # _NormBase._version


def class_version(ev: Any, name: str) -> int | str:
    """The `_version` `state_dict()` writes for a module of class `name` (a pickle global), or
    why Weight Match cannot tell what that class's `state_dict()` gives."""
    if name.startswith(_TORCH_LAYERS):
        if name.rsplit(".", 1)[-1].startswith("Lazy"):
            return f"`{name.rsplit('.', 1)[-1]}` saves its own state"
        return 2 if name.startswith(_VERSION_2) else 1
    module, _, cname = name.rpartition(".")
    pf = ev.entry if module == "__main__" else ev.in_file(ev.entry, lambda: ev.import_module(module, 0))
    if pf is None:
        return f"the pickled model's class `{name}` is not defined in the workspace"
    cls = ev.module_env(pf).get(cname)
    if not (isinstance(cls, ClassVal) and cls.is_module and ev.plain_module_class(cls)):
        return f"the pickled model's class `{name}` is not a module class of the workspace Weight Match follows"
    for c in ev.class_chain(cls):
        for stmt in c.node.body:
            defined = _defines(stmt)
            if defined in _STATE_NAMES:
                return f"`{c.node.name}` defines `{defined}`, which can change what state_dict() gives"
    return 1


def _defines(stmt: ast.stmt) -> str | None:
    """The name a class-body statement defines; for a method that touches one of _STATE_NAMES
    (`self._register_state_dict_hook(...)` in `__init__`), that name."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        used = next((n.attr for n in ast.walk(stmt) if isinstance(n, ast.Attribute) and n.attr in _STATE_NAMES), None)
        return used or stmt.name
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, (ast.AnnAssign, ast.AugAssign)) else []
    return next((t.id for t in targets if isinstance(t, ast.Name)), None)


def state_dict(saved: Any, versions: Any) -> StateDict | str:
    """`saved.state_dict()` with each module's `_version` in `_metadata`, or why it is not known.
    `versions(name)` is class_version bound to the script's interpreter."""
    if not isinstance(saved, SavedModule):
        return "it is not a module pickled whole"
    if saved.why:
        return saved.why
    metadata: dict[str, dict[str, Any]] = {}
    for path, name in saved.classes.items():
        version = versions(name)
        if isinstance(version, str):
            return version
        metadata[path] = {"version": version}
    out = StateDict(saved.state)
    out.ordered = True
    out.metadata = metadata
    return out
