"""Objects of the workspace's plain classes: config classes, dataclasses, Trainers.

Python's rules, over the class order of userdefs.UserClass.linear(): attribute lookup
(instance attributes, then the classes; methods bound, `staticmethod`, `classmethod`,
`property`, `functools.cached_property`), `__init__` (the class's own, or the one
`@dataclass` writes: fields in base-first order, defaults, `field(default=...,
default_factory=...)`, `__post_init__`), `super().__init__()` reaching `object`, and
abstract methods. What a class could change about these (`__setattr__`, `__getattr__`,
`__new__`, metaclasses, `__slots__`) stops the inference instead of being guessed.
"""

from __future__ import annotations

import ast
from typing import Any

from .userdefs import BoundFunc, Evaluator, Frame, UserClass, UserFunc
from .values import Instance, MissingAttribute, Ref, StaticUnsupported, Unknown

_NOT_FOLLOWED = ("__new__", "__setattr__", "__getattribute__", "__delattr__", "__slots__", "__init_subclass__",
                 "__class_getitem__")
_DATACLASS_OPTIONS = {"init", "repr", "eq", "order", "unsafe_hash", "frozen"}
_NO_FIELD = object()


class _Factory:
    """A field's `default_factory`, called once per object."""

    def __init__(self, make: Any) -> None:
        self.make = make


def bind(interp: Evaluator, value: Any, obj: Any, cls: UserClass, name: str) -> Any:
    """A class attribute as read through an instance (`obj`): what Python's descriptors give."""
    if not isinstance(value, UserFunc):
        return value
    deco = value.decorator()
    if deco is None:
        return BoundFunc(value, obj)
    if deco == "staticmethod":
        return value
    if deco == "classmethod":
        return BoundFunc(value, cls)
    if deco == "property":
        return interp.call_function(value, [obj], {})
    if deco in ("cached_property", "functools.cached_property"):
        result = interp.call_function(value, [obj], {})
        obj.attrs[name] = result  # stored in the instance's __dict__, as functools does
        return result
    return Unknown(f"`{name}` is a decorated method")


def class_attr(cls: UserClass, name: str) -> Any:
    """An attribute read on the class itself (`Config.from_name`)."""
    value = cls.lookup(name)
    if isinstance(value, UserFunc) and value.decorator() == "classmethod":
        return BoundFunc(value, cls)
    if value is None:
        if name == "__name__":
            return cls.name
        if name == "__init__":
            return Ref("torch.nn.Module.__init__") if cls.root() is not None else Unknown("`object.__init__`")
        return Unknown(f"`{cls.name}.{name}` is not known")
    return value


def instantiate(interp: Evaluator, cls: UserClass, args: list, kwargs: dict) -> Instance:
    mro = cls.mro()
    if cls.root() is not None:
        raise StaticUnsupported(f"class `{cls.name}` derives from `{cls.root().name}`, not followed statically")
    for c in mro:
        for name in _NOT_FOLLOWED:
            if name in c.body():
                raise StaticUnsupported(f"class `{c.name}` defines `{name}`, not followed statically")
    abstract = _abstract(mro)
    if abstract:
        raise StaticUnsupported(f"class `{cls.name}` has abstract methods ({', '.join(sorted(abstract))}): "
                                "Python raises TypeError")
    obj = Instance(cls)
    for c in mro:
        options = c.dataclass_options()
        if "__init__" in c.body():
            init = c.body()["__init__"]
            if not isinstance(init, UserFunc) or init.decorator() is not None:
                raise StaticUnsupported(f"`{c.name}.__init__` is not a plain method")
            interp.call_function(init, [obj, *args], kwargs)
            break
        if options is not None and options.get("init", True) is not False:
            _dataclass_init(interp, c, obj, args, kwargs)
            break
    else:
        object_init(cls, args, kwargs)
    obj.frozen = cls.frozen()
    return obj


