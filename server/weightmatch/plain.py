"""Plain data for the source interpreter: operators on known constants, items of config
dicts and files, argparse, namespaces and the pure builtins real scripts size models with
(`int(opt.ngpu)`, `len(class_names)`). Config files are read as data, never as code."""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weightmatch import config_data, yacs_values
from weightmatch.argparse_values import ParserVal, SubparsersVal
from weightmatch.operators import COMPARE, UNARY
from weightmatch.type_tests import PARALLEL
from weightmatch.yacs_values import CfgNodeVal
from weightmatch.types import SavedModule
from weightmatch.values import (
    At, ClassVal, Const, DictLit, FuncVal, JsonFile, MaybeUnset, ModelAttr, ModelVal, ModVal, ObjVal, PartialVal, SeqVal, SourceVal,
    PathStr, Unknown, origins,
)



@dataclass
class BoundMethod:
    """A method of a value the interpreter models itself (a parser's add_argument)."""

    owner: Any
    name: str


def const(value: Any, *sources: Any) -> Const:
    return Const(value, origins(list(sources)))


def operator(ev, node: ast.expr, env: dict) -> Any:
    """`a == b`, `x in d`, `not f`, `a and b`, `x if c else y` over known values."""
    if isinstance(node, ast.IfExp):
        tested = ev.ev(node.test, env)
        test = truth_of(ev, tested)
        if test is None:
            return Unknown(f"`{ev.pf.segment(node.test)}` is known only at run time")
        chosen = ev.ev(node.body if test else node.orelse, env)
        if isinstance(tested, Const) and tested.origin and isinstance(chosen, Const) \
                and isinstance(chosen.value, (int, float, str, type(None))):  # (no data whose identity matters)
            return Const(chosen.value, origins([tested, chosen]))  # `"cuda" if torch.cuda.is_available() else "cpu"`
        return chosen
    if isinstance(node, ast.UnaryOp):
        inner = ev.ev(node.operand, env)
        if isinstance(inner, Const):
            try:
                fn = UNARY[type(node.op)]
                return const(fn(inner.value), inner)
            except (TypeError, KeyError):
                pass
        if isinstance(node.op, ast.Not):
            t = truth_of(ev, inner)
            if t is not None:
                return const(not t, inner)
        return Unknown(f"`{ev.pf.segment(node)}` is known only at run time")
    if isinstance(node, ast.BoolOp):
        for v in node.values[:-1]:
            value = ev.ev(v, env)
            t = truth_of(ev, value)
            if t is None:
                return Unknown(f"`{ev.pf.segment(node)}` is known only at run time")
            if isinstance(node.op, ast.And) and not t or isinstance(node.op, ast.Or) and t:
                return value
        return ev.ev(node.values[-1], env)  # whatever its truth (`opt.cfg or ckpt["opt"]["cfg"]`)
    return _comparison(ev, node, env)


def _comparison(ev, node: ast.Compare, env: dict) -> Any:
    exact = _type_test(ev, node, env)
    if exact is None:
        exact = _builtin_type_test(ev, node, env)
    if exact is not None:
        return exact
    left = ev.ev(node.left, env)
    result: Any = None
    for cmp, right_node in zip(node.ops, node.comparators):
        names = _module_names(ev, right_node, env) if isinstance(cmp, (ast.In, ast.NotIn)) else None
        right = Const(names) if names is not None else ev.ev(right_node, env)
        answer = _compare(cmp, left, right)
        if answer is None and isinstance(cmp, (ast.In, ast.NotIn)) and _keys_call(right_node):
            right = ev.ev(right_node.func.value, env)  # `key in ckpt.keys()` is `key in ckpt`
        if answer is None and isinstance(cmp, (ast.In, ast.NotIn)) and isinstance(right, (SourceVal, At)) \
                and isinstance(left, Const):
            answer = _in_checkpoint(ev, left, right, isinstance(cmp, ast.In))
        if answer is None and isinstance(cmp, (ast.Is, ast.IsNot)):
            answer = _none_in_checkpoint(ev, left, right, isinstance(cmp, ast.Is))
        if answer is None:
            return Unknown(f"`{ev.pf.segment(node)}` is known only at run time")
        result = const(answer, left, right)
        if not answer:
            return result
        left = right
    return result


