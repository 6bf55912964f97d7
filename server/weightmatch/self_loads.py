"""Loads a model makes into itself: a model's own method that loads (`model.load(path)`,
`init_from_ckpt`), followed with `self` bound to the model, and a model's `__init__` that ends
by loading into itself (`if ckpt: self.load_state_dict(torch.load(ckpt))`). Part of the
Interpreter (interpret.py); needs `class_attr`, `call_function`, `sites`, `recording`."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import journal
from weightmatch.values import (
    At, ClassVal, Const, FuncVal, ModelAttr, ModelVal, ObjVal, SeqVal, SourceVal, StateDictOf, Unknown,
)


class SelfLoadsMixin:
    def follow_init_loads(self, model: ModelVal, cls: ClassVal, args: list[Any], kwargs: dict[str, Any],
                          node: ast.AST) -> None:
        """A model whose own `__init__` loads into itself (`if ckpt: self.load_state_dict(...)`):
        the `__init__` is followed for its loads, with `self` the model being made. What it
        builds is the construction itself, not steps after it (see `constructing`). A load
        that comes before the last layer is added sees a model we do not build: unresolved."""
        init = self.class_attr(cls, "__init__")
        if not isinstance(init, FuncVal) or not self.recording:
            return
        loads = [i for i, stmt in enumerate(init.node.body) if self._loads_into_self(stmt, model)]
        if not loads:
            if any(loads_itself(fn) for fn in cls.node.body if isinstance(fn, ast.FunctionDef)):
                # SPADE's `netG.load_state_dict(...)` of a network its `__init__` made; StarGAN v2's
                # Solver, whose `sample()` loads its `self.nets_ema`: followed for what it sets
                self._construct(model, init, args, kwargs, node)
            return
        plain = _plain_parameters(init.node, args, kwargs)
        late = any(_changes_self(stmt, plain) for stmt in init.node.body[loads[0] + 1:])
        first = len(self.sites)
        self._construct(model, init, args, kwargs, node)
        if late:
            for site in self.sites[first:]:
                receiver = site.receiver.value if isinstance(site.receiver, At) else site.receiver
                if isinstance(receiver, ModelVal) and receiver.id == model.id:
                    site.receiver = Unknown(f"`{cls.node.name}.__init__` loads into the model before it has made "
                                            "all its layers: the model at that point is not known statically")

    def _construct(self, model: ModelVal, init: FuncVal, args: list[Any], kwargs: dict[str, Any],
                   node: ast.AST) -> None:
        """The model's `__init__` run with `self` the model being made (`constructing`)."""
        self.constructing.add(model.id)
        try:
            self.call_function(FuncVal(init.file, init.node, init.owner, model), args, kwargs, node)
        finally:
            self.constructing.discard(model.id)

    def set_model_data(self, model: ModelVal, target: ast.Attribute, value: Any) -> None:
        """`self.opts = opts` in the model's `__init__` followed for its loads: kept for its methods
        to read back (`model.data`); the same attribute set anywhere else is not known after."""
        if self.being_made(model) and _plain_data(value):
            journal.put(model.data, target.attr, value)
        elif target.attr in model.data:
            journal.put(model.data, target.attr, Unknown(f"`{self.pf.segment(target)}` is set to a value not followed"))

    def _loads_into_self(self, stmt: ast.stmt, model: ModelVal) -> bool:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                    and n.func.value.id == "self" and (n.func.attr == "load_state_dict"
                                                       or self.method_of_model(model, n.func.attr) is not None):
                return True
        return False

    def method_of_model(self, model: ModelVal | ModelAttr, name: str) -> FuncVal | None:
        """A method of the model's own workspace class that loads a state dict into it
        (`model.load(path)`, `init_from_ckpt`; mmseg's `model.backbone.init_weights()` of a
        submodule whose class is known): followed with `self` bound to the model."""
        cls = model.cls if isinstance(model, ModelVal) else self.submodule_class(model)
        if not isinstance(cls, ClassVal):
            return None
        fn = self.class_attr(cls, name)
        if not isinstance(fn, FuncVal) or name.startswith("__") or name == "load_state_dict":
            return None
        if not any(isinstance(n, ast.Attribute) and n.attr == "load_state_dict" for n in ast.walk(fn.node)):
            return None
        return FuncVal(fn.file, fn.node, fn.owner, model)

    def submodule_class(self, attr: ModelAttr) -> ClassVal | None:
        """The workspace class of `model.<name>`, when the model's `__init__` sets it once, at its
        top level, from a workspace module class (`self.backbone = Backbone(in_channels=4)`), and
        nothing set it since (no step on it, no other assignment in the class); else None."""
        model = attr.model
        if len(attr.path) != 1 or model.wrappers or not isinstance(model.cls, ClassVal):
            return None
        name = attr.path[0]
        init = self.class_attr(model.cls, "__init__")
        if not isinstance(init, FuncVal) or any(not st.target or st.target.split(".")[0] == name for st in model.steps):
            return None
        sets = {id(n) for root in (model.cls.node, init.node) for n in ast.walk(root)
                if isinstance(n, ast.Attribute) and n.attr == name and isinstance(n.ctx, (ast.Store, ast.Del))}
        made = [st.value for st in init.node.body if isinstance(st, ast.Assign) and len(st.targets) == 1
                and isinstance(st.targets[0], ast.Attribute) and st.targets[0].attr == name
                and isinstance(st.targets[0].value, ast.Name) and st.targets[0].value.id == "self"]
        if len(made) != 1 or len(sets) != 1 or not isinstance(made[0], ast.Call) or \
                not isinstance(made[0].func, ast.Name):
            return None
        cls = self.module_env(init.file).get(made[0].func.id)
        return cls if isinstance(cls, ClassVal) and cls.is_module else None


