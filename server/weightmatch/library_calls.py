"""Calls of the standard library and builtins that make plain data for the source interpreter:
`argparse.ArgumentParser`, `SimpleNamespace`, `vars`, `getattr`, `dict`, dataclasses, `eval` of a
known name, `next`, config-file readers and the pure builtins real scripts size models with
(`int(opt.ngpu)`, `len(class_names)`). Config files are read as data, never as code."""

from __future__ import annotations

import ast
import os
import re
import shlex
import urllib.parse
from typing import Any

from weightmatch import (
    cli_apps, comprehension, config_data, disk_paths, environment, has_attr, journal, parsing, plain_functions,
    purefuncs,
)
from weightmatch.argparse_values import ParserVal
from weightmatch.plain import const, keywords
from weightmatch.types import TensorInfo
from weightmatch.values import (
    At, ClassVal, Const, DictLit, FileHandle, FuncVal, JsonFile, ModVal, ObjVal, Remade, SeqVal, SourceVal, Unknown, frozen,
    origins,
)


def _bytes(*args: Any) -> bytes:
    """`bytes([b])` of known items; never `bytes(n)` of a number (n zero bytes, however many)."""
    if len(args) != 1 or not isinstance(args[0], (list, tuple, bytes)) or len(args[0]) > 10_000:
        raise TypeError("bytes of this argument is not computed here")
    return bytes(args[0])


_PURE = {"int": int, "float": float, "str": str, "bool": bool, "bytes": _bytes, "len": len, "min": min, "max": max, "abs": abs,
         "round": round, "tuple": tuple, "list": list, "sorted": sorted, "sum": sum, "range": range,
         # what a `for` walks over (`for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:]))`), as lists
         "enumerate": lambda *a: list(enumerate(*a)), "zip": lambda *a: list(zip(*a)),
         "reversed": lambda a: list(reversed(a)),
         "shlex.split": shlex.split}  # `parser.parse_args(shlex.split("--depth 4"))`


def _parser(ev, node: ast.Call, env: dict) -> ParserVal:
    """`ArgumentParser(..., parents=[get_args_parser()])` (DeiT, MAE, DINO): the parents'
    options and defaults come first, as argparse copies them."""
    parser = ParserVal()
    parents = next((k.value for k in node.keywords if k.arg == "parents"), None)
    if parents is None:
        return parser
    items = ev.ev(parents, env)
    items = items.items if isinstance(items, SeqVal) else [items] if isinstance(items, ParserVal) else None
    if items is None or not all(isinstance(p, ParserVal) for p in items):
        parser.unknown = "options from parent parsers not known statically (`parents=...`)"
        return parser
    for p in items:
        if p.unknown or p.subparsers is not None:
            parser.unknown = p.unknown or "a parent parser with subcommands"
        parser.options.extend(p.options)
        parser.defaults.update(p.defaults)
    return parser


def library_call(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """Calls of the standard library and builtins that make plain data; None for others."""
    if dotted == "argparse.ArgumentParser":
        return _parser(ev, node, env)
    if dotted in _EMPTY and not node.args and not node.keywords:
        return Const(_EMPTY[dotted]())  # a config's `args = list()`; with an argument, the pure builtins below
    handler = _LIBRARY.get(dotted)
    if handler is not None:
        return handler(ev, dotted, node, env)
    if dotted in _PURE or dotted in purefuncs.NAMES:
        return _pure(ev, dotted, node, env)
    return None


def _type(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`type(v)` of a known number, string, bool, dict, list or tuple (exactly those: no subclass): the class itself (guided-diffusion's
    `add_argument(f"--{k}", default=v, type=type(v))`); None for anything else."""
    value = ev.ev(node.args[0], env) if len(node.args) == 1 and not node.keywords else None
    if isinstance(value, Const) and type(value.value) in (int, float, str, bool, dict, list, tuple):
        return Const(type(value.value), value.origin)
    return None


def _device(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`torch.device("cpu")` of known text (a `device` handed to a constructor): a Remade value,
    written into a recipe as the same call; what it is asked (`.type`, `==`) stays unknown."""
    args = [ev.ev(a, env) for a in node.args]
    if node.keywords or not 1 <= len(args) <= 2 or not all(isinstance(a, Const) for a in args) \
            or not isinstance(args[0].value, str) or len(args) == 2 and type(args[1].value) is not int:
        return None
    torch = ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("torch")], [])
    expr = ast.Call(ast.Attribute(torch, "device", ast.Load()), [ast.Constant(a.value) for a in args], [])
    return Remade(f"`{ev.pf.segment(node)}` is not known statically", expr, origins(args))


