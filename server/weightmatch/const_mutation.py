"""Plain data changed in place: `kw.setdefault("num_classes", 5)`, `cfg.update(width=16)`,
`name = cfg.pop("type")`, `kw["depth"] = 4`, `layers.append(64)`.

A known dict or list is a value (`Const`) to the interpreter; when the script changes it in
place, the name that holds it is bound again to the changed copy, or becomes unknown when the
change is not known. (Ignoring the change built the model from the data as first made: a
false size-mismatch.) The method itself runs on a copy of plain data with plain arguments:
no user code can run.
"""

from __future__ import annotations

import ast
import copy
from collections import ChainMap
from typing import Any

from weightmatch import journal, plain
from weightmatch.values import At, Const, ObjVal, SourceVal, Unknown

MUTATORS = {
    dict: {"update", "setdefault", "pop", "popitem", "clear"},
    list: {"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"},
    set: {"add", "discard", "remove", "update", "pop", "clear"},
}
MAX_ITEMS = 10_000


def known_data(ev, owner: Any, method: str) -> Const | None:
    """The known data `owner.method(...)` changes in place (a dict literal of known values,
    plain values read from the checkpoint count); None when it is not such a call."""
    if not any(method in names for names in MUTATORS.values()):
        return None
    owner = plain.as_const(owner)
    if isinstance(owner, (SourceVal, At)):
        owner = ev.concrete(owner)  # `model_args = ckpt["model_args"]` then `model_args.setdefault(...)`
    if not isinstance(owner, Const):
        return None
    if any(isinstance(owner.value, t) and method in names for t, names in MUTATORS.items()):
        return owner
    return None


def call(ev, owner: Const, node: ast.Call, env: dict) -> Any:
    """`owner.method(...)` that changes `owner`: rebinds what holds it; the method's result."""
    func = node.func
    assert isinstance(func, ast.Attribute)
    args = [ev.ev(a, env) for a in node.args]
    kwargs = {k.arg: ev.ev(k.value, env) for k in node.keywords if k.arg is not None}
    what = f"`{ev.pf.segment(node)}`"
    known = len(kwargs) == len(node.keywords) and not any(isinstance(a, ast.Starred) for a in node.args) \
        and all(isinstance(v, Const) for v in [*args, *kwargs.values()])
    if not known or _size(owner.value) > MAX_ITEMS:
        rebind(ev, func.value, Unknown(f"it is changed by {what}, not known statically"), env)
        return Unknown(f"{what} is not known statically")
    changed = copy.deepcopy(owner.value)
    try:
        result = getattr(changed, func.attr)(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
    except Exception:  # noqa: BLE001 - what raises at run time is not known here
        rebind(ev, func.value, Unknown(f"{what} raises"), env)
        return Unknown(f"{what} raises")
    origin = "; ".join(o for o in (owner.origin, *(a.origin for a in args)) if o)
    rebind(ev, func.value, Const(changed, owner.origin), env)
    return Const(result, origin)


def setitem(ev, target: ast.Subscript, value: Any, env: dict) -> bool:
    """`kw["depth"] = 4` on known data; False when the target holds no known data."""
    owner = ev.ev(target.value, env)
    if not (isinstance(owner, Const) and isinstance(owner.value, (dict, list))):
        return False
    key = ev.ev(target.slice, env)
    if isinstance(key, Const) and isinstance(value, Const) and _size(owner.value) <= MAX_ITEMS:
        changed = copy.copy(owner.value)
        try:
            changed[key.value] = value.value
        except Exception:  # noqa: BLE001 - an index out of range, an unhashable key: raises at run time
            rebind(ev, target.value, Unknown(f"`{ev.pf.segment(target)} = ...` raises"), env)
            return True
        rebind(ev, target.value, Const(changed, owner.origin), env)
    else:
        rebind(ev, target.value, Unknown(f"`{ev.pf.segment(target)}` is set to a value not known statically"), env)
    return True


def rebind(ev, holder: ast.expr, value: Any, env: dict) -> None:
    """Bind again what `holder` names: a variable, an object's attribute, an item of known data."""
    if isinstance(holder, ast.Name):
        maps = env.maps if isinstance(env, ChainMap) else [env]
        home = next((m for m in maps if holder.id in m), maps[0])
        journal.put(home, holder.id, value)
    elif isinstance(holder, ast.Attribute):
        owner = ev.ev(holder.value, env)
        if isinstance(owner, ObjVal):
            journal.put(owner.attrs, holder.attr, value)
    elif isinstance(holder, ast.Subscript):
        owner = ev.ev(holder.value, env)
        key = ev.ev(holder.slice, env)
        if isinstance(owner, Const) and isinstance(owner.value, (dict, list)) and isinstance(key, Const) \
                and isinstance(value, Const):
            changed = copy.copy(owner.value)
            try:
                changed[key.value] = value.value
            except Exception:  # noqa: BLE001
                value = Unknown("an item changed in place is not known statically")
            else:
                rebind(ev, holder.value, Const(changed, owner.origin), env)
                return
        rebind(ev, holder.value, value if isinstance(value, Unknown) else
               Unknown("an item changed in place is not known statically"), env)


def _size(value: Any) -> int:
    return len(value) if hasattr(value, "__len__") else 0