def _type_test(ev, node: ast.Compare, env: dict) -> Any:
    """`type(model) in (nn.DataParallel, nn.parallel.DistributedDataParallel)` (yolov5's
    `is_parallel`), `type(model) is nn.DataParallel`: for the data-parallel wrappers the exact
    type is what isinstance tells; None when not that."""
    left = node.left
    if not (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Eq, ast.NotEq))
            and isinstance(left, ast.Call) and ev.pf.dotted(left.func) == "type" and len(left.args) == 1):
        return None
    spec = node.comparators[0]
    if isinstance(node.ops[0], (ast.In, ast.NotIn)) != isinstance(spec, (ast.Tuple, ast.List, ast.Set)):
        return None
    types = spec.elts if isinstance(spec, (ast.Tuple, ast.List, ast.Set)) else [spec]
    if not types or not all(ev.pf.dotted(t) in PARALLEL for t in types):
        return None
    test = ast.copy_location(ast.Call(ast.Name("isinstance", ast.Load()), [left.args[0], ast.Tuple(types, ast.Load())],
                                      []), node)
    found = ev.isinstance_of_model(test, env)
    if not isinstance(found, Const):
        return None
    return Const(bool(found.value) != isinstance(node.ops[0], (ast.NotIn, ast.IsNot, ast.NotEq)))


# (not the numbers: a value computed with numpy is a numpy scalar at run time, a Python number here)
_BUILTIN_TYPES = {t.__name__: t for t in (str, dict, list, tuple, set)}


def _builtin_type_test(ev, node: ast.Compare, env: dict) -> Any:
    """`type(v) == dict` / `type(v) is int` / `type(v) in (list, tuple)` of a known value (VITS's
    HParams): the exact class of plain data against builtin classes; None when not that."""
    left = node.left
    if not (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Eq, ast.NotEq))
            and isinstance(left, ast.Call) and ev.pf.dotted(left.func) == "type" and len(left.args) == 1
            and not left.keywords):
        return None
    spec = node.comparators[0]
    if isinstance(node.ops[0], (ast.In, ast.NotIn)) != isinstance(spec, (ast.Tuple, ast.List, ast.Set)):
        return None
    names = spec.elts if isinstance(spec, (ast.Tuple, ast.List, ast.Set)) else [spec]
    if not names or not all(isinstance(n, ast.Name) and n.id in _BUILTIN_TYPES and ev.pf.dotted(n) == n.id
                            and n.id not in env for n in names):
        return None
    value = ev.ev(left.args[0], env)
    if not isinstance(value, Const) or isinstance(value.value, (config_data.AttrDict, PathStr)):
        return None
    found = any(type(value.value) is _BUILTIN_TYPES[n.id] for n in names)
    return const(found != isinstance(node.ops[0], (ast.NotIn, ast.IsNot, ast.NotEq)), value)


def _module_names(ev, node: ast.expr, env: dict) -> set | None:
    """`nets.__dict__` / `nets.__dict__.keys()` / `vars(nets)` / `dir(nets)` of a workspace module
    (DINO's `if args.arch in vits.__dict__.keys()`): the names its top level binds; None when
    not that, or when a star import or a write to its globals may bind others."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys" \
            and not node.args:
        node = node.func.value
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        holder = node.value
    elif isinstance(node, ast.Call) and ev.pf.dotted(node.func) in ("vars", "dir") and len(node.args) == 1:
        holder = node.args[0]
    else:
        return None
    mod = ev.ev(holder, env)
    if not isinstance(mod, ModVal):
        return None
    names = ev.module_env(mod.file)
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) or
           isinstance(n, ast.Call) and mod.file.dotted(n.func) in ("globals", "setattr", "exec")
           for n in ast.walk(mod.file.tree)) or any(isinstance(v, MaybeUnset) for v in names.values()):
        return None
    return set(names)


def _keys_call(node: ast.expr) -> bool:
    """`ckpt.keys()`: a call of `keys` without arguments."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys" \
        and not node.args and not node.keywords


def _in_checkpoint(ev, key: Const, value: Any, positive: bool) -> bool | None:
    """`"model" in ckpt`: the keys of what the checkpoint holds there (read, never run)."""
    obj = ev.concrete(value, raw=True)
    if not isinstance(obj, Mapping):
        return None
    try:
        return (key.value in obj) == positive
    except TypeError:
        return None


def _none_in_checkpoint(ev, left: Any, right: Any, positive: bool) -> bool | None:
    """`checkpoint.get("state_dict_ema", None) is not None` (timm's load_state_dict): whether what
    the checkpoint holds there (read, never run; the default when the key is absent) is None."""
    for a, b in ((left, right), (right, left)):
        if isinstance(a, Const) and a.value is None and isinstance(b, (SourceVal, At)):
            obj = ev.concrete(b, raw=True)
            if isinstance(obj, Unknown):
                return None
            return (obj is None) == positive
    return None