def made(args: list, kwargs: dict) -> Instance:
    """The recipe's `recipe_objects.made(Config, n_embd=8)`: an object the analysis followed,
    with the attributes it knew; others are not known (rather than missing)."""
    if not 1 <= len(args) <= 2 or not isinstance(cls := args[0], UserClass) or cls.root() is not None:
        raise StaticUnsupported("an object of a class not followed statically")
    unknown = args[1] if len(args) == 2 and isinstance(args[1], dict) else {}
    return Instance(cls, dict(kwargs), frozen=cls.frozen(), partial=True,
                    unknown={str(k): str(v) for k, v in unknown.items()})


def object_init(cls: UserClass, args: list, kwargs: dict) -> None:
    if args or kwargs:
        raise StaticUnsupported(f"`{cls.name}()` takes no arguments (Python raises TypeError)")


def getattr_(interp: Evaluator, obj: Instance, name: str) -> Any:
    if name in obj.attrs:
        return obj.attrs[name]
    value = obj.cls.lookup(name)
    if obj.partial and name in obj.unknown and not (isinstance(value, UserFunc) and value.decorator() == "property"):
        # the object's own attribute, its value not known: it hides the class's (a dataclass
        # field's default, `vocab_size: int = 50257`), as the instance's __dict__ does
        return Unknown(f"`{name}` of the `{obj.cls.name}` object is not known statically ({obj.unknown[name]})")
    if value is not None:
        return bind(interp, value, obj, obj.cls, name)
    if name == "__class__":
        return obj.cls
    if name == "__dict__":
        return Unknown("an object's `__dict__` is not followed statically")
    hook = obj.cls.lookup("__getattr__")
    if isinstance(hook, UserFunc):
        return interp.call_function(hook, [obj, name], {})
    if obj.partial:
        why = obj.unknown.get(name)
        return Unknown(f"`{name}` of the `{obj.cls.name}` object is not known statically" + (f" ({why})" if why else ""))
    raise MissingAttribute(f"`{obj.cls.name}` object has no attribute `{name}` (Python raises AttributeError)")


def setattr_(obj: Instance, name: str, value: Any) -> None:
    if obj.frozen:
        raise StaticUnsupported(f"sets `{name}` on a frozen dataclass (Python raises FrozenInstanceError)")
    if isinstance(obj.cls.lookup(name), UserFunc):
        raise StaticUnsupported(f"sets `{obj.cls.name}.{name}`, a method or property of the class")
    obj.attrs[name] = value


def delattr_(obj: Instance, name: str) -> None:
    if obj.frozen or name not in obj.attrs:
        raise StaticUnsupported(f"`del` of `{name}` on a `{obj.cls.name}` object is not followed statically")
    del obj.attrs[name]


def special(obj: Instance, name: str) -> UserFunc | None:
    """The class's own `__call__` / `__getitem__` / `__len__` / `__bool__`, if it has one."""
    value = obj.cls.lookup(name)
    if value is None:
        return None
    if not isinstance(value, UserFunc) or value.decorator() is not None:
        raise StaticUnsupported(f"`{obj.cls.name}.{name}` is not a plain method")
    return value


def _abstract(mro: list[UserClass]) -> set[str]:
    seen: set[str] = set()
    out: set[str] = set()
    for c in mro:
        for name, value in c.body().items():
            if name in seen:
                continue
            seen.add(name)
            if isinstance(value, UserFunc) and value.decorator() in ("abstractmethod", "abc.abstractmethod"):
                out.add(name)
    return out


# ---- dataclasses -------------------------------------------------------------------------


