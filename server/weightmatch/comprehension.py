"""Comprehensions over known plain data: `{k: v for k, v in d.items() if k in names}`,
`[w * 2 for w in widths]`, `{f.name for f in fields(cls)}`. Each item is bound in turn and the
parts evaluated by the interpreter; the result is known when every part is (a filter that is not
known makes the whole unknown: which items it keeps is not known). State dicts are not this:
their comprehensions run over the real keys (keyexpr.py)."""

from __future__ import annotations

import ast
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from weightmatch import config_data
from weightmatch.values import (
    At, ClassVal, Const, DictLit, FileHandle, FuncVal, JsonFile, KeySnapshot, ModelAttr, ModelVal, ObjVal, SeqVal,
    SourceVal, Unknown, frozen, origins,
)

MAX_ITEMS = 10_000


def items_of(value: Any, ev=None) -> list[Any] | None:
    """The items a `for` walks over, when the collection is known (a checkpoint's keys too)."""
    if ev is not None and isinstance(value, KeySnapshot) and len(value.sd.ops) == value.ops:
        keys = items_of(value.sd, ev)  # `keys = sorted(sd.keys())`, the state dict unchanged since
        return sorted(keys, key=lambda k: k.value) if keys is not None and value.sort else keys
    if ev is not None and isinstance(value, (SourceVal, At)):
        obj = ev.concrete(value, raw=True)
        if isinstance(obj, Mapping) and len(obj) <= MAX_ITEMS and all(isinstance(k, str) for k in obj):
            return [Const(k, "keys read from the checkpoint") for k in obj]
        return None
    if isinstance(value, SeqVal):
        return list(value.items)
    if ev is not None and isinstance(value, FileHandle):
        lines = file_lines(ev, value)  # `[l.strip() for l in f]`: the lines of a text file, read as data
        value.used = True
        return lines[value.lines_taken:] if lines is not None else None
    if isinstance(value, Const) and isinstance(value.value, (list, tuple, str, dict, range, bytes)):
        if len(value.value) > MAX_ITEMS:
            return None
        return [Const(v, value.origin) for v in value.value]
    return None  # a set's order is Python's hash order (strings: random per run): not known here


def file_lines(ev, handle: FileHandle) -> list[Const] | None:
    """The lines of a file opened in text mode and not read from yet (but for lines `next(f)`
    took: FileHandle.lines_taken); None when that is not known."""
    if not handle.text or handle.used:
        return None
    read = config_data.read_data(ev, JsonFile(handle.path, "text"))
    if not (isinstance(read, Const) and isinstance(read.value, str)):
        return None
    lines = read.value.splitlines(keepends=True)
    return [Const(line, read.origin) for line in lines] if len(lines) <= MAX_ITEMS else None


_PURE_CALLS = {"len", "int", "float", "str", "bool", "bytes", "round", "abs", "min", "max", "tuple", "list", "getattr", "hasattr",
               "isinstance"}
_PURE_METHODS = {"startswith", "endswith", "replace", "lower", "upper", "strip", "split", "format", "get", "capitalize",
                 "encode",
                 "rsplit", "partition", "rpartition", "isdigit", "group",
                 "title", "removeprefix", "removesuffix", "lstrip", "rstrip"}


# calls that read a config file as data (plain.py / config_data.py): `[OmegaConf.load(c) for c in opt.base]`,
# and the path functions that only read names and the disk (file_paths.py, disk_paths.py):
# `[os.path.join(d, f) for f in os.listdir(d) if f.endswith(".pth")]`
_DATA_READERS = {"omegaconf.OmegaConf.load", "yaml.safe_load", "json.load", "json.loads",
                 *(f"os.path.{f}" for f in ("join", "basename", "dirname", "splitext", "isfile", "isdir", "exists",
                                            "getmtime", "getctime", "getsize", "abspath", "normpath", "relpath")),
                 *(f"re.{f}" for f in ("findall", "search", "match", "fullmatch", "sub", "split"))}