def _compare(cmp: ast.cmpop, left: Any, right: Any) -> bool | None:
    fn = COMPARE.get(type(cmp))
    if fn is None:
        return None
    if isinstance(left, Const) and isinstance(right, Const):
        if isinstance(cmp, (ast.Eq, ast.NotEq)) and isinstance(left.value, str) and isinstance(right.value, str) \
                and isinstance(left.value, PathStr) != isinstance(right.value, PathStr):
            return isinstance(cmp, ast.NotEq)  # `Path("w.pt") == "w.pt"` is False
        try:
            return bool(fn(left.value, right.value))
        except TypeError:
            return None
    if isinstance(cmp, (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)) and isinstance(left, ClassVal) and isinstance(right, ClassVal):
        return (left.node is right.node) == isinstance(cmp, (ast.Is, ast.Eq))  # `model_cls is BaseModel`
    is_none = _none_test(left, right) if isinstance(cmp, (ast.Is, ast.IsNot)) else None
    if is_none is not None:
        return is_none == isinstance(cmp, ast.Is)  # `if filter_fn is not None:`
    if isinstance(cmp, (ast.In, ast.NotIn)) and isinstance(right, CfgNodeVal):
        found = yacs_values.contains(right, left)
        return None if found is None else found == isinstance(cmp, ast.In)
    if isinstance(cmp, (ast.In, ast.NotIn)) and isinstance(left, Const):
        keys = _keys(right)
        if keys is not None:
            return (left.value in keys) == isinstance(cmp, ast.In)
    return None


# values that are surely objects (never None), and true as a condition
_OBJECTS = (ObjVal, ClassVal, ModVal, ParserVal, SubparsersVal, FuncVal, PartialVal, BoundMethod)


def _none_test(left: Any, right: Any) -> bool | None:
    """`x is None` where one side is None and the other a function, class, model or object the
    program made: False; None when not that."""
    for a, b in ((left, right), (right, left)):
        if isinstance(a, Const) and a.value is None and isinstance(b, (*_OBJECTS, ModelVal, SeqVal)):
            return False
    return None


def _keys(value: Any) -> set | None:
    """The keys of a dict literal that no later code changed; None when not that."""
    if isinstance(value, At):
        value = value.value
    if isinstance(value, SourceVal) and isinstance(value.base, DictLit) and not value.ops:
        return set(value.base.entries)
    if isinstance(value, ObjVal):
        return None
    return None


def _entry(item: Any, *sources: Any) -> Any:
    """An item of known data: a registry's entry is the function or class itself."""
    return item if isinstance(item, (FuncVal, ClassVal)) else const(item, *sources)


_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")


def truth_of(ev, value: Any) -> bool | None:
    """`truth`, reading a checkpoint's value where the test is on one (yolov5's `ckpt["ema"] if
    ckpt.get("ema") else ckpt["model"]`): None / plain data / a dict by their truth, a pickled
    module (no container, whose length is its truth) true; a tensor or another object unknown."""
    if not isinstance(value, (SourceVal, At)):
        return truth(value)
    concrete = getattr(ev, "concrete", None)
    if concrete is None:
        return None
    obj = concrete(value, raw=True)
    if obj is None or isinstance(obj, (bool, int, float, str, list, tuple, dict)):
        return bool(obj)  # (a StateDict is a dict)
    if isinstance(obj, SavedModule) and obj.classes and not str(obj.classes.get("", "")).endswith(_CONTAINERS):
        return True
    return None


def truth(value: Any) -> bool | None:
    if isinstance(value, Const):
        try:
            return bool(value.value)
        except Exception:  # noqa: BLE001 - an odd constant is just not known
            return None
    if isinstance(value, _OBJECTS):
        return True
    if isinstance(value, SeqVal):
        return bool(value.items)  # a list or tuple: true when it has items, whatever they are
    return None