def _namespace(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    kwargs = keywords(ev, node, env)
    if kwargs is None or node.args:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    return ObjVal(kwargs, dotted.rsplit(".", 1)[-1])


def _urlparse(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`urlparse(url)` / `urlsplit(url)` of a known string (a model zoo's URL, whose `.path` names
    the cached file): its parts, read by attribute."""
    url = ev.ev(node.args[0], env) if len(node.args) == 1 and not node.keywords else None
    if not (isinstance(url, Const) and isinstance(url.value, str)):
        return None
    parts = getattr(urllib.parse, dotted.rsplit(".", 1)[-1])(url.value)
    return ObjVal({f: Const(getattr(parts, f), url.origin) for f in parts._fields}, type(parts).__name__)


_RE_FUNCS = ("findall", "search", "match", "fullmatch", "sub", "split", "compile")


def _re(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`re.findall(r"epoch_(\\d+)", name)`, `re.search(...)` and its match's `.group(1)`,
    `re.sub`, `re.compile`: over known short strings, as `re` answers."""
    args = [ev.ev(a, env) for a in node.args]
    kwargs = keywords(ev, node, env)
    if kwargs is None or any(isinstance(a, ast.Starred) for a in node.args) or \
            not all(isinstance(v, Const) and isinstance(v.value, (str, int, re.Pattern)) and
                    len(str(v.value)) <= 10_000 for v in [*args, *kwargs.values()]):
        return None
    try:
        value = getattr(re, dotted.rsplit(".", 1)[-1])(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
    except Exception:  # noqa: BLE001 - a pattern that raises at run time
        return Unknown(f"`{ev.pf.segment(node)}` raises")
    return Const(value, "; ".join(a.origin for a in args if a.origin))


def _vars(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    return vars_of(ev, ev.ev(node.args[0], env) if len(node.args) == 1 else None)


def vars_of(ev, obj: Any) -> Any:
    """`vars(args)` / `args.__dict__` of a namespace: its attributes as a dict; None for others."""
    if isinstance(obj, (SourceVal, At)):
        obj = ev.saved_namespace(obj)  # `vars(ckpt["args"])`
    if isinstance(obj, ModVal):  # `vars(module)` of a config module: as `module.__dict__`
        return ev.module_dict(obj.file, f"`vars({os.path.basename(obj.file.path)})`")
    if not isinstance(obj, ObjVal):
        return None
    if all(isinstance(v, Const) for v in obj.attrs.values()):
        return Const({k: v.value for k, v in obj.attrs.items()}, origins(list(obj.attrs.values())))
    return SourceVal(DictLit(dict(obj.attrs)))


def _getattr(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    if len(node.args) not in (2, 3):
        return None
    obj, name = ev.ev(node.args[0], env), ev.ev(node.args[1], env)
    if isinstance(obj, (SourceVal, At)):  # fairseq's `getattr(args, "embed_dim", 512)` of the checkpoint's args
        obj = ev.saved_namespace(obj) or obj
    if not (isinstance(obj, (ObjVal, ModVal, ClassVal)) and isinstance(name, Const) and isinstance(name.value, str)):
        return None
    value = ev.attribute(obj, name.value, node)
    if isinstance(value, Unknown) and len(node.args) == 3 and isinstance(obj, ObjVal) \
            and name.value not in obj.attrs and obj.cls is None and obj.name != "the argparse namespace":
        return ev.ev(node.args[2], env)
    return value


def setattr_parts(node: ast.Call) -> list[ast.expr] | None:
    """The object, name and value of `setattr(obj, name, value)` or `obj.__setattr__(name, value)`
    (ABINet's config class); None for another call."""
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    if isinstance(node.func, ast.Attribute) and node.func.attr == "__setattr__" and len(node.args) == 2:
        return [node.func.value, *node.args]
    return list(node.args) if isinstance(node.func, ast.Name) and node.func.id == "setattr" and len(node.args) == 3 \
        else None


def set_known_attr(ev, node: ast.Call, env: dict) -> bool:
    """`setattr(obj, "name", value)` on an object of known attributes, as Python sets it (the
    statement and `return setattr(self, key, value)`, VITS's `HParams.__setitem__`, share it);
    False for anything else (the caller decides what an attribute it cannot name changes)."""
    parts = setattr_parts(node)
    if parts is None:
        return False
    obj, name = ev.ev(parts[0], env), ev.ev(parts[1], env)
    if not (isinstance(obj, ObjVal) and isinstance(name, Const) and isinstance(name.value, str)):
        return False
    journal.put(obj.attrs, name.value, ev.ev(parts[2], env))
    return True


def _setattr(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`setattr(...)` in an expression: None (its value) where it sets a known attribute."""
    return Const(None) if set_known_attr(ev, node, env) else None


def _easydict(ev, node: ast.Call, env: dict) -> Any:
    """`EasyDict(cfg)`: the dict's items, read by attribute too (nested dicts as well)."""
    made = _dict(ev, "dict", node, env)
    if not (isinstance(made, Const) and isinstance(made.value, dict)):
        return made if isinstance(made, Unknown) else Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    return Const(config_data.attr_data(made.value), made.origin)


def _dict(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`dict(vocab_size=120, **base)`, `dict(mapping)` over known values."""
    kwargs = keywords(ev, node, env)
    args = [config_data.as_const(ev.ev(comprehension.pairs_as_dict_comp(a), env)) for a in node.args]
    if len(args) == 1 and not node.keywords and isinstance(args[0], (SourceVal, At)) and \
            isinstance(ev.concrete(args[0]), Unknown):
        return None  # `dict(ckpt["model"])`: a copy of a state dict (evaluate.py copies it)
    args = [ev.concrete(a) if isinstance(a, (SourceVal, At)) else a for a in args]  # `dict(ckpt["model_args"])`
    if kwargs is None or len(args) > 1:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    unknown = next((v for v in [*args, *kwargs.values()] if not isinstance(v, Const)), None)
    if unknown is not None and not node.args and not any(k.arg is None for k in node.keywords) and \
            all(isinstance(v, (Const, Remade)) for v in kwargs.values()):
        # face.evoLVe's `dict(INPUT_SIZE=[112, 112], DEVICE=torch.device(...))`: as the display
        # `{"INPUT_SIZE": ..., "DEVICE": ...}` holds them, each item read for itself (a value not
        # known at all keeps the whole dict unknown, its reason said)
        return config_data.as_const(SourceVal(DictLit({k: frozen(v) for k, v in kwargs.items()})))
    if unknown is not None:
        return Unknown(f"`{ev.pf.segment(node)}` holds a value not known statically"
                       + (f" ({unknown.reason})" if isinstance(unknown, Unknown) else ""))
    try:
        made = dict(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
    except Exception:  # noqa: BLE001 - raises at run time: not known here
        return Unknown(f"`{ev.pf.segment(node)}` raises")
    return Const(made, origins([*args, *kwargs.values()]))


def _asdict(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`dataclasses.asdict(cfg)` of a dataclass instance whose fields are known."""
    obj = ev.ev(node.args[0], env) if len(node.args) == 1 and not node.keywords else None
    if not (isinstance(obj, ObjVal) and obj.cls is not None and obj.cls.dataclass):
        return None
    fields = {k: config_data.as_const(v) for k, v in obj.attrs.items()}
    if not all(isinstance(v, Const) for v in fields.values()):
        return Unknown(f"`{ev.pf.segment(node)}`: a field is not known statically")
    return Const({k: v.value for k, v in fields.items()}, origins(list(fields.values())))


def _replace(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`dataclasses.replace(cfg, depth=4)`: the dataclass made again with those fields changed."""
    obj = ev.ev(node.args[0], env) if len(node.args) == 1 else None
    changes = keywords(ev, node, env)
    if not (isinstance(obj, ObjVal) and obj.cls is not None and obj.cls.dataclass):
        return None
    if changes is None:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    return ev.instantiate(obj.cls, [], {**obj.attrs, **changes}, node)


def _eval(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`eval(f"args.{name}")`: a known string naming a value (names, attributes, constant
    subscripts) is read like the same expression written out; anything else is not run."""
    text = ev.ev(node.args[0], env) if len(node.args) == 1 and not node.keywords else None
    if not (isinstance(text, Const) and isinstance(text.value, str) and len(text.value) < 200):
        return None
    try:
        expr = parsing.parse(text.value.strip(), mode="eval").body
    except SyntaxError:
        return Unknown(f"`{ev.pf.segment(node)}` raises SyntaxError")
    if not all(isinstance(n, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Load)) for n in ast.walk(expr)):
        return Unknown(f"`{ev.pf.segment(node)}` runs code not followed here")
    return ev.ev(expr, env)


def _pure(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    if dotted in ("max", "min", "sorted") and node.keywords:
        made = disk_paths.by_file_key(ev, dotted, node, env)  # `max(paths, key=os.path.getmtime)`
        return made if made is not None else _by_key(ev, dotted, node, env)
    args = [ev.ev(a, env) for a in node.args]
    # `len(json.load(f))` (a vocabulary file's size), `sorted(json.load(f))`: the data it holds
    args = [config_data.read_data(ev, a) if isinstance(a, JsonFile) else a for a in args]
    if dotted == "len" and len(args) == 1 and isinstance(args[0], ObjVal) and args[0].cls is not None:
        method = ev.attribute(args[0], "__len__", node)  # `len(tokenizer)` of a workspace class
        return ev.call_function(method, [], {}, node) if isinstance(method, FuncVal) else None
    if node.keywords or not args or not all(isinstance(a, Const) for a in args):
        if dotted == "len" and len(args) == 1 and isinstance(args[0], SeqVal):
            return Const(len(args[0].items))
        if dotted == "len" and len(args) == 1 and isinstance(args[0], (SourceVal, At)):
            return _saved_len(ev, args[0])  # EasyOCR's `len(pretrained_dict['Prediction.weight'])`
        return None
    if dotted in purefuncs.NAMES:
        try:
            return const(purefuncs.compute(dotted, [a.value for a in args], {}), *args)
        except purefuncs.Raises:
            return Unknown(f"`{ev.pf.segment(node)}` raises")
        except purefuncs.NotModeled:
            if dotted not in _PURE:
                return None
    try:
        return const(_PURE[dotted](*[a.value for a in args]), *args)
    except Exception:  # noqa: BLE001 - user code that would raise is not known
        return Unknown(f"`{ev.pf.segment(node)}` raises")


def _saved_len(ev, value: Any) -> Any:
    """`len(t)` of a checkpoint's tensor: its first dimension (a 0-d tensor raises TypeError); of
    anything else read from it, not known here."""
    info = ev.concrete(value, raw=True)
    if isinstance(info, TensorInfo) and info.shape:
        return Const(info.shape[0], "sizes read from the checkpoint")
    return Unknown("the length of a value read from the checkpoint" if not isinstance(info, Unknown) else info.reason)


def _by_key(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`sorted(names, key=lambda f: ...)`, `max(xs, key=len)`, `reverse=True`: over known items,
    the key computed by the interpreter (plain_functions.py); None when not that."""
    kw = {k.arg: k.value for k in node.keywords}
    if len(node.args) != 1 or None in kw or set(kw) - {"key", "reverse"} or "reverse" in kw and dotted != "sorted":
        return None
    key = plain_functions.function(ev, kw["key"], env) if "key" in kw else None
    reverse = ev.ev(kw["reverse"], env) if "reverse" in kw else Const(False)
    items = comprehension.items_of(ev.ev(node.args[0], env), ev)
    if "key" in kw and key is None or not isinstance(reverse, Const) or items is None \
            or not all(isinstance(i, Const) for i in items):
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    try:
        if dotted == "sorted":
            return const(sorted([i.value for i in items], key=key, reverse=bool(reverse.value)), *items)
        return const((max if dotted == "max" else min)([i.value for i in items], key=key), *items)
    except plain_functions.NotKnown as exc:
        return Unknown(str(exc))
    except Exception:  # noqa: BLE001 - what raises at run time is not known here
        return Unknown(f"`{ev.pf.segment(node)}` raises")


def _filter_map(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`filter(str.isdigit, name)`, `filter(None, parts)`, `map(int, parts)` over known items (as a
    list: what `"".join(...)`, `list(...)` and a `for` read of it)."""
    if len(node.args) != 2 or node.keywords:
        return None
    func = node.args[0]
    by_truth = dotted == "filter" and isinstance(func, ast.Constant) and func.value is None  # `filter(None, xs)`
    fn = None if by_truth else plain_functions.function(ev, func, env)
    items = comprehension.items_of(ev.ev(node.args[1], env), ev)
    if fn is None and not by_truth or items is None or not all(isinstance(i, Const) for i in items):
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    try:
        values = [i.value for i in items]
        made = list(filter(fn, values)) if dotted == "filter" else [fn(v) for v in values]  # type: ignore[misc]
    except plain_functions.NotKnown as exc:
        return Unknown(str(exc))
    except Exception:  # noqa: BLE001 - what raises at run time is not known here
        return Unknown(f"`{ev.pf.segment(node)}` raises")
    return const(made, *items)


def _next(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`next(c for c in configs if c["hf"] == name)`, `next(iter(presets))`: the first item of a
    comprehension or a collection of known values (the default, or StopIteration, when empty)."""
    if not 1 <= len(node.args) <= 2 or node.keywords:
        return None
    arg, what = node.args[0], f"`{ev.pf.segment(node)}`"
    handle = ev.ev(arg, env) if isinstance(arg, ast.Name) else None
    if isinstance(handle, FileHandle):  # `header = next(f)`: the next line, the file moved on by one
        lines = comprehension.file_lines(ev, handle)
        if lines is None:
            handle.used = True
            return Unknown(f"{what} is not known")
        if handle.lines_taken < len(lines):
            handle.lines_taken += 1
            return lines[handle.lines_taken - 1]
        return ev.ev(node.args[1], env) if len(node.args) == 2 else Unknown(f"{what} raises StopIteration")
    if isinstance(arg, ast.Call) and ev.pf.dotted(arg.func) == "iter" and len(arg.args) == 1 and not arg.keywords:
        items = config_data.as_const(ev.ev(arg.args[0], env))
        if isinstance(items, Const) and isinstance(items.value, (list, tuple, str, dict)):
            items = Const(list(items.value), items.origin)
    elif isinstance(arg, ast.GeneratorExp):
        items = ev.ev(arg, env)
    else:
        return None
    if not (isinstance(items, Const) and isinstance(items.value, list)):
        return Unknown(f"{what} is not known")
    if items.value:
        return const(items.value[0], items)
    return ev.ev(node.args[1], env) if len(node.args) == 2 else Unknown(f"{what} raises StopIteration")


def _fire(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`fire.Fire(Predictor)` / `fire.Fire(main)` run bare: Fire calls the class or function with
    no arguments (every parameter at its default) and, for a class, stops at the instance;
    with command-line arguments, which member runs is Fire's to decide (not followed)."""
    if len(node.args) != 1 or node.keywords:
        return None
    if ev.argv:
        return Unknown("the command python-fire runs with these arguments is not followed")
    target = ev.ev(node.args[0], env)
    if not isinstance(target, (ClassVal, FuncVal)):
        return None
    return ev.ev(ast.copy_location(ast.Call(node.args[0], [], []), node), env)


_EMPTY = {"list": list, "tuple": tuple, "set": set}


_LIBRARY = {
    "next": _next, "filter": _filter_map, "map": _filter_map, "fire.Fire": _fire, **{f"re.{name}": _re for name in _RE_FUNCS}, "urllib.parse.urlparse": _urlparse, "urllib.parse.urlsplit": _urlparse,
    "types.SimpleNamespace": _namespace, "argparse.Namespace": _namespace, "vars": _vars, "getattr": _getattr, "setattr": _setattr,
    "hasattr": has_attr.call, "eval": _eval, "dict": _dict, "dataclasses.asdict": _asdict,
    "dataclasses.replace": _replace, "type": _type, "torch.device": _device, **environment.HANDLERS, **cli_apps.HANDLERS,
    "easydict.EasyDict": lambda ev, dotted, node, env: _easydict(ev, node, env),
    "dataclasses.fields": lambda ev, dotted, node, env: comprehension.dataclass_fields(ev, ev.ev(node.args[0], env))
    if len(node.args) == 1 else None,
    **{name: config_data.data_file for name in ("yaml.safe_load", "yaml.load", "tomllib.load", "toml.load",
                                     "omegaconf.OmegaConf.load")},
    **{f"omegaconf.OmegaConf.{name}": config_data.omegaconf for name in ("create", "merge", "to_container", "from_cli",
                                                                         "from_dotlist")},
}


# calls whose value, when known, is written into a recipe in place of the call
DATA_CALLS = {"dataclasses.asdict", "dict", "vars", "len", "getattr", "omegaconf.OmegaConf.to_container", "omegaconf.OmegaConf.to_object"}
