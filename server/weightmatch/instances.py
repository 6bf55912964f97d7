"""Instances of the user's plain classes (a Trainer, a Config, a dataclass) with their
attributes as their constructors set them, and what happens to objects handed to code that is
not followed. Part of the Interpreter (interpret.py) through CallsMixin: needs `ev`, `in_file`,
`module_env`, `class_attr`, `class_chain`, `attribute` and `call_function`."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import config_data, journal, yacs_values
from weightmatch.values import ClassVal, Const, FuncVal, ObjVal, SuperOf, Unknown
from weightmatch.scopes import global_writes
from weightmatch.yacs_values import CfgNodeVal


class InstancesMixin:
    def not_followed(self, passed: list[Any], why: str) -> Unknown:
        """A workspace function not followed may change the objects it is given (`args`, a
        config, `self`): what they held before is no longer known."""
        for value in passed:
            if isinstance(value, FuncVal):  # what it rebinds with `global` may have changed
                env = self.module_env(value.file)
                for name in global_writes(value.file) & env.keys():
                    env[name] = Unknown(f"`{name}` may be rebound by {value.node.name}(), not followed ({why})")
            if isinstance(value, CfgNodeVal):
                yacs_values.break_all(value, f"the config is passed to code not followed ({why})")
            elif isinstance(value, ObjVal):
                self.clobber(value, f"it is passed to code not followed ({why})")
        return Unknown(why)

    def clobber(self, obj: ObjVal, why: str) -> None:
        """Any attribute of `obj` may have changed, and new ones may exist."""
        for k in list(obj.attrs):
            journal.put(obj.attrs, k, Unknown(why))
        journal.put(obj, "unsure", why)

    def super_of(self, obj: ObjVal, node: ast.Call, env: dict) -> SuperOf | None:
        """`super()` in the method running (or `super(C, self)`) of a plain object whose classes
        form one chain; None when the method's class is not known or the chain is not simple
        (several workspace bases: Python's MRO is not followed)."""
        chain = self.class_chain(obj.cls)
        if any(sum(isinstance(self.in_file(c.file, lambda b=b, c=c: self.ev(b, self.module_env(c.file))), ClassVal)
                   for b in c.node.bases) > 1 for c in chain):
            return None
        if len(node.args) == 2:
            start = self.ev(node.args[0], env)
            at = next((i for i, c in enumerate(chain) if isinstance(start, ClassVal) and c.node is start.node), None)
        elif not node.args and self.stack:  # (the innermost function being run: its def node's id)
            at = next((i for i, c in enumerate(chain) if any(id(n) == self.stack[-1] for n in c.node.body)), None)
        else:
            at = None
        return SuperOf(obj, chain[at + 1:]) if at is not None else None

    def instantiate(self, cls: ClassVal, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """An instance of a plain workspace class, its attributes set as its constructor sets them:
        the first class of its chain that defines `__init__` or is a dataclass / NamedTuple decides."""
        obj = ObjVal({}, cls.node.name, cls)
        chain = self.class_chain(cls)
        for i, c in enumerate(chain):
            if any(isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in c.node.body):
                init = self.class_attr(c, "__init__")
                if isinstance(init, FuncVal):
                    self.call_function(FuncVal(init.file, init.node, init.owner, obj), args, kwargs, node)
                return obj
            if c.dataclass:
                return self._dataclass_instance(obj, [d for d in reversed(chain[i:]) if d.dataclass], args, kwargs, node)
            if len([b for b in c.node.bases if (self.pf.dotted(b) or "") != "object"]) > 1:
                break  # several bases: which one's constructor runs is not followed
        if args or kwargs or any((self.pf.dotted(b) or "") != "object" for b in chain[-1].node.bases):
            return Unknown(f"`{cls.node.name}(...)`: how its constructor sets its attributes is not known statically")
        return obj

    def own_setitem(self, target: ast.Subscript, value: Any, stmt: ast.stmt, env: dict) -> bool:
        """`obj[k] = v` on an object of a workspace class defining `__setitem__`: that method, run."""
        base = self.ev(target.value, env)
        if not (isinstance(base, ObjVal) and base.cls is not None):
            return False
        method = self.attribute(base, "__setitem__", target)
        if not isinstance(method, FuncVal):
            return False
        self.call_function(method, [self.ev(target.slice, env), value], {}, stmt)
        return True

    def dataclass_field_defaults(self, value: Any) -> dict[str, Any] | None:
        """The fields `dataclasses.fields()` gives for a dataclass or an instance of one, in order,
        each with its `Field.default`: the value written beside it or in `field(default=...)`;
        unknown where `Field.default` is `MISSING` (no default, or a `default_factory`)."""
        cls = value.cls if isinstance(value, ObjVal) else value
        if not (isinstance(cls, ClassVal) and cls.dataclass):
            return None
        out: dict[str, Any] = {}
        for name, (c, f) in _fields(list(reversed([d for d in self.class_chain(cls) if d.dataclass])))[0].items():
            given = f.value
            if isinstance(given, ast.Call) and self.in_file(c.file, lambda v=given: self.pf.dotted(v.func)) \
                    in ("dataclasses.field", "field"):
                given = next((k.value for k in given.keywords if k.arg == "default"), None)
            out[name] = Unknown(f"the default of `{cls.node.name}.{name}` is `dataclasses.MISSING`") if given is None \
                else self.in_file(c.file, lambda v=given, c=c: self.ev(v, self.module_env(c.file)))
        return out

    def _dataclass_instance(self, obj: ObjVal, classes: list[ClassVal], args: list[Any], kwargs: dict[str, Any],
                            node: ast.AST) -> Any:
        fields, special = _fields(classes)
        if special:
            return Unknown(f"`{obj.name}(...)`: keyword-only or init-only fields are not followed")
        if len(args) > len(fields) or set(kwargs) - set(fields):
            return Unknown(f"`{obj.name}(...)` is called with arguments it does not take")
        for i, (name, (c, f)) in enumerate(fields.items()):
            if i < len(args):
                obj.attrs[name] = args[i]
            elif name in kwargs:
                obj.attrs[name] = kwargs[name]
            elif f.value is not None and not isinstance(f.value, ast.Call):
                obj.attrs[name] = self.in_file(c.file, lambda v=f.value, c=c: self.ev(v, self.module_env(c.file)))
            elif isinstance(f.value, ast.Call) and self.in_file(c.file, lambda v=f.value: self.pf.dotted(v.func)) \
                    in ("dataclasses.field", "field"):
                obj.attrs[name] = self.in_file(c.file, lambda v=f.value, c=c, what=f"{obj.name}.{name}":
                                               _field_default(self, v, self.module_env(c.file), what))
            else:
                obj.attrs[name] = Unknown(f"`{obj.name}.{name}` has no default known statically")
        post = self.class_attr(classes[-1], "__post_init__")
        if isinstance(post, FuncVal):
            self.call_function(FuncVal(post.file, post.node, post.owner, obj), [], {}, node)
        return obj


def _fields(classes: list[ClassVal]) -> tuple[dict[str, tuple[ClassVal, ast.AnnAssign]], bool]:
    """A dataclass's fields in definition order, base classes first (a redefined field keeps its
    place), and whether it has keyword-only or init-only pseudo-fields (which `fields()` leaves out)."""
    fields: dict[str, tuple[ClassVal, ast.AnnAssign]] = {}
    special = False
    for c in classes:
        for s in c.node.body:
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
                annotation = ast.unparse(s.annotation)
                if "KW_ONLY" in annotation or "InitVar" in annotation:
                    special = True
                elif "ClassVar" not in annotation:
                    fields[s.target.id] = (c, s)
    return fields, special


def _field_default(ev, call: ast.Call, env: dict, what: str) -> Any:
    """`field(default=8)`, `field(default_factory=list)`, `field(default_factory=lambda: [32, 64])`."""
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if "default" in kw:
        return ev.ev(kw["default"], env)
    factory = kw.get("default_factory")
    if isinstance(factory, ast.Name) and factory.id in ("list", "dict", "tuple", "set") and factory.id not in env:
        return Const({"list": [], "dict": {}, "tuple": (), "set": set()}[factory.id])
    if isinstance(factory, ast.Lambda) and not factory.args.args and not factory.args.vararg:
        return config_data.as_const(ev.ev(factory.body, env))
    if factory is not None:  # `field(default_factory=ModelConfig)`: a workspace class or function, called bare
        made = ev.ev(factory, env)
        if isinstance(made, ClassVal) and not made.is_module:
            return ev.instantiate(made, [], {}, call)
        if isinstance(made, FuncVal) and made.self_value is None:
            return ev.call_function(made, [], {}, call)
    return Unknown(f"`{what}` has no default known statically")
