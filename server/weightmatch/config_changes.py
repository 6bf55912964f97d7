"""Changes OmegaConf's own calls make to a config in place: `cfg.merge_with_dotlist([...])` and
`OmegaConf.update(cfg, "model.depth", 4)` with known arguments are applied as OmegaConf applies
them; any other method of the config, or `OmegaConf.<fn>(cfg, ...)` not known to leave its
values alone, makes the config unknown (said), never leaves the old values in place."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import config_data, journal
from weightmatch.const_mutation import MUTATORS, data_holder, rebind
from weightmatch.values import Const, Unknown

# methods of a config that read it only (a dict's, OmegaConf's)
READS = {"get", "keys", "values", "items", "copy", "__contains__", "__getitem__", "select", "to_yaml"}
# `OmegaConf.<fn>(cfg, ...)` that leave its values as they are (flags, output, interpolations
# resolved in place: read the same way here)
_LEAVES_VALUES = {"set_struct", "set_readonly", "resolve", "save", "to_yaml", "to_container", "to_object",
                  "is_missing", "is_interpolation", "is_config", "is_dict", "is_list", "select", "structured",
                  "create", "load", "merge", "masks", "get_type", "register_new_resolver", "has_resolver",
                  "missing_keys", "is_readonly", "is_struct"}


def change(ev, expr: ast.Call, env: dict) -> bool:
    """Apply the in-place change `expr` makes to OmegaConf / EasyDict data; False when `expr`
    is no call on such data."""
    func = expr.func
    dotted = ev.pf.dotted(func) or ""
    if dotted.startswith("omegaconf.OmegaConf.") and dotted.rsplit(".", 1)[1] not in _LEAVES_VALUES:
        holder = expr.args[0] if expr.args else None
        if holder is None or not _is_data(ev.ev(holder, env)):
            return False
        if dotted.endswith(".update"):
            _update(ev, expr, holder, env)
        else:
            _unknown(ev, holder, expr, env)
        return True
    if not isinstance(func, ast.Attribute) or func.attr in READS or func.attr in MUTATORS[dict] or \
            not _is_data(ev.ev(func.value, env)):
        return False  # (a dict's own changes: const_mutation.call)
    if func.attr == "merge_with_dotlist" and len(expr.args) == 1 and not expr.keywords:
        items = ev.ev(expr.args[0], env)
        pairs = config_data.dotlist(items.value) if isinstance(items, Const) and isinstance(items.value, (list, tuple)) else None
        if pairs is not None and all(_put(ev.ev(func.value, env).value, k, v) for k, v in pairs):
            return True
    _unknown(ev, func.value, expr, env)
    return True


def _update(ev, expr: ast.Call, holder: ast.expr, env: dict) -> None:
    """`OmegaConf.update(cfg, "a.b", value)`: the node set, as OmegaConf sets it (a dict value
    merged into a dict node, as `merge=True` does by default, is not followed)."""
    key = ev.ev(expr.args[1], env) if len(expr.args) >= 2 else None
    value = ev.ev(expr.args[2], env) if len(expr.args) >= 3 else None
    extra = [k.arg for k in expr.keywords if k.arg not in ("merge", "force_add")]
    if not extra and len(expr.args) == 3 and isinstance(key, Const) and isinstance(key.value, str) and \
            isinstance(value, Const) and not isinstance(value.value, (dict, list)) and \
            _put(ev.ev(holder, env).value, key.value, value.value):
        return
    _unknown(ev, holder, expr, env)


def _put(cfg: dict, key: str, value: Any) -> bool:
    """Set the node at dotted `key` of `cfg` (its parents must be there); False when one is not."""
    *parents, last = key.split(".")
    node = cfg
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, config_data.AttrDict):
            return False
    if isinstance(node.get(last), dict):
        return False  # (a dict node replaced by a plain value: OmegaConf's rules for it are not followed)
    journal.put(node, last, value)
    return True


def _is_data(value: Any) -> bool:
    return isinstance(value, Const) and isinstance(value.value, config_data.AttrDict)


def _unknown(ev, holder: ast.expr, expr: ast.Call, env: dict) -> None:
    reason = f"the config is changed by `{ev.pf.segment(expr)}`, not followed"
    rebind(ev, data_holder(ev, holder, env), Unknown(reason), env)