def subscript(ev, base: Any, node: ast.Subscript, env: dict) -> Any:
    """`cfg["model"]["width"]`, `MODELS[name]`, `pairs[0]`; None when not plain data."""
    if isinstance(base, JsonFile):
        base = config_data.read_data(ev, base)
    if isinstance(base, SeqVal):
        key = ev.ev(node.slice, env)
        if isinstance(key, Const) and isinstance(key.value, int) and -len(base.items) <= key.value < len(base.items):
            return base.items[key.value]
        if isinstance(key, Const) and isinstance(key.value, slice) and key.value.step != 0:
            return SeqVal(base.items[key.value])
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    if isinstance(base, Const):
        key = ev.ev(node.slice, env)
        if isinstance(key, Const) and isinstance(base.value, config_data.AttrDict):
            return config_data.config_item(base, key.value, ev.pf.segment(node))
        if isinstance(key, Const):
            try:
                item = base.value[key.value]
                return _entry(item, base, key)
            except (KeyError, IndexError, TypeError, ValueError):
                return Unknown(f"`{ev.pf.segment(node)}`: no such item in the value")
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    if isinstance(base, SourceVal) and isinstance(base.base, DictLit):
        key = ev.ev(node.slice, env)
        entry = program_dict_get(base, key)
        if entry is not None and entry is not ABSENT:
            return entry  # a registry's class, a config value
    if isinstance(base, CfgNodeVal):
        return yacs_values.item(base, ev.ev(node.slice, env))
    if isinstance(base, ObjVal):
        method = ev.attribute(base, "__getitem__", node) if base.cls is not None else None
        if isinstance(method, FuncVal):  # `parser[key]` of a workspace config class (MONAI's ConfigParser)
            return ev.call_function(method, [ev.ev(node.slice, env)], {}, node)
        return Unknown(f"`{ev.pf.segment(node)}`: subscript of an object")
    return None


ABSENT = object()  # program_dict_get: the key is surely not in the dict


def program_dict_get(base: SourceVal, key: Any) -> Any:
    """`registry.get(name)` of a dict the program made and filled by known keys: the entry when it
    is a class, function or plain value, ABSENT when the key is surely missing, else None."""
    entries = program_dict_entries(base) if isinstance(key, Const) else None
    if entries is None:
        return None
    try:
        if key.value not in entries:
            return ABSENT
    except TypeError:
        return None
    entry = entries[key.value]
    if isinstance(entry, At) and isinstance(entry.value, (ModelVal, ModelAttr)):
        return entry.value  # `nets["G"]` of `nets = {"G": netG, "D": netD}`: the model itself, shared
    return None if isinstance(entry, (At, SourceVal)) else entry


def program_dict_entries(value: Any) -> dict | None:
    """The items of a dict the program made and filled by known keys (a registry's), else None."""
    if isinstance(value, At):
        value = value.value
    if isinstance(value, Const) and isinstance(value.value, dict):  # `self._module_dict = dict()`, filled since
        return dict(value.value)
    return _dict_now(value) if isinstance(value, SourceVal) and isinstance(value.base, DictLit) else None


def _dict_now(value: SourceVal) -> dict | None:
    """A dict the program made (`_MODELS = {}`), with the items set on it since by known keys
    (`_MODELS[fn.__name__] = fn` in a registering decorator); None after any other change."""
    entries = dict(value.base.entries)
    for op in value.ops:
        if op.kind == "pop" and isinstance(op.arg, Const) and not op.guards:
            entries.pop(op.arg.value, None)  # `kwargs.pop("config", None)`
            continue
        if op.kind != "setitem" or not isinstance(op.arg[0], Const) or op.guards:
            return None  # (a change that may not happen: the item is not known)
        entries[op.arg[0].value] = op.arg[1]
    return entries


_STR_METHODS = {"format", "join", "replace", "lower", "upper", "strip", "rstrip", "lstrip", "split", "rsplit",
                "partition", "rpartition", "startswith", "endswith", "removeprefix", "removesuffix", "splitlines",
                "capitalize", "title", "casefold", "swapcase", "zfill", "isdigit", "isidentifier", "find", "rfind",
                "count", "index", "rindex", "isalpha", "isalnum", "isnumeric", "isdecimal", "isspace", "islower",
                "isupper", "ljust", "rjust", "center", "encode"}


_SET_METHODS = {"issubset", "issuperset", "isdisjoint", "union", "intersection", "difference", "symmetric_difference"}


