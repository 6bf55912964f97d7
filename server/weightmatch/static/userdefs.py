"""What running user code makes, below the interpreter that makes it: frames, the user's
classes and functions (a class body is evaluated lazily, through the interpreter's
`Evaluator` interface), bound functions, `super()` proxies, workspace modules, the
control-flow signals of `return`/`break`/`continue`, the work limits, and the guard that
stops before an unknown call could change what is read later."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import sources
from .values import BoundMethod, Instance, Module, Namespace, Ref, StaticUnsupported, Unknown

MAX_STEPS = 200_000
MAX_DEPTH = 40


class Evaluator(Protocol):
    """The interpreter (interp.Interp) as the modules below it call it back."""

    undecorated: set[tuple[str, int]]

    def eval(self, node: ast.expr, frame: Frame) -> Any: ...

    def eval_safe(self, node: ast.expr, frame: Frame) -> Any: ...

    def iterate(self, value: Any, node: ast.AST | None = None) -> list[Any]: ...

    def getattr(self, obj: Any, name: str) -> Any: ...

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], frame: Frame | None = None,
             node: ast.AST | None = None) -> Any: ...

    def call_function(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any],
                      self_obj: Any = None) -> Any: ...


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(eq=False)
class UserClass:
    file: sources.SourceFile
    node: ast.ClassDef
    interp: Evaluator
    _bases: list[Any] | None = None
    _body: dict[str, Any] | None = None
    _linear: list[Any] | None = None
    _fields: Any = None  # dataclass fields, filled by instances.py
    lightning: bool = False  # a base is Lightning's LightningModule (known once bases() ran)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def qualname(self) -> str:
        return f"{self.file.modname}.{self.node.name}"

    def bases(self) -> list[Any]:
        """The evaluated base classes (`object` left out): user classes and library references."""
        if self._bases is None:
            if self.node.keywords:
                raise StaticUnsupported(f"class `{self.name}` uses class keywords")
            self.dataclass_options()  # a decorator other than @dataclass stops here
            bases = [self.interp.eval(b, Frame(self.file)) for b in self.node.bases]
            for b, node in zip(bases, self.node.bases):
                if not isinstance(b, (UserClass, Ref)):
                    what = f"is not known statically ({b.reason})" if isinstance(b, Unknown) else "is not a class"
                    raise StaticUnsupported(f"class `{self.name}`: its base class `{self.file.segment(node)}` {what}")
            # `object` adds nothing; `abc.ABC` only forbids abstract methods (instances.py checks them);
            # a LightningModule is an nn.Module with nothing of its own in the state dict
            self.lightning = Ref("lightning.LightningModule") in bases
            self._bases = [Ref("torch.nn.Module") if b == Ref("lightning.LightningModule") else b
                           for b in bases if b not in (Ref("builtins.object"), Ref("abc.ABC"))]
        return self._bases

    def dataclass_options(self) -> dict[str, Any] | None:
        """The keywords of `@dataclass(...)`, {} for a bare `@dataclass`, None without one."""
        decorators = self.node.decorator_list
        if not decorators or (os.path.realpath(self.file.path), self.node.lineno) in self.interp.undecorated:
            return None  # none, or only ones the analysis found to register the class (Recipe.undecorated)
        if len(decorators) == 1:
            node = decorators[0]
            call = node if isinstance(node, ast.Call) else None
            if call is not None and not call.args:
                node = call.func
            if self.interp.eval_safe(node, Frame(self.file)) == Ref("dataclasses.dataclass"):
                if call is None:
                    return {}
                options = {k.arg: self.interp.eval_safe(k.value, Frame(self.file)) for k in call.keywords}
                if all(k is not None for k in options):
                    return options
        raise StaticUnsupported(f"class `{self.name}` uses a decorator other than @dataclass")

    def frozen(self) -> bool:
        """`@dataclass(frozen=True)`: its objects refuse attribute changes once made."""
        options = self.dataclass_options()
        return bool(options and options.get("frozen"))

    def linear(self) -> list[Any]:
        """The method resolution order as Python computes it (C3), with each library base
        taken as one opaque entry: user classes, then at most one library class."""
        if self._linear is None:
            self._linear = []  # seen while computing: a class that inherits from itself
            bases = self.bases()
            seqs = []
            for b in bases:
                if isinstance(b, UserClass):
                    if b._linear == []:
                        raise StaticUnsupported(f"class `{self.name}` inherits from itself")
                    seqs.append(list(b.linear()))
                else:
                    seqs.append([b])
            seqs.append(list(bases))
            out: list[Any] = [self]
            while any(seqs):
                head = next((s[0] for s in seqs if s and not any(s[0] in t[1:] for t in seqs)), None)
                if head is None:
                    raise StaticUnsupported(f"class `{self.name}`: Python cannot order its base classes (TypeError)")
                out.append(head)
                seqs = [s[1:] if s and s[0] == head else s for s in seqs]
            libs = [c for c in out if not isinstance(c, UserClass)]
            if len(libs) > 1 or (libs and out[-1] != libs[0]):
                raise StaticUnsupported(f"class `{self.name}` mixes its classes with library classes in an order "
                                        "not followed statically")
            self._linear = out
        return self._linear

    def mro(self) -> list["UserClass"]:
        """The user classes of the method resolution order, most derived first."""
        return [c for c in self.linear() if isinstance(c, UserClass)]

    def root(self) -> Ref | None:
        """The library class the hierarchy ends on (`torch.nn.Module`, `nn.Linear`), None for `object`."""
        last = self.linear()[-1]
        return last if isinstance(last, Ref) else None

    def body(self) -> dict[str, Any]:
        """Class attributes: functions as nodes, simple assignments evaluated."""
        if self._body is None:
            self._body = {}
            frame = Frame(self.file)
            for stmt in self.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    func = UserFunc(self.file, stmt, None, owner=self)
                    if func.decorator() in (f"{stmt.name}.setter", f"{stmt.name}.deleter") and stmt.name in self._body:
                        continue  # the property keeps its getter; setting it is not followed
                    self._body[stmt.name] = func
                elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
                    value = self.interp.eval_safe(stmt.value, frame)
                    for t in stmt.targets:
                        self._body[t.id] = value
                        frame.locals[t.id] = value
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    if stmt.value is not None:
                        value = self.interp.eval_safe(stmt.value, frame)
                        self._body[stmt.target.id] = frame.locals[stmt.target.id] = value
                elif isinstance(stmt, (ast.Pass, ast.Expr)):
                    continue
                else:
                    for name in sources._bound_names(stmt):
                        self._body[name] = Unknown(f"class attribute `{name}` is set conditionally")
        return self._body

    def torch_base(self) -> Ref:
        base = self.root()
        if base is None or not base.name.startswith("torch.nn."):
            raise StaticUnsupported(f"class `{self.name}`: its base class is not an nn.Module")
        return base

    def lookup(self, name: str) -> Any:
        for cls in self.mro():
            body = cls.body()
            if name in body:
                return body[name]
        return None


@dataclass
class UserFunc:
    file: sources.SourceFile
    node: ast.FunctionDef | ast.Lambda
    closure: "Frame | None"
    owner: UserClass | None = None  # the class whose body defines it (for super())

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")

    def decorator(self) -> str | None:
        """The one decorator's dotted name (`property`, `functools.cached_property`), None
        without one, "?" for anything else."""
        decorators = getattr(self.node, "decorator_list", [])
        if not decorators:
            return None
        node, parts = decorators[0], []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if len(decorators) == 1 and isinstance(node, ast.Name):
            return ".".join([node.id, *reversed(parts)])
        return "?"


@dataclass
class BoundFunc:
    func: UserFunc
    self_obj: Any


@dataclass
class SuperProxy:
    cls: UserClass
    obj: Any  # a Module or an Instance


@dataclass
class WorkspaceModule:
    file: sources.SourceFile


@dataclass
class Frame:
    file: sources.SourceFile
    locals: dict[str, Any] = field(default_factory=dict)
    parent: "Frame | None" = None  # enclosing function (closures)
    func: UserFunc | None = None
    self_obj: Any = None
    is_module: bool = False  # the recipe's top level (steps)
    global_names: set = field(default_factory=set)  # `global ALIGN_CORNERS` in this function: set in its module


def guard(what: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """An unknown callable that receives a module could add layers to it, and one that
    receives a list, dict or set could change values read later: stop, rather than guess."""
    for value in [*args, *kwargs.values()]:
        if _holds_module(value):
            raise StaticUnsupported(f"passes a module to a call not known statically: {what}")
        if _holds_mutable(value):
            raise StaticUnsupported(f"passes a {_mutable_kind(value)} to a call not known statically "
                                    f"(it could change it): {what}")


def _holds_module(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (Module, SuperProxy)):
        return True
    if depth < 4 and isinstance(value, (list, tuple)):
        return any(_holds_module(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return any(_holds_module(v, depth + 1) for v in value.values())
    return False


# What an unknown callable could change, or call back into to change what is read later.
_MUTABLE = (list, dict, set, bytearray, WorkspaceModule, UserFunc, BoundFunc, UserClass, Namespace, Instance)


def _holds_mutable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _MUTABLE):
        return True
    if isinstance(value, BoundMethod):
        return _holds_mutable(value.obj, depth + 1) or _holds_module(value.obj)
    return depth < 4 and isinstance(value, tuple) and any(_holds_mutable(v, depth + 1) for v in value)


def _mutable_kind(value: Any) -> str:
    if isinstance(value, tuple):
        return _mutable_kind(next(v for v in value if _holds_mutable(v)))
    if isinstance(value, WorkspaceModule):
        return "module of the workspace"
    if isinstance(value, (UserFunc, BoundFunc, BoundMethod)):
        return "function"
    return "class" if isinstance(value, UserClass) else f"`{type(value).__name__}`"

