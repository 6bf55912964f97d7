"""The interpreter's side of yacs configs (yacs_values.py holds the rules): making a
`CfgNode`, and its methods (`clone`, `merge_from_file`, `merge_from_list`, `freeze`, ...)."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import config_data, plain, yacs_values
from weightmatch.journal import put
from weightmatch.values import Const, FileHandle, JsonFile, SeqVal, Unknown, origins
from weightmatch.yacs_values import CfgNodeVal


def make(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`CN()`, `CN(new_allowed=True)`, `CN({"MODEL": {...}})`, `load_cfg(open(path))`."""
    if dotted in yacs_values.LOAD_CFG:
        if len(node.args) != 1 or node.keywords:
            return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
        arg = ev.ev(node.args[0], env)
        if isinstance(arg, FileHandle):
            data = config_data.read_data(ev, JsonFile(arg.path, "yaml"))
        else:
            return Unknown(f"`{ev.pf.segment(node)}` reads a file not known statically")
        return _node_of(data, False)
    kwargs = plain.keywords(ev, node, env)
    if kwargs is None or len(node.args) > 1 or set(kwargs) - {"init_dict", "key_list", "new_allowed"}:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    init = ev.ev(node.args[0], env) if node.args else kwargs.get("init_dict", Const(None))
    allowed = kwargs.get("new_allowed", Const(False))
    if not isinstance(allowed, Const):
        return Unknown(f"`{ev.pf.segment(node)}`: `new_allowed` is not known statically")
    if isinstance(init, CfgNodeVal):
        made = yacs_values.clone(init)
        made.new_allowed = bool(allowed.value)
        return made
    return _node_of(config_data.as_const(init), bool(allowed.value))


def _node_of(data: Any, new_allowed: bool) -> Any:
    if isinstance(data, Const) and data.value is None:
        return CfgNodeVal({}, new_allowed=new_allowed)
    if isinstance(data, Const) and isinstance(data.value, dict):
        return yacs_values.from_data(data.value, data.origin, new_allowed)
    if isinstance(data, Unknown):
        return data
    return Unknown("the yacs config is made from a value not known statically")


def method(ev, bound: plain.BoundMethod, node: ast.Call, env: dict) -> Any:
    cfg: CfgNodeVal = bound.owner
    name = bound.name
    args = [ev.ev(a, env) for a in node.args]
    what = f"`{ev.pf.segment(node)}`"
    if name == "clone" and not args:
        return yacs_values.clone(cfg)
    if name in ("freeze", "defrost") and not args:
        _walk(cfg, lambda n: put(n, "frozen", name == "freeze"))
        return Const(None)
    if name == "is_frozen":
        return Const(cfg.frozen)
    if name == "set_new_allowed" and len(args) == 1 and isinstance(args[0], Const):
        _walk(cfg, lambda n: put(n, "new_allowed", bool(args[0].value)))
        return Const(None)
    if name == "get" and 1 <= len(args) <= 2:
        if cfg.broken:
            return Unknown(cfg.broken)
        key = args[0]
        if not (isinstance(key, Const) and isinstance(key.value, str)):
            return Unknown(f"{what} is not known statically")
        return cfg.attrs[key.value] if key.value in cfg.attrs else (args[1] if len(args) == 2 else Const(None))
    if name in ("register_deprecated_key", "register_renamed_key") and args and isinstance(args[0], Const):
        field = "deprecated" if name == "register_deprecated_key" else "renamed"
        put(cfg, field, getattr(cfg, field) | {args[0].value})
        return Const(None)
    if name in yacs_values._READ_ONLY:
        return Unknown(f"{what} is not known statically")
    if not cfg.broken:
        why = _merge(ev, cfg, name, args, what)
        if why:
            yacs_values.break_all(cfg, why)
    return Const(None)


def _merge(ev, cfg: CfgNodeVal, name: str, args: list, what: str) -> str:
    """`merge_from_file` / `merge_from_other_cfg` / `merge_from_list`: "" or why the config is
    not known after it (a value not known, or a merge that raises in yacs)."""
    if name == "merge_from_file" and len(args) == 1:
        data = config_data.read_data(ev, JsonFile(args[0], "yaml"))
        if isinstance(data, Const) and isinstance(data.value, dict):
            return yacs_values.merge_data(cfg, data.value, data.origin)
        if isinstance(data, Const) and data.value is None:
            return ""
        return f"the config is merged from a file not known statically ({_reason(data)})"
    if name == "merge_from_other_cfg" and len(args) == 1:
        other = args[0]
        if isinstance(other, CfgNodeVal) and not other.broken:
            return yacs_values.merge_data(cfg, dict(other.attrs), "")
        return f"the config is merged from a config not known statically ({_reason(other)})"
    if name == "merge_from_list" and len(args) == 1:
        items = args[0]
        if isinstance(items, SeqVal) and all(isinstance(i, Const) for i in items.items):
            items = Const([i.value for i in items.items], origins(items.items))
        if isinstance(items, Const) and isinstance(items.value, (list, tuple)):
            return yacs_values.merge_list(cfg, list(items.value), items.origin or "the command line")
        if isinstance(items, Const) and items.value is None:
            return f"{what} is given None (yacs raises TypeError)"
        return f"the config is merged from {what}, not known statically ({_reason(items)})"
    return f"{what} is not followed"


def _reason(value: Any) -> str:
    if isinstance(value, Unknown):
        return value.reason
    return "not known statically"


def _walk(cfg: CfgNodeVal, fn, depth: int = 0) -> None:
    if depth > 50:
        return
    fn(cfg)
    for v in cfg.attrs.values():
        if isinstance(v, CfgNodeVal):
            _walk(v, fn, depth + 1)