def const_method(ev, owner: Const, node: ast.Call, env: dict) -> Any:
    """`'{}-G.ckpt'.format(iters)`, `name.lower()`: string methods over known values."""
    name = node.func.attr  # type: ignore[attr-defined]
    if isinstance(owner.value, (dict, list)) and name == "copy" and not node.args and not node.keywords:
        return Const(copy.copy(owner.value), owner.origin)  # another object: a change to one is not seen in the other
    if isinstance(owner.value, dict) and name in ("items", "keys", "values") and not node.args and not node.keywords:
        return Const(list(getattr(owner.value, name)()), owner.origin)  # what a `for` walks over
    if isinstance(owner.value, dict) and name == "get" and 1 <= len(node.args) <= 2 and not node.keywords:
        key = ev.ev(node.args[0], env)  # `cfg.get("params", {})`
        if not isinstance(key, Const):
            return Unknown(f"`{ev.pf.segment(node)}` is not known")
        if key.value in owner.value:
            if isinstance(owner.value, config_data.AttrDict):
                return config_data.config_item(owner, key.value, ev.pf.segment(node))
            return _entry(owner.value[key.value], owner, key)  # (`registry.get(name)`: the class itself)
        return ev.ev(node.args[1], env) if len(node.args) == 2 else Const(None)
    if isinstance(owner.value, (set, frozenset)) and name in _SET_METHODS and not node.keywords:
        args = [ev.ev(a, env) for a in node.args]  # `set(params).issubset({0, 1})`: results that are sets or bools
        if not all(isinstance(a, Const) and isinstance(a.value, (set, frozenset, list, tuple)) for a in args):
            return Unknown(f"`{ev.pf.segment(node)}` is not known")
        try:
            return const(getattr(owner.value, name)(*[a.value for a in args]), owner, *args)
        except TypeError:
            return Unknown(f"`{ev.pf.segment(node)}` raises")
    if not isinstance(owner.value, str) or name not in _STR_METHODS:
        return None
    args = [ev.ev(a, env) for a in node.args]
    kwargs = keywords(ev, node, env)
    if kwargs is None or not all(isinstance(a, Const) for a in [*args, *kwargs.values()]) or \
            any(isinstance(a, ast.Starred) for a in node.args):
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    if name == "join" and not (len(args) == 1 and isinstance(args[0].value, (list, tuple))
                               and all(isinstance(x, str) for x in args[0].value)):
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    if name == "format" and any(not isinstance(a.value, (str, int, float, bool, type(None)))
                                for a in [*args, *kwargs.values()]):
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    try:
        value = getattr(owner.value, name)(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
    except Exception:  # noqa: BLE001 - what would raise at run time is not known here
        return Unknown(f"`{ev.pf.segment(node)}` raises")
    return const(value, owner, *args, *kwargs.values())


def keywords(ev, node: ast.Call, env: dict) -> dict[str, Any] | None:
    """A call's keyword arguments, `**` ones spread; None when a spread one is not known (or
    has a key that is not a string: the call raises)."""
    out: dict[str, Any] = {}
    for k in node.keywords:
        if k.arg is None:
            entries = spread(ev, k.value, env)
            if entries is None or not all(isinstance(key, str) for key in entries):
                return None
            out.update(entries)
        else:
            out[k.arg] = ev.ev(k.value, env)
    return out


def spread(ev, expr: ast.expr, env: dict) -> dict[Any, Any] | None:
    """The items `**expr` spreads (in a call or a dict display): a dict of known values, a
    dict literal, a checkpoint's dict (`GPTConfig(**checkpoint["model_args"])`), a JSON file's
    (`f(**json.load(fh))`); None when not known."""
    value = ev.ev(expr, env)
    if isinstance(value, (SourceVal, At)) and not (
            isinstance(value, SourceVal) and isinstance(value.base, DictLit) and not value.ops):
        value = ev.concrete(value)
    if isinstance(value, JsonFile):
        value = config_data.read_data(ev, value)
    if isinstance(value, Const) and isinstance(value.value, dict):
        return {a: Const(b, value.origin) for a, b in value.value.items()}
    if isinstance(value, SourceVal) and isinstance(value.base, DictLit) and not value.ops:
        return dict(value.base.entries)
    return None


_RE_METHODS = {"group", "groups", "start", "end", "span", "groupdict", "findall", "search", "match", "fullmatch",
               "sub", "split"}


def re_method(ev, owner: Const, node: ast.Call, env: dict) -> Any:
    """A method of a compiled pattern or a match `re` gave (`m.group(1)`); None for other values."""
    name = node.func.attr  # type: ignore[attr-defined]
    if name not in _RE_METHODS or \
            not hasattr(owner.value, name):
        return None
    args = [ev.ev(a, env) for a in node.args]
    if node.keywords or not all(isinstance(a, Const) and isinstance(a.value, (str, int)) for a in args):
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    try:
        return Const(getattr(owner.value, name)(*[a.value for a in args]), owner.origin)
    except Exception:  # noqa: BLE001 - `m.group(3)` of two groups raises at run time
        return Unknown(f"`{ev.pf.segment(node)}` raises")