def loads_itself(fn: ast.AST) -> bool:
    """`fn`'s own code calls `load_state_dict` (on any receiver): a hub entry point, called bare, is
    checked with `*args`/`**kwargs` empty (timm's hundreds of `def model(pretrained=False, **kwargs)`
    registrations keep them unknown: following each bare would only cost time); a module class
    with such a method has its `__init__` followed (`follow_init_loads`)."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "load_state_dict"
               for n in ast.walk(fn))


_UNCHANGING = frozenset({"load_state_dict", "eval", "train", "to", "cpu", "cuda", "requires_grad_", "float",
                         "half", "double", "print", "info"})


def _plain_parameters(fn: ast.FunctionDef, args: list[Any], kwargs: dict[str, Any]) -> set[str]:
    """The parameters of `fn` this call binds to plain known data (no module, tensor or object)."""
    names = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]][1:]
    defaults = dict(zip(names[len(names) - len(fn.args.defaults):], fn.args.defaults))
    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
    bound = {**dict(zip(names, args)), **kwargs}
    plain = {n for n, v in bound.items() if isinstance(v, Const) and _plain(v.value)}
    plain |= {n for n, d in defaults.items() if n not in bound and _literal(d)}
    rebound = {t.id for n in ast.walk(fn) for t in (n.targets if isinstance(n, ast.Assign) else
                                                    [n.target] if isinstance(n, (ast.AugAssign, ast.For)) else [])
               if isinstance(t, ast.Name)}
    return plain - rebound  # (a parameter bound again in `__init__` may hold anything by then)


def _plain(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (dict, list, tuple)) and depth < 4:
        items = value.values() if isinstance(value, dict) else value
        return all(_plain(v, depth + 1) for v in items)
    return value is None or isinstance(value, (bool, int, float, str))


def _literal(node: ast.expr) -> bool:
    try:
        return _plain(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _changes_self(stmt: ast.stmt, plain: set[str] = frozenset()) -> bool:
    """Whether a statement of `__init__` may add to or replace what `self` holds. Setting an
    attribute to plain data (`self.lr_g_factor = lr_g_factor` of a number, `self.name = "vq"`)
    does not: only a module, a parameter or a buffer is in the state dict."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Attribute) and \
            isinstance(stmt.targets[0].value, ast.Name) and stmt.targets[0].value.id == "self" and \
            (_literal(stmt.value) or isinstance(stmt.value, ast.Name) and stmt.value.id in plain):
        return False
    for n in ast.walk(stmt):
        if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr not in _UNCHANGING:
            root = n.func.value
            while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name) and root.id == "self":
                return True
    return False


def _plain_data(value: Any) -> bool:
    """Data a model's `__init__` may keep on it for its methods: known values, objects, lists, dicts
    (of networks too: StarGAN v2's `self.nets_ema = {...}`); not a state dict of a model, which
    would be taken as the model is when it is read, not as it was then."""
    base = value
    while isinstance(base, (SourceVal, At)):
        base = base.base if isinstance(base, SourceVal) else base.value
    return isinstance(value, (Const, ObjVal, SeqVal)) or isinstance(value, SourceVal) and not isinstance(base, StateDictOf)