def pure(node: ast.AST, dotted=None) -> bool:
    """A comprehension whose items, keys and filters call nothing that could make a model or
    change state (its iterables are evaluated once, as the script evaluates them); `dotted`
    names a call's function, to let the config readers through."""
    parts = [getattr(node, a) for a in ("elt", "key", "value") if getattr(node, a, None) is not None]
    parts += [cond for gen in node.generators for cond in gen.ifs]
    for part in parts:
        for sub in ast.walk(part):
            if isinstance(sub, ast.Call) and not (
                    isinstance(sub.func, ast.Name) and sub.func.id in _PURE_CALLS or
                    isinstance(sub.func, ast.Attribute) and sub.func.attr in _PURE_METHODS or
                    dotted is not None and dotted(sub.func) in _DATA_READERS):
                return False
            if isinstance(sub, (ast.NamedExpr, ast.Lambda, ast.Await, ast.Yield)):
                return False
    return True


def run(ev, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp, env: dict,
        every: bool = False) -> Any:
    """The comprehension's value, when all of it is known. With `every`, each item is made even
    after one is not known (its calls are followed: `follow`)."""
    what = f"`{ev.pf.segment(node)}`"
    scopes = _scopes(ev, node, env, what)
    if isinstance(scopes, Unknown):
        return scopes
    made: list[list[Any]] = []
    for scope in scopes:
        parts = [ev.ev(node.key, scope), ev.ev(node.value, scope)] if isinstance(node, ast.DictComp) \
            else [ev.ev(node.elt, scope)]
        if not all(isinstance(p, Const) for p in parts) and not every and not _tracked(parts):
            return Unknown(f"{what} makes values not known statically")
        made.append(parts)
    if not all(isinstance(p, Const) for parts in made for p in parts):
        if not every and all(_tracked(parts) for parts in made):
            return _holding(node, made)
        return Unknown(f"{what} makes values not known statically")
    results = [tuple(p.value for p in parts) if len(parts) == 2 else parts[0].value for parts in made]
    origin = origins([p for parts in made for p in parts])  # (`[OmegaConf.load(c) for c in opt.base]`: the files read)
    try:
        if isinstance(node, ast.DictComp):
            return Const(dict(results), origin)
        return Const(set(results) if isinstance(node, ast.SetComp) else list(results), origin)
    except TypeError:  # an unhashable key: raises at run time
        return Unknown(f"{what} raises")


def _tracked(parts: list[Any]) -> bool:
    """An item of known key (for a dict) whose value is known or a model, a part of one, a state
    dict (`{k: modules[k] for k in names}`: SpeechBrain's loadables)."""
    return all(isinstance(p, Const) for p in parts[:-1]) and \
        isinstance(parts[-1], (Const, ModelVal, ModelAttr, SourceVal, At, SeqVal))


def _holding(node: ast.expr, made: list[list[Any]]) -> Any:
    """A comprehension that holds tracked values, as the display holding them would be."""
    if isinstance(node, ast.DictComp):
        try:
            return SourceVal(DictLit({parts[0].value: frozen(parts[1]) for parts in made}))
        except TypeError:  # an unhashable key: raises at run time
            return Unknown(f"`{ast.unparse(node)}` raises")
    if isinstance(node, ast.ListComp):
        return SeqVal([frozen(parts[0]) for parts in made])
    return Unknown(f"`{ast.unparse(node)}` makes values not known statically")


# builtins that only read what they are given (never a model's constructor)
BUILTINS = {"print", "len", "range", "list", "tuple", "set", "int", "float", "str", "sorted", "zip", "enumerate",
            "isinstance", "getattr", "hasattr", "open", "sum", "min", "max", "any", "all", "abs", "round", "bool",
            "dict", "reversed", "map", "filter", "iter", "next"}


