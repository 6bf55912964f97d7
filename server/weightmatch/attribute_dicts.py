"""Dict classes of the workspace whose attributes are their items: EasyDict's way
(`__getattr__ = dict.__getitem__`, nested dicts read by attribute too) and HiFi-GAN's
(`self.__dict__ = self`, the top level only). An object of one made from known data is that
data (`AttrDict(CONFIGS[name])`, `AttrDict(json.load(f))`)."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import config_data
from weightmatch.values import ClassVal, Const, Unknown, origins


def attribute_dict(cls: ClassVal) -> bool:
    """A dict subclass of the workspace whose attributes are its items (`__getattr__ =
    dict.__getitem__`, or a `__getattr__` that returns `self[name]`), EasyDict's way; its own
    methods other than `__init__` and the attribute hooks are not followed, so it has none."""
    if len(cls.node.bases) != 1 or cls.file.dotted(cls.node.bases[0]) not in ("dict", "collections.OrderedDict"):
        return False
    getattr_found = False
    for stmt in cls.node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, cls.file.dotted(stmt.value) or ""
            if name == "__getattr__" and value in ("dict.__getitem__", "dict.get"):
                getattr_found = True
            elif name not in ("__setattr__", "__delattr__") or not value.startswith("dict."):
                return False
        elif isinstance(stmt, ast.FunctionDef):
            if stmt.name == "__init__" and dict_is_its_dict(cls):
                getattr_found = True
            elif stmt.name == "__getattr__":
                getattr_found = any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and
                                    n.value.id == "self" for n in ast.walk(stmt))
            elif stmt.name not in ("__init__", "__setattr__", "__delattr__") and not any(
                    isinstance(d, ast.Name) and d.id in ("classmethod", "staticmethod") for d in stmt.decorator_list):
                return False  # (a classmethod makes one, mmcv's `Config.fromfile`: not called on the data)
        elif not (isinstance(stmt, ast.Pass) or isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            return False
    return getattr_found


def dict_is_its_dict(cls: ClassVal) -> bool:
    """`def __init__(self, *args, **kwargs): super().__init__(*args, **kwargs); self.__dict__ = self`
    and nothing else: its attributes are its items."""
    init = next((s for s in cls.node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
    if init is None or len(init.body) != 2:
        return False
    first, second = init.body
    target = second.targets[0] if isinstance(second, ast.Assign) and len(second.targets) == 1 else None
    sets_dict = isinstance(target, ast.Attribute) and target.attr == "__dict__" and \
        isinstance(target.value, ast.Name) and target.value.id == "self" and \
        isinstance(second.value, ast.Name) and second.value.id == "self"
    calls_dict_init = isinstance(first, ast.Expr) and isinstance(first.value, ast.Call) and \
        isinstance(first.value.func, ast.Attribute) and first.value.func.attr == "__init__" and \
        isinstance(first.value.func.value, ast.Call) and cls.file.dotted(first.value.func.value.func) == "super"
    return sets_dict and calls_dict_init


def data(args: list[Any], kwargs: dict[str, Any], shallow: ClassVal | None = None, cls: ClassVal | None = None) -> Any:
    """The items of an attribute dict made from known data, its nested dicts read by attribute
    too (EasyDict); of class `shallow`, whose nested dicts stay dicts, the top level only. Of
    class `cls` without nested dicts: written into a recipe as `cls({...})` (alpha-zero-general's
    module-level `args = dotdict({...})`)."""
    if len(args) > 1 or not all(isinstance(v, Const) for v in [*args, *kwargs.values()]):
        return Unknown("an attribute dict made from values not known statically")
    base = args[0].value if args else {}
    if base is None:
        base = {}
    if not isinstance(base, dict):
        return Unknown("an attribute dict made from something other than a dict")
    data = {**base, **{k: v.value for k, v in kwargs.items()}}
    if shallow is None and (cls is None or any(isinstance(v, dict) for v in data.values())):
        made = config_data.attr_data(data)
    else:
        made = config_data.ClassAttrDict(data)
        made.cls = shallow or cls
    return Const(made, origins([*args, *kwargs.values()]))
