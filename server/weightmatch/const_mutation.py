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

from weightmatch import config_data, journal, plain_functions
from weightmatch.values import At, ClassVal, Const, FuncVal, ModelVal, ObjVal, SeqVal, SourceVal, Unknown

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
    owner = config_data.as_const(owner)
    if isinstance(owner, (SourceVal, At)):
        owner = ev.concrete(owner)  # `model_args = ckpt["model_args"]` then `model_args.setdefault(...)`
    if not isinstance(owner, Const):
        return None
    if any(isinstance(owner.value, t) and method in names for t, names in MUTATORS.items()):
        return owner
    return None


def module_list(ev, owner: Any, node: ast.Call, env: dict) -> Any | None:
    """`blocks.append(nn.Linear(4, 4))`, `.extend(...)`, `.insert(i, ...)` on a list that holds
    or receives modules (a builder's `layers = []` filled in a loop): the name is bound again to a
    SeqVal of the items, so `nn.Sequential(*layers)` can be written out module by module
    (substitute.py). None when `node` is no such call; its value (None, as the list's methods
    return) when it is."""
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("append", "extend", "insert") or node.keywords:
        return None
    current = owner if isinstance(owner, SeqVal) else config_data.as_const(owner)
    if not (isinstance(current, SeqVal) or isinstance(current, Const) and type(current.value) is list):
        return None
    args = [ev.ev(a, env) for a in node.args]
    added = args[1:] if func.attr == "insert" else args
    if any(isinstance(a, ast.Starred) for a in node.args) or len(added) != 1:
        return None
    if func.attr == "extend":
        extra = _items(added[0])
        if extra is None or not any(map(holds_module, extra)):
            return None
    else:
        if not holds_module(added[0]):
            return None  # (a module, or a pair holding one: `layers.append((f"fc{i}", nn.Linear(a, b)))`)
        extra = [added[0]]
    items = list(current.items) if isinstance(current, SeqVal) else [Const(v, current.origin) for v in current.value]
    if func.attr == "insert":
        where = args[0]
        if not (isinstance(where, Const) and type(where.value) is int):
            rebind(ev, func.value, Unknown(f"it is changed by `{ev.pf.segment(node)}`, not known statically"), env)
            return Const(None)
        items.insert(where.value, extra[0])
    else:
        items.extend(extra)
    rebind(ev, func.value, SeqVal(items), env)
    return Const(None)


def _items(value: Any) -> list | None:
    if isinstance(value, SeqVal):
        return list(value.items)
    value = config_data.as_const(value)
    if isinstance(value, Const) and isinstance(value.value, (list, tuple)):
        return [Const(v, value.origin) for v in value.value]
    return None


def _key_function(ev, node: ast.expr, env: dict) -> Any:
    """`names.sort(key=lambda f: ...)`: the key as a function of known values (plain_functions.py)."""
    fn = plain_functions.function(ev, node, env)
    if fn is None:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")

    def key(item: Any) -> Any:
        try:
            return fn(item)
        except plain_functions.NotKnown:
            raise
        except Exception as exc:  # noqa: BLE001 - the key raises at run time: the sort does too
            raise _KeyRaises() from exc
    return Const(key)


class _KeyRaises(Exception):
    pass