def calls_workspace(node: ast.expr, env: dict) -> bool:
    """A comprehension's body calls a function or class of the workspace (by a name it has)."""
    parts = [getattr(node, a) for a in ("elt", "key", "value") if getattr(node, a, None) is not None]
    def workspace(func: ast.expr) -> bool:
        if isinstance(func, ast.Name):  # `predict(cfg)`
            return func.id in env and isinstance(env[func.id], (FuncVal, ClassVal))
        # `self.resolve(v)`: a method of a workspace object
        return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in env \
            and isinstance(env[func.value.id], ObjVal) and env[func.value.id].cls is not None

    return any(isinstance(sub, ast.Call) and workspace(sub.func) for part in parts for sub in ast.walk(part))


def follow(ev, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp, env: dict) -> Any:
    """A comprehension whose body calls code of the workspace (`[predict(cfg) for cfg in CFGS]`,
    a Kaggle blend): run once per known item, as the script runs it, so each call is followed
    with its item (the loads in it judged per item); its value, when all of it is known."""
    return run(ev, node, env, every=True)


def _scopes(ev, node, env: dict, what: str) -> list[ChainMap] | Unknown:
    """One scope per item the generators keep, its loop names bound, in order."""
    scopes = [ChainMap({}, env)]
    for gen in node.generators:
        if gen.is_async:
            return Unknown(f"{what} is not known statically")
        kept = []
        it = gen.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "keys" \
                and not it.args and not it.keywords:
            it = it.func.value  # `for k in state_dict.keys()`: a mapping's keys, as iterating it gives them
        for scope in scopes:
            iterable = ev.ev(it, scope)
            if it is not gen.iter and not isinstance(iterable, (SourceVal, At)):
                iterable = ev.ev(gen.iter, scope)
            items = items_of(iterable, ev)
            if items is None:
                return Unknown(f"{what} walks over something not known statically")
            for item in items:
                inner = scope.new_child()
                if not _bind(gen.target, item, inner):
                    return Unknown(f"{what} unpacks items not known statically")
                tests = [ev.ev(cond, inner) for cond in gen.ifs]
                if not all(isinstance(t, Const) for t in tests):
                    return Unknown(f"{what}: which items its filter keeps is not known statically")
                if all(t.value for t in tests):
                    kept.append(inner)
                if len(kept) > MAX_ITEMS:
                    return Unknown(f"{what} is too long to follow")
        scopes = kept
    return scopes


def _bind(target: ast.expr, item: Any, scope: ChainMap) -> bool:
    if isinstance(target, ast.Name):
        scope[target.id] = item
        return True
    if isinstance(target, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in target.elts):
        parts = item.items if isinstance(item, SeqVal) else \
            [Const(v, item.origin) for v in item.value] if isinstance(item, Const) and \
            isinstance(item.value, (tuple, list)) else None
        if parts is None or len(parts) != len(target.elts):
            return False
        return all(_bind(t, p, scope) for t, p in zip(target.elts, parts))
    return False


def dataclass_fields(ev, cls: Any) -> Any:
    """`dataclasses.fields(cls)`: each field as an object with its `name` and `default` (CleanRL-style
    `parser.add_argument(f"--{f.name}", type=type(f.default), default=f.default)`)."""
    fields = ev.dataclass_field_defaults(cls)
    if fields is None:
        return Unknown("`fields(...)` of a class not known statically")
    return SeqVal([ObjVal({"name": Const(n), "default": d}, "dataclasses.Field") for n, d in fields.items()])


def pairs_as_dict_comp(node: ast.expr) -> ast.expr:
    """`OrderedDict((k[7:], v) for k, v in sd.items())` is `{k[7:]: v for k, v in sd.items()}`
    (mmcv's `revise_keys`, the usual `module.` strip); any other argument as it is."""
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and isinstance(node.elt, ast.Tuple) \
            and len(node.elt.elts) == 2 and not any(isinstance(e, ast.Starred) for e in node.elt.elts):
        return ast.copy_location(ast.DictComp(node.elt.elts[0], node.elt.elts[1], node.generators), node)
    return node