def _dataclass_init(interp: Evaluator, cls: UserClass, obj: Instance, args: list, kwargs: dict) -> None:
    fields = fields_of(interp, cls)
    params = [f for f in fields if f[2]]
    if len(args) > len(params):
        raise StaticUnsupported(f"`{cls.name}()` takes {len(params)} positional arguments but {len(args)} were given "
                                "(Python raises TypeError)")
    given = dict(zip((f[0] for f in params), args))
    for key, value in kwargs.items():
        if key in given:
            raise StaticUnsupported(f"`{cls.name}()` got multiple values for `{key}` (Python raises TypeError)")
        if key not in {f[0] for f in params}:
            raise StaticUnsupported(f"`{cls.name}()` got an unexpected keyword argument `{key}` (Python raises TypeError)")
        given[key] = value
    for name, default, in_init in fields:
        if name in given:
            obj.attrs[name] = given[name]
        elif default is not _NO_FIELD:
            obj.attrs[name] = default.make() if isinstance(default, _Factory) else default
        elif in_init:
            raise StaticUnsupported(f"`{cls.name}()` is missing the argument `{name}` (Python raises TypeError)")
    post = cls.lookup("__post_init__")
    if isinstance(post, UserFunc):
        interp.call_function(post, [obj], {})


def fields_of(interp: Evaluator, cls: UserClass) -> list[tuple[str, Any, bool]]:
    """(name, default, in __init__) per field, base classes' first, as `dataclasses.fields`
    orders them; a default is a value, a thunk for `default_factory`, or _NO_FIELD."""
    if cls._fields is None:
        options = cls.dataclass_options() or {}
        unknown = set(options) - _DATACLASS_OPTIONS
        if unknown or any(isinstance(v, Unknown) for v in options.values()):
            raise StaticUnsupported(f"`@dataclass({', '.join(sorted(options))})` on `{cls.name}` is not followed statically")
        fields: dict[str, tuple[str, Any, bool]] = {}
        for c in reversed(cls.mro()):
            if c.dataclass_options() is None:
                continue
            frame = Frame(c.file)
            for stmt in c.node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.simple:
                    field = _field(interp, c, stmt, frame)
                    if field is not None:
                        fields[field[0]] = field
        seen_default = False
        for name, default, in_init in fields.values():
            if in_init and default is _NO_FIELD and seen_default:
                raise StaticUnsupported(f"dataclass `{cls.name}`: field `{name}` without a default follows one with "
                                        "a default (Python raises TypeError)")
            seen_default = seen_default or (in_init and default is not _NO_FIELD)
        cls._fields = list(fields.values())
    return cls._fields


def _field(interp: Evaluator, cls: UserClass, stmt: ast.AnnAssign, frame: Frame) -> tuple[str, Any, bool] | None:
    name = stmt.target.id
    annotation = ast.unparse(stmt.annotation)
    if annotation.split("[")[0] in ("ClassVar", "typing.ClassVar"):
        return None
    if annotation.split("[")[0] in ("InitVar", "dataclasses.InitVar", "KW_ONLY", "dataclasses.KW_ONLY"):
        raise StaticUnsupported(f"dataclass `{cls.name}` uses `{annotation}`, not followed statically")
    if stmt.value is None:
        return name, _NO_FIELD, True
    value = stmt.value
    if isinstance(value, ast.Call) and interp.eval_safe(value.func, frame) == Ref("dataclasses.field"):
        options = {k.arg: k.value for k in value.keywords}
        if value.args or None in options or set(options) - {"default", "default_factory", "init", "repr", "compare",
                                                              "hash", "metadata"}:
            raise StaticUnsupported(f"`field(...)` of `{cls.name}.{name}` is not followed statically")
        in_init = interp.eval(options["init"], frame) if "init" in options else True
        if "default" in options:
            return name, interp.eval(options["default"], frame), in_init is not False
        if "default_factory" in options:
            factory = interp.eval(options["default_factory"], frame)
            return name, _Factory(lambda: interp.call(factory, [], {})), in_init is not False
        return name, _NO_FIELD, in_init is not False
    default = cls.body().get(name)
    if isinstance(default, (list, dict)):
        raise StaticUnsupported(f"dataclass `{cls.name}`: mutable default for `{name}` (Python raises ValueError)")
    return name, default, True
