"""Known values written into a recipe as Python source: plain data as literals, a layer class
by torch's name, an object as its class's object (recipe_objects.made) or a SimpleNamespace of
its known attributes. What has no exact literal (nan, an IntEnum, a str subclass) has none."""

from __future__ import annotations

import ast
import copy
from typing import Any

from weightmatch import parsing
from weightmatch.config_data import AttrDict, ClassAttrDict, Unresolved, resolved
from weightmatch.values import ClassVal, Const, FuncVal, LibRef, ObjVal, PartialVal, PathStr, Remade, SeqVal, Unknown
from weightmatch.yacs_values import CfgNodeVal


def literal(value: Any, depth: int = 0, attrs_of=None, class_ref=None) -> ast.expr | None:
    """The source of a known value, to write into a recipe; None when it has none. An object
    of a workspace class `class_ref` can name is written as that class's object with its known
    attributes (recipe_objects.made); another object as a SimpleNamespace of its known
    attributes (`attrs_of` adds its class attributes)."""
    if depth > 20:
        return None
    if isinstance(value, Const):
        return _const(value.value, class_ref)
    if isinstance(value, Remade) and value.expr is not None:  # `__import__('torch').device('cpu')`
        return copy.deepcopy(value.expr)
    if isinstance(value, LibRef):  # `__import__('torch').nn.LayerNorm`
        expr: ast.expr = ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("torch")], [])
        for part in value.dotted.split(".")[1:]:
            expr = ast.Attribute(expr, part, ast.Load())
        return expr
    if isinstance(value, CfgNodeVal) and value.broken:
        return None
    if isinstance(value, ObjVal):
        return _object(value, depth, attrs_of, class_ref)
    if isinstance(value, PartialVal):  # `__import__('functools').partial(Net, in_features=4)`
        func = class_ref(value.func) if isinstance(value.func, (ClassVal, FuncVal)) and class_ref is not None \
            else literal(value.func, depth + 1, attrs_of, class_ref)
        args = [literal(v, depth + 1, attrs_of, class_ref) for v in value.args]
        kwargs = {k: literal(v, depth + 1, attrs_of, class_ref) for k, v in value.kwargs.items()}
        if func is None or any(a is None for a in [*args, *kwargs.values()]):
            return None
        partial = ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("functools")], []),
                                "partial", ast.Load())
        return ast.Call(partial, [func, *args], [ast.keyword(k, v) for k, v in kwargs.items()])
    if isinstance(value, SeqVal):
        items = [literal(v, depth + 1, attrs_of, class_ref) for v in value.items]
        if any(i is None for i in items):
            return None
        return ast.List(items, ast.Load())
    return None


def _omegaconf(value: AttrDict) -> ast.expr | None:
    """An OmegaConf node (`instantiate(cfg.model)`, `Net(cfg.model)`): made again by OmegaConf
    from its items, interpolations resolved as reading them resolves them."""
    try:
        plain = resolved(value, value.root)
    except Unresolved:
        return None
    if not _is_literal(plain):
        return None
    create = ast.Attribute(ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("omegaconf")], []),
                                         "OmegaConf", ast.Load()), "create", ast.Load())
    return ast.Call(create, [parsing.parse(repr(plain), mode="eval").body], [])


def literal_text(value: Any, depth: int = 0) -> str | None:
    """`repr` of a plain value when it reads back as the same value (exact types only: an IntEnum
    or a str subclass has a repr that is no literal), else None. `literal` without a parse."""
    if depth > 20:
        return None
    t = type(value)
    if value is None or t in (bool, int, str) or t is float and value == value and value not in (float("inf"), float("-inf")):
        return repr(value)
    if t in (list, tuple) and len(value) < 10_000:
        items = [literal_text(v, depth + 1) for v in value]
        if any(i is None for i in items):
            return None
        inner = ", ".join(items)
        return f"[{inner}]" if t is list else f"({inner}{',' if len(items) == 1 else ''})"
    if t is dict and len(value) < 10_000:
        pairs = [(literal_text(k, depth + 1), literal_text(v, depth + 1)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def _const(value: Any, class_ref) -> ast.expr | None:
    if isinstance(value, PathStr):  # a `Path(...)` made again (no string: `isinstance(p, str)` is False)
        return ast.Call(ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("pathlib")], []),
                                      "Path", ast.Load()), [ast.Constant(str(value))], [])
    if _is_literal(value):
        return parsing.parse(repr(value), mode="eval").body
    if isinstance(value, AttrDict) and value.root is not None and not isinstance(value, ClassAttrDict):
        return _omegaconf(value)
    if isinstance(value, ClassAttrDict) and class_ref is not None and _is_literal(dict(value)):
        cls = class_ref(value.cls)  # `AttrDict({...})`: made again by its class
        return ast.Call(cls, [parsing.parse(repr(dict(value)), mode="eval").body], []) if cls is not None else None
    return None


def _is_literal(value: Any, depth: int = 0) -> bool:
    if depth > 20 or isinstance(value, PathStr):
        return False  # (a `Path` inside data: no literal makes it again)
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, float) or value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, AttrDict):
        return False  # OmegaConf data written as a dict would lose its attribute access
    if isinstance(value, (list, tuple)):
        return len(value) < 10_000 and all(_is_literal(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) < 10_000 and all(_is_literal(k, depth + 1) and _is_literal(v, depth + 1)
                                           for k, v in value.items())
    return False


def helper(name: str) -> ast.expr:
    """`__import__('weightmatch.recipe_objects', fromlist=['made']).made`"""
    return ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("weightmatch.recipe_objects")],
                                  [ast.keyword("fromlist", ast.List([ast.Constant(name)], ast.Load()))]),
                         name, ast.Load())

def _object(value: ObjVal, depth: int, attrs_of, class_ref) -> ast.expr | None:
    keywords_, unknown = [], {}
    attrs = attrs_of(value) if attrs_of is not None else value.attrs
    if isinstance(value, CfgNodeVal):  # all known or not written at all; read by key and by attribute
        items = {k: literal(v, depth + 1, attrs_of, class_ref) for k, v in attrs.items()}
        if any(lit is None for lit in items.values()) or not all(isinstance(k, str) for k in items):
            return None
        return ast.Call(helper("cfg_node"), [ast.Dict([ast.Constant(k) for k in items], list(items.values()))], [])
    for k, v in attrs.items():
        lit = literal(v, depth + 1, attrs_of, class_ref)
        if lit is not None and k.isidentifier():
            keywords_.append(ast.keyword(arg=k, value=lit))
        elif lit is None and isinstance(k, str):
            unknown[k] = v.reason if isinstance(v, Unknown) else "its value is not plain data"
    cls = class_ref(value.cls) if class_ref is not None and value.cls is not None else None
    # why the attributes left out are not known, for the message where one is read
    why = [ast.Dict([ast.Constant(k) for k in unknown], [ast.Constant(r) for r in unknown.values()])]
    if cls is not None:
        return ast.Call(helper("made"), [cls, *why], keywords_)
    if unknown:
        return ast.Call(helper("namespace"), why, keywords_)
    kind = ("argparse", "Namespace") if value.name in ("the argparse namespace", "Namespace") else \
        ("types", "SimpleNamespace")  # (an argparse Namespace answers `"dropout" in args`)
    func = ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant(kind[0])], []), kind[1], ast.Load())
    return ast.Call(func, [], keywords_)