def call(ev, owner: Const, node: ast.Call, env: dict, direct: bool = False) -> Any:
    """`owner.method(...)` that changes `owner`: a dict the script holds (`direct`: the very data,
    not a copy made to read it) changes in place, so every name that holds it sees the change, as
    in Python; other data is changed on a copy bound again to what holds it. The method's result."""
    func = node.func
    assert isinstance(func, ast.Attribute)
    # (`cfg.update({"depth": 4})`: a literal; `hparams.update(ckpt["hparams"])`: what the checkpoint holds)
    args = [config_data.data_of(ev, ev.ev(a, env)) for a in node.args]
    kwargs = {k.arg: config_data.data_of(ev, ev.ev(k.value, env)) if k.arg != "key" or func.attr != "sort"
              else _key_function(ev, k.value, env) for k in node.keywords if k.arg is not None}
    what = f"`{ev.pf.segment(node)}`"
    known = len(kwargs) == len(node.keywords) and not any(isinstance(a, ast.Starred) for a in node.args) \
        and all(isinstance(v, Const) for v in [*args, *kwargs.values()])
    if not known or _size(owner.value) > MAX_ITEMS:
        rebind(ev, func.value, Unknown(f"it is changed by {what}, not known statically"), env)
        return Unknown(f"{what} is not known statically")
    origin = "; ".join(o for o in (owner.origin, *(a.origin for a in args)) if o)
    if direct and type(owner.value) is dict:
        try:
            result = _in_place(owner.value, func.attr, [a.value for a in args], {k: v.value for k, v in kwargs.items()})
        except Exception:  # noqa: BLE001 - what raises at run time is not known here
            rebind(ev, func.value, Unknown(f"{what} raises"), env)
            return Unknown(f"{what} raises")
        return Const(result, origin)
    changed = copy.copy(owner.value)  # (the method changes the top level only: its items are shared, as in Python)
    try:
        result = getattr(changed, func.attr)(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
    except plain_functions.NotKnown as exc:
        rebind(ev, func.value, Unknown(f"it is changed by {what}, not known statically ({exc})"), env)
        return Unknown(f"{what} is not known statically")
    except Exception:  # noqa: BLE001 - what raises at run time is not known here
        rebind(ev, func.value, Unknown(f"{what} raises"), env)
        return Unknown(f"{what} raises")
    if isinstance(owner.value, config_data.AttrDict) and owner.value.root is not None:
        changed = config_data.omega_data(changed)  # (its interpolations resolve in the changed config)
    new = Const(changed, owner.origin)
    rebind(ev, func.value, new, env)
    if direct and isinstance(owner.value, list):
        _other_holders(ev, owner.value, new, env)  # `alias = widths; alias += [64]`: widths too
    return Const(result, origin)


def setattr_data(ev, target: ast.Attribute, value: Any, env: dict) -> bool:
    """`config.model.params.embed_dim = 4` on OmegaConf / EasyDict data: the node itself changes,
    as OmegaConf's does (every holder and interpolation sees it); a value not known here makes
    the whole config unknown, never leaves the old one. False when the target holds no such data."""
    owner = ev.ev(target.value, env)
    if not (isinstance(owner, Const) and isinstance(owner.value, config_data.AttrDict)):
        return False
    if isinstance(value, (SourceVal, At)):
        read = ev.concrete(value)
        value = read if isinstance(read, Const) else value
    if isinstance(value, Const):
        journal.put(owner.value, target.attr, value.value)
        return True
    rebind(ev, data_holder(ev, target.value, env), Unknown(f"`{ev.pf.segment(target)}` is set to a value not known "
                                                           "statically"), env)
    return True


def data_holder(ev, node: ast.expr, env: dict) -> ast.expr:
    """The name or attribute that holds the whole config `node` is part of (`cfg` of
    `cfg.model.params`, `self.cfg` of `self.cfg.model`): what a change not followed makes unknown."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        base = ev.ev(node.value, env)
        if not (isinstance(base, Const) and isinstance(base.value, config_data.AttrDict)):
            break
        node = node.value
    return node


def setitem(ev, target: ast.Subscript, value: Any, env: dict) -> bool:
    """`kw["depth"] = 4` on known data; False when the target holds no known data."""
    holder = target.value
    obj = ev.ev(holder.args[0], env) if isinstance(holder, ast.Call) and ev.pf.dotted(holder.func) == "vars" \
        and len(holder.args) == 1 else ev.ev(holder.value, env) if isinstance(holder, ast.Attribute) \
        and holder.attr == "__dict__" else None
    if isinstance(obj, (SourceVal, At)):
        obj = ev.saved_namespace(obj)  # `vars(ckpt["args"])["width"] = 8`
    if isinstance(obj, ObjVal):  # `vars(args)["width"] = 8`: the namespace itself
        key = ev.ev(target.slice, env)
        if isinstance(key, Const) and isinstance(key.value, str):
            journal.put(obj.attrs, key.value, value)
        else:
            ev.clobber(obj, f"`{ev.pf.segment(target)} = ...` may set any attribute of it")
        return True
    owner = ev.ev(target.value, env)
    if not (isinstance(owner, Const) and isinstance(owner.value, (dict, list))):
        return False
    key = ev.ev(target.slice, env)
    if isinstance(value, (SourceVal, At)):
        read = ev.concrete(value)  # nanoGPT's `model_args[k] = checkpoint_model_args[k]`: plain data read
        value = read if isinstance(read, Const) else value
    if isinstance(key, Const) and isinstance(value, (Const, FuncVal, ClassVal)) and type(owner.value) is dict:
        try:  # the very dict: every holder sees it; a registry holds the function or class itself
            journal.put(owner.value, key.value, value.value if isinstance(value, Const) else value)
        except TypeError:
            rebind(ev, target.value, Unknown(f"`{ev.pf.segment(target)} = ...` raises"), env)
        return True
    # a list: changed on a copy bound again to what holds it (rebind's own item rule)
    known = isinstance(key, Const) and isinstance(value, Const) and _size(owner.value) <= MAX_ITEMS
    rebind(ev, target, value if known else Unknown(f"`{ev.pf.segment(target)}` is set to a value not known statically"),
           env)
    return True


_IN_PLACE = {(list, ast.Add): "extend", (dict, ast.BitOr): "update", (set, ast.BitOr): "update"}


def in_place_call(ev, stmt: ast.AugAssign, env: dict) -> ast.Call | None:
    """The method call an augmented assignment is, when it changes known data in place as
    Python's do: a list's `+=` (`extend`), a dict's or set's `|=` (`update`, a state dict's
    too); every name holding it sees the change. None for the others (`dim //= 2` binds the
    target again to `target op value`: `binop`)."""
    owner = ev.ev(stmt.target, env)
    current = config_data.as_const(owner)
    if isinstance(owner, SeqVal) and isinstance(stmt.op, ast.Add):
        method = "extend"  # `layers += [nn.ReLU()]` (module_list; a tuple's `+=` is not followed)
    elif isinstance(current, Const):
        method = _IN_PLACE.get((type(current.value), type(stmt.op)))
    else:
        method = "update" if isinstance(owner, SourceVal) and isinstance(stmt.op, ast.BitOr) else None
    if method is None:
        return None
    attr = ast.copy_location(ast.Attribute(stmt.target, method, ast.Load()), stmt)
    return ast.copy_location(ast.Call(attr, [stmt.value], []), stmt)


def binop(stmt: ast.AugAssign) -> ast.BinOp:
    return ast.copy_location(ast.BinOp(stmt.target, stmt.op, stmt.value), stmt)


def holds_module(value: Any) -> bool:
    """A module, or a tuple or list literal holding one (`("fc0", nn.Linear(4, 8))`)."""
    return isinstance(value, ModelVal) or isinstance(value, SeqVal) and any(map(holds_module, value.items))


def rebind(ev, holder: ast.expr, value: Any, env: dict) -> None:
    """Bind again what `holder` names: a variable, an object's attribute, an item of known data."""
    if isinstance(holder, ast.Name):
        maps = env.maps if isinstance(env, ChainMap) else [env]
        home = next((m for m in maps if holder.id in m), maps[0])
        if home is maps[0]:
            # the frame's own name (a branch's own copy of it, under an `if`): bound as an
            # assignment binds it; the journal would undo it with the branch's other changes
            env[holder.id] = value
        else:
            journal.put(home, holder.id, value)  # a name of an enclosing scope, shared
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


def _other_holders(ev, old: list, new: Const, env: dict) -> None:
    """The names, and items of known dicts they hold, that held the list a method changed on a
    copy: bound to the copy too, as they would see the change in Python."""
    maps = [*(env.maps if isinstance(env, ChainMap) else [env]), ev.module_envs.get(ev.pf.path) or {}]
    for m in maps:
        for name, value in list(m.items()):
            if isinstance(value, Const) and value.value is old:
                journal.put(m, name, new)
            elif isinstance(value, Const) and type(value.value) is dict:
                for key, item in list(value.value.items()):
                    if item is old:
                        journal.put(value.value, key, new.value)


def _in_place(d: dict, method: str, args: list, kwargs: dict) -> Any:
    """dict's own methods, each change made through the journal (an undecided `if` can undo it)."""
    if method == "update":
        for k, v in dict(*args, **kwargs).items():
            journal.put(d, k, v)
        return None
    if kwargs:
        raise TypeError(f"{method}() takes no keyword arguments")
    if method == "setdefault":
        if args[0] not in d:
            journal.put(d, args[0], args[1] if len(args) > 1 else None)
        return d[args[0]]
    if method == "pop":
        if args[0] in d:
            value = d[args[0]]
            journal.put(d, args[0], journal.MISSING)
            return value
        if len(args) > 1:
            return args[1]
        raise KeyError(args[0])
    if method == "popitem":
        key = next(reversed(d))  # StopIteration on an empty dict: raises, as Python's KeyError
        value = d[key]
        journal.put(d, key, journal.MISSING)
        return key, value
    if method == "clear":
        for key in list(d):
            journal.put(d, key, journal.MISSING)
        return None
    raise TypeError(method)


def _size(value: Any) -> int:
    return len(value) if hasattr(value, "__len__") else 0
