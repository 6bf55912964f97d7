"""The abstract interpreter: runs `__init__` bodies (and the helpers they call) over
abstract values, without importing or running anything.

It follows Python's and nn.Module's rules for the constructs it knows and raises
StaticUnsupported for every other one: a wrong guess is worse than no answer.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Any

from . import sources
from .modules import ModuleOps
from .values import BoundMethod, Dtype, Module, Namespace, Ref, StaticUnsupported, Tensor, Unknown, is_plain

MAX_STEPS = 200_000
MAX_DEPTH = 40
MAX_SIZE = 100_000

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: operator.pow, ast.Div: operator.truediv, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class UserClass:
    file: sources.SourceFile
    node: ast.ClassDef
    interp: "Interp"
    _bases: list[Any] | None = None
    _body: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def qualname(self) -> str:
        return f"{self.file.modname}.{self.node.name}"

    def bases(self) -> list[Any]:
        if self._bases is None:
            if self.node.keywords or self.node.decorator_list:
                raise StaticUnsupported(f"class `{self.name}` uses a decorator or class keywords")
            self._bases = [self.interp.eval(b, Frame(self.file)) for b in self.node.bases]
            if len(self._bases) != 1:
                raise StaticUnsupported(f"class `{self.name}` does not have exactly one base class")
        return self._bases

    def base(self) -> Any:
        return self.bases()[0]

    def body(self) -> dict[str, Any]:
        """Class attributes: functions as nodes, simple assignments evaluated."""
        if self._body is None:
            self._body = {}
            frame = Frame(self.file)
            for stmt in self.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._body[stmt.name] = UserFunc(self.file, stmt, None, owner=self)
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

    def chain(self) -> list["UserClass"]:
        out, cls = [], self
        while isinstance(cls, UserClass):
            if cls in out:
                raise StaticUnsupported(f"class `{self.name}` inherits from itself")
            out.append(cls)
            cls = cls.base()
        return out

    def torch_base(self) -> Ref:
        base = self.chain()[-1].base()
        if not isinstance(base, Ref) or not base.name.startswith("torch.nn."):
            what = base.reason if isinstance(base, Unknown) else "is not an nn.Module"
            raise StaticUnsupported(f"class `{self.name}`: its base class {what}")
        return base

    def lookup(self, name: str) -> Any:
        for cls in self.chain():
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
        decorators = getattr(self.node, "decorator_list", [])
        if not decorators:
            return None
        if len(decorators) == 1 and isinstance(decorators[0], ast.Name):
            return decorators[0].id
        return "?"


@dataclass
class BoundFunc:
    func: UserFunc
    self_obj: Any


@dataclass
class SuperProxy:
    cls: UserClass
    obj: Module


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


class Interp:
    def __init__(self, root: str, deps: dict[str, tuple | None] | None = None,
                 buffers: sources.Buffers | None = None) -> None:
        self.root = root
        self.deps = deps if deps is not None else {}  # path -> fingerprint of every file looked at
        self.buffers = buffers  # the editor's unsaved text of workspace files, read before the disk
        self.steps = 0
        self.depth = 0
        self.globals: dict[str, dict[str, Any]] = {}  # file path -> evaluated top-level names
        self.pending: set[tuple[str, str]] = set()
        self.ops = ModuleOps(self)

    # ---- names -------------------------------------------------------------------

    def lookup(self, name: str, frame: Frame) -> Any:
        f: Frame | None = frame
        while f is not None:
            if name in f.locals:
                return f.locals[name]
            f = f.parent
        return self.global_name(frame.file, name)

    def global_name(self, sf: sources.SourceFile, name: str) -> Any:
        sf = sf.origin or sf
        cache = self.globals.setdefault(sf.path + "\0" + sf.modname, {})
        if name in cache:
            return cache[name]
        value = self._global_value(sf, name)
        cache[name] = value
        return value

    def _global_value(self, sf: sources.SourceFile, name: str) -> Any:
        if name in sf.ambiguous:
            return Unknown(f"`{name}` is assigned more than once or conditionally in {_base(sf.path)}")
        stmt = sf.bindings.get(name)
        if stmt is None:
            if name in BUILTINS:
                return Ref("builtins." + name)
            if "*" in sf.ambiguous:
                return Unknown(f"`{name}` may come from a `*` import")
            return Unknown(f"`{name}` is not defined in {_base(sf.path)}")
        if isinstance(stmt, ast.ClassDef):
            return UserClass(sf, stmt, self)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return UserFunc(sf, stmt, None)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self.import_name(sf, stmt, name)
        key = (sf.path, name)
        if key in self.pending:
            return Unknown(f"`{name}` is defined in terms of itself")
        self.pending.add(key)
        try:
            frame = Frame(sf, is_module=True)
            value = self.eval_safe(stmt.value, frame)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                try:
                    self.assign(target, value, frame)
                except StaticUnsupported as e:
                    return Unknown(e.reason)
            return frame.locals.get(name, Unknown(f"`{name}` is not a simple constant"))
        finally:
            self.pending.discard(key)

    def import_name(self, sf: sources.SourceFile, stmt: ast.Import | ast.ImportFrom, name: str) -> Any:
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound != name:
                continue
            if isinstance(stmt, ast.Import):
                target = alias.name if alias.asname else alias.name.split(".")[0]
                return self.import_module(sf, target, 0)
            module = self.import_module(sf, stmt.module or "", stmt.level)
            if isinstance(module, Ref):
                return self.ops.ref_attr(module, alias.name)
            if isinstance(module, WorkspaceModule):
                if alias.name in module.file.bindings or alias.name in module.file.ambiguous:
                    return self.global_name(module.file, alias.name)
                sub = self.import_module(sf, f"{stmt.module or ''}.{alias.name}", stmt.level)
                if isinstance(sub, WorkspaceModule):
                    return sub
                return self.global_name(module.file, alias.name)
            return module
        return Unknown(f"`{name}` is not defined")

    def import_module(self, sf: sources.SourceFile, dotted: str, level: int) -> Any:
        top = dotted.split(".")[0]
        if level == 0 and top in ("torch", "torchvision", "math", "collections", "typing", "functools",
                                  "timm", "transformers"):
            return Ref(dotted)
        probed: list[str] = []
        found = sources.find_module(dotted, level, sf.path, self.root, probed)
        for path in probed:
            if path not in self.deps:
                self.deps[path] = sources.fingerprint(path, self.buffers)
        if found is None:
            return Unknown(f"`{'.' * level}{dotted}` is not a workspace module")
        imported = sources.read(*found, self.buffers)
        if imported is None:
            return Unknown(f"`{'.' * level}{dotted}` could not be read or parsed")
        return WorkspaceModule(imported)

    # ---- statements --------------------------------------------------------------

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise StaticUnsupported("the constructor does too much work to follow statically")

    def exec_body(self, body: list[ast.stmt], frame: Frame) -> None:
        for stmt in body:
            self.exec_stmt(stmt, frame)

    def exec_stmt(self, stmt: ast.stmt, frame: Frame) -> None:
        self.tick()
        try:
            self._exec(stmt, frame)
        except StaticUnsupported as e:
            if e.line is None:
                e.line = stmt.lineno - 1
                where = f"line {stmt.lineno}" if frame.file.modname == "__main__" else f"{_base(frame.file.path)} line {stmt.lineno}"
                e.reason = f"`{frame.file.segment(stmt)}`: {e.reason} ({where})"
                e.args = (e.reason,)
            raise

    def _exec(self, stmt: ast.stmt, frame: Frame) -> None:
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # docstring
            self.eval(stmt.value, frame)
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, frame)
            for target in stmt.targets:
                self.assign(target, value, frame)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, frame), frame)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt, frame)
        elif isinstance(stmt, ast.If):
            branch = stmt.body if self.truth(self.eval(stmt.test, frame), stmt.test, frame) else stmt.orelse
            self.exec_body(branch, frame)
        elif isinstance(stmt, ast.For):
            self.exec_for(stmt, frame)
        elif isinstance(stmt, ast.Return):
            raise _Return(None if stmt.value is None else self.eval(stmt.value, frame))
        elif isinstance(stmt, ast.Pass):
            return
        elif isinstance(stmt, ast.Break):
            raise _Break()
        elif isinstance(stmt, ast.Continue):
            raise _Continue()
        elif isinstance(stmt, (ast.FunctionDef, ast.Lambda)):
            if stmt.decorator_list:
                raise StaticUnsupported("a decorated nested function is not followed statically")
            frame.locals[stmt.name] = UserFunc(frame.file, stmt, frame)
        elif isinstance(stmt, ast.ClassDef):
            frame.locals[stmt.name] = Unknown(f"class `{stmt.name}` is defined inside a function")
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                frame.locals[bound] = self.import_name(frame.file, stmt, bound)
        elif isinstance(stmt, ast.Assert):
            test = self.eval(stmt.test, frame)
            if not isinstance(test, Unknown) and not self.truth(test, stmt.test, frame):
                raise StaticUnsupported("this assertion fails, so the model cannot be built")
        elif isinstance(stmt, ast.Raise):
            raise StaticUnsupported("the constructor raises an exception here")
        elif isinstance(stmt, ast.With):
            for item in stmt.items:
                ctx = self.eval(item.context_expr, frame)
                if not (isinstance(ctx, Ref) and ctx.name in ("torch.no_grad()", "torch.enable_grad()")) or item.optional_vars:
                    raise StaticUnsupported("a `with` block other than `torch.no_grad()` is not followed statically")
            self.exec_body(stmt.body, frame)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self.delete(target, frame)
        else:
            raise StaticUnsupported(f"`{type(stmt).__name__.lower()}` statements are not followed statically")

    def exec_for(self, stmt: ast.For, frame: Frame) -> None:
        items = self.iterate(self.eval(stmt.iter, frame), stmt.iter)
        broke = False
        for item in items:
            self.tick()
            self.assign(stmt.target, item, frame)
            try:
                self.exec_body(stmt.body, frame)
            except _Break:
                broke = True
                break
            except _Continue:
                continue
        if not broke:
            self.exec_body(stmt.orelse, frame)

    def iterate(self, value: Any, node: ast.AST | None = None) -> list[Any]:
        if isinstance(value, (list, tuple, str)):
            return list(value)
        if isinstance(value, dict):
            return list(value.keys())
        if isinstance(value, range):
            if len(value) > MAX_SIZE:
                raise StaticUnsupported("a loop too long to follow statically")
            return list(value)
        if isinstance(value, Module):
            return self.ops.iterate(value)
        if isinstance(value, Unknown):
            raise StaticUnsupported(f"loops over a value not known statically: {value.reason}")
        raise StaticUnsupported(f"cannot iterate over {_describe(value)} statically")

    def assign(self, target: ast.expr, value: Any, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            frame.locals[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Unknown):
                for elt in target.elts:
                    self.assign(elt, value, frame)
                return
            items = self.iterate(value, target)
            stars = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
            if stars:
                i = stars[0]
                after = len(target.elts) - i - 1
                if len(items) < len(target.elts) - 1:
                    raise StaticUnsupported("unpacks too few values")
                head, mid, tail = items[:i], items[i: len(items) - after], items[len(items) - after:]
                for elt, item in zip(target.elts[:i], head):
                    self.assign(elt, item, frame)
                self.assign(target.elts[i].value, list(mid), frame)
                for elt, item in zip(target.elts[i + 1:], tail):
                    self.assign(elt, item, frame)
                return
            if len(items) != len(target.elts):
                raise StaticUnsupported("unpacks the wrong number of values")
            for elt, item in zip(target.elts, items):
                self.assign(elt, item, frame)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, frame)
            if isinstance(obj, Module):
                self.ops.setattr(obj, target.attr, value)
            elif isinstance(obj, Tensor) and target.attr in ("requires_grad", "data"):
                if target.attr == "data" and not (isinstance(value, Tensor) and value.shape == obj.shape and value.dtype == obj.dtype):
                    raise StaticUnsupported("replaces a tensor's `.data` with one of another shape")
            elif isinstance(obj, Unknown):
                if isinstance(value, (Module, Tensor)):
                    raise StaticUnsupported(f"stores a module on a value not known statically: {obj.reason}")
            else:
                raise StaticUnsupported(f"sets an attribute on {_describe(obj)}")
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value, frame)
            key = self.eval(target.slice, frame)
            if isinstance(obj, Module):
                self.ops.setitem(obj, key, value)
            elif isinstance(obj, (list, dict)) and not isinstance(key, Unknown):
                try:
                    obj[key] = value
                except (IndexError, KeyError, TypeError) as e:
                    raise StaticUnsupported(f"item assignment fails: {e}") from None
            else:
                raise StaticUnsupported(f"item assignment on {_describe(obj)} is not followed statically")
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, frame)
        else:
            raise StaticUnsupported("this assignment target is not followed statically")

    def aug_assign(self, stmt: ast.AugAssign, frame: Frame) -> None:
        target = stmt.target
        current = self.eval(target, frame) if not isinstance(target, ast.Name) else self.lookup(target.id, frame)
        rhs = self.eval(stmt.value, frame)
        op = _BINOPS.get(type(stmt.op))
        if isinstance(current, list) and isinstance(stmt.op, ast.Add):
            current.extend(self.iterate(rhs))  # in place, like list.__iadd__
            return
        if isinstance(current, Module) and isinstance(stmt.op, ast.Add) and current.kind == "modulelist":
            self.ops.call_method(current, "extend", [rhs], {})
            return
        self.assign(target, self.binop(op, current, rhs), frame)

    def delete(self, target: ast.expr, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            frame.locals.pop(target.id, None)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, frame)
            if not isinstance(obj, Module):
                raise StaticUnsupported(f"`del` on {_describe(obj)}")
            self.ops.delattr(obj, target.attr)
        elif isinstance(target, ast.Subscript):
            obj, key = self.eval(target.value, frame), self.eval(target.slice, frame)
            if isinstance(obj, Module):
                self.ops.delitem(obj, key)
            elif isinstance(obj, (list, dict)) and not isinstance(key, Unknown):
                try:
                    del obj[key]
                except (IndexError, KeyError, TypeError) as e:
                    raise StaticUnsupported(f"`del` fails: {e}") from None
            else:
                raise StaticUnsupported("`del` of an item not known statically")
        else:
            raise StaticUnsupported("this `del` is not followed statically")

    def truth(self, value: Any, node: ast.AST, frame: Frame) -> bool:
        if isinstance(value, Unknown):
            raise StaticUnsupported(f"the condition `{frame.file.segment(node)}` is not known statically: {value.reason}")
        if isinstance(value, Module):
            return self.ops.truth(value)
        if isinstance(value, Tensor):
            raise StaticUnsupported("the truth of a tensor is not known statically")
        if is_plain(value) or isinstance(value, (dict, range)):
            return bool(value)
        return True  # classes, functions, references

    # ---- expressions -------------------------------------------------------------

    def eval_safe(self, node: ast.expr, frame: Frame) -> Any:
        """Evaluate, turning a failure into an Unknown (for constants nobody may use)."""
        try:
            return self.eval(node, frame)
        except StaticUnsupported as e:
            return Unknown(e.reason)
        except (_Return, _Break, _Continue):
            return Unknown("control flow in an expression")

    def eval(self, node: ast.expr, frame: Frame) -> Any:
        self.tick()
        method = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            return Unknown(f"`{frame.file.segment(node)}` is not evaluated statically")
        return method(node, frame)

    def _eval_Constant(self, node: ast.Constant, frame: Frame) -> Any:
        return node.value

    def _eval_Name(self, node: ast.Name, frame: Frame) -> Any:
        return self.lookup(node.id, frame)

    def _eval_Tuple(self, node: ast.Tuple, frame: Frame) -> Any:
        return tuple(self._elements(node.elts, frame))

    def _eval_List(self, node: ast.List, frame: Frame) -> Any:
        return self._elements(node.elts, frame)

    def _eval_Set(self, node: ast.Set, frame: Frame) -> Any:
        return Unknown("a set literal", plain=True)

    def _elements(self, elts: list[ast.expr], frame: Frame) -> list[Any]:
        out: list[Any] = []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                out.extend(self.iterate(self.eval(elt.value, frame), elt))
            else:
                out.append(self.eval(elt, frame))
        return out

    def _eval_Dict(self, node: ast.Dict, frame: Frame) -> Any:
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                other = self.eval(v, frame)
                if not isinstance(other, dict):
                    return Unknown("a `**` in a dict literal that is not known statically")
                out.update(other)
                continue
            key = self.eval(k, frame)
            if not is_plain(key) or isinstance(key, list):
                return Unknown("a dict key not known statically")
            out[key] = self.eval(v, frame)
        return out

    def _eval_JoinedStr(self, node: ast.JoinedStr, frame: Frame) -> Any:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            v = self.eval(value.value, frame)
            if not is_plain(v) or value.format_spec is not None:
                return Unknown(f"the string `{frame.file.segment(node)}` is not known statically", plain=True)
            conv = {115: str, 114: repr, 97: ascii}.get(value.conversion, format)
            parts.append(conv(v))
        return "".join(parts)

    def _eval_FormattedValue(self, node: ast.FormattedValue, frame: Frame) -> Any:
        return Unknown("a formatted value", plain=True)

    def _eval_BinOp(self, node: ast.BinOp, frame: Frame) -> Any:
        left, right = self.eval(node.left, frame), self.eval(node.right, frame)
        return self.binop(_BINOPS.get(type(node.op)), left, right)

    def binop(self, op: Any, left: Any, right: Any) -> Any:
        if op is None:
            return Unknown("an operator not followed statically")
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            return self.ops.tensor_binop(left, right)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            other = right if isinstance(left, Unknown) else left
            unknown = left if isinstance(left, Unknown) else right
            plain = isinstance(other, (int, float)) or (isinstance(other, Unknown) and other.plain and unknown.plain)
            return Unknown(unknown.reason, plain=plain)
        if isinstance(left, Module) or isinstance(right, Module):
            return Unknown("arithmetic on modules is not followed statically")
        if not (is_plain(left) and is_plain(right)):
            return Unknown("arithmetic on values not known statically")
        if op is operator.pow and isinstance(right, int) and abs(right) > 256:
            return Unknown("a power too large", plain=True)
        if op is operator.lshift and isinstance(right, int) and right > 256:
            return Unknown("a shift too large", plain=True)
        if op is operator.mul and isinstance(left, (str, list, tuple)) and isinstance(right, int) and right * len(left) > MAX_SIZE:
            return Unknown("a sequence too long", plain=True)
        if op is operator.mul and isinstance(right, (str, list, tuple)) and isinstance(left, int) and left * len(right) > MAX_SIZE:
            return Unknown("a sequence too long", plain=True)
        try:
            return op(left, right)
        except Exception as e:  # noqa: BLE001 - the same error Python would raise
            raise StaticUnsupported(f"this expression raises {type(e).__name__}: {e}") from None

    def _eval_UnaryOp(self, node: ast.UnaryOp, frame: Frame) -> Any:
        v = self.eval(node.operand, frame)
        if isinstance(node.op, ast.Not):
            if isinstance(v, Unknown):
                return Unknown(v.reason, plain=True)
            return not self.truth(v, node.operand, frame)
        if isinstance(v, Unknown):
            return Unknown(v.reason, plain=True)
        if isinstance(v, Tensor):
            return Tensor(v.shape, v.dtype)
        if isinstance(v, (int, float)):
            return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)](v)
        return Unknown("a unary operator on a value not known statically")

    def _eval_BoolOp(self, node: ast.BoolOp, frame: Frame) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for sub in node.values:
            value = self.eval(sub, frame)
            if isinstance(value, Unknown):
                return Unknown(value.reason, plain=value.plain)
            truth = self.truth(value, sub, frame)
            if is_and and not truth or not is_and and truth:
                return value
        return value

    def _eval_Compare(self, node: ast.Compare, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, frame)
            result = self.compare(op, left, right)
            if isinstance(result, Unknown) or not result:
                return result
            left = right
        return True

    def compare(self, op: ast.cmpop, left: Any, right: Any) -> Any:
        if isinstance(op, (ast.Is, ast.IsNot)):
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                return Unknown((left if isinstance(left, Unknown) else right).reason, plain=True)
            same = left is right or (left is None and right is None)
            if not same and isinstance(left, (Dtype, Ref)) and left == right:
                same = True
            return same if isinstance(op, ast.Is) else not same
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return Unknown((left if isinstance(left, Unknown) else right).reason, plain=True)
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, dict) and is_plain(left):
            return _CMPOPS[type(op)](left, right)
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, Module) and isinstance(left, str):
            inside = self.ops.contains(right, left)
            return inside if isinstance(op, ast.In) else not inside
        if not (is_plain(left) and is_plain(right)):
            if isinstance(op, (ast.Eq, ast.NotEq)) and (isinstance(left, (Module, Tensor)) or isinstance(right, (Module, Tensor))):
                return Unknown("compares a module or tensor", plain=True)
            return Unknown("a comparison not known statically", plain=True)
        try:
            return _CMPOPS[type(op)](left, right)
        except Exception as e:  # noqa: BLE001
            raise StaticUnsupported(f"this comparison raises {type(e).__name__}") from None

    def _eval_IfExp(self, node: ast.IfExp, frame: Frame) -> Any:
        test = self.eval(node.test, frame)
        if isinstance(test, Unknown):
            a, b = self.eval_safe(node.body, frame), self.eval_safe(node.orelse, frame)
            if isinstance(a, str) and isinstance(b, str):
                return Unknown(f"depends on `{frame.file.segment(node.test)}`", plain=True)
            return Unknown(f"depends on `{frame.file.segment(node.test)}`: {test.reason}")
        return self.eval(node.body if self.truth(test, node.test, frame) else node.orelse, frame)

    def _eval_Attribute(self, node: ast.Attribute, frame: Frame) -> Any:
        return self.getattr(self.eval(node.value, frame), node.attr)

    def getattr(self, obj: Any, name: str) -> Any:
        if isinstance(obj, Module):
            return self.ops.getattr(obj, name)
        if isinstance(obj, Ref):
            return self.ops.ref_attr(obj, name)
        if isinstance(obj, WorkspaceModule):
            return self.global_name(obj.file, name)
        if isinstance(obj, Tensor):
            return self.ops.tensor_attr(obj, name)
        if isinstance(obj, UserClass):
            value = obj.lookup(name)
            if value is None:
                return Ref("torch.nn.Module." + name) if name == "__init__" else Unknown(f"`{obj.name}.{name}` is not known")
            return value
        if isinstance(obj, SuperProxy):
            return self.ops.super_attr(obj, name)
        if isinstance(obj, Unknown):
            return Unknown(obj.reason)
        if isinstance(obj, Namespace):
            if name in obj.attrs:
                return obj.attrs[name]
            return Unknown(f"the config object has no attribute `{name}`")
        if isinstance(obj, (list, dict, str, tuple)) and name in _PLAIN_METHODS:
            return BoundMethod(obj, name)
        return Unknown(f"attribute `{name}` of {_describe(obj)} is not known statically")

    def _eval_Subscript(self, node: ast.Subscript, frame: Frame) -> Any:
        obj = self.eval(node.value, frame)
        key = self.eval(node.slice, frame)
        return self.getitem(obj, key)

    def getitem(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, Module):
            return self.ops.getitem(obj, key)
        if isinstance(obj, Unknown):
            return Unknown(obj.reason)
        if isinstance(key, Unknown):
            if isinstance(obj, (list, tuple, dict)) and all(is_plain(v) for v in (obj.values() if isinstance(obj, dict) else obj)):
                return Unknown(key.reason, plain=True)
            return Unknown(key.reason)
        if isinstance(obj, Tensor):
            return Unknown("indexing a tensor is not followed statically")
        if isinstance(obj, (list, tuple, str, dict, range)):
            try:
                return obj[key]
            except (IndexError, KeyError, TypeError) as e:
                raise StaticUnsupported(f"this subscript raises {type(e).__name__}: {e}") from None
        return Unknown(f"subscript of {_describe(obj)}")

    def _eval_Slice(self, node: ast.Slice, frame: Frame) -> Any:
        parts = [None if p is None else self.eval(p, frame) for p in (node.lower, node.upper, node.step)]
        for p in parts:
            if isinstance(p, Unknown):
                return p
        return slice(*parts)

    def _eval_Starred(self, node: ast.Starred, frame: Frame) -> Any:
        return Unknown("a starred expression out of place")

    def _eval_Lambda(self, node: ast.Lambda, frame: Frame) -> Any:
        return UserFunc(frame.file, node, frame)

    def _eval_NamedExpr(self, node: ast.NamedExpr, frame: Frame) -> Any:
        value = self.eval(node.value, frame)
        frame.locals[node.target.id] = value
        return value

    def _comprehension(self, node: Any, frame: Frame, emit: Any) -> None:
        inner = Frame(frame.file, {}, frame, frame.func, frame.self_obj)

        def loop(k: int) -> None:
            if k == len(node.generators):
                emit(inner)
                return
            gen = node.generators[k]
            source_frame = frame if k == 0 else inner
            for item in self.iterate(self.eval(gen.iter, source_frame), gen.iter):
                self.tick()
                self.assign(gen.target, item, inner)
                if all(self.truth(self.eval(cond, inner), cond, inner) for cond in gen.ifs):
                    loop(k + 1)

        loop(0)

    def _eval_ListComp(self, node: ast.ListComp, frame: Frame) -> Any:
        out: list[Any] = []
        self._comprehension(node, frame, lambda f: out.append(self.eval(node.elt, f)))
        return out

    _eval_GeneratorExp = _eval_ListComp

    def _eval_SetComp(self, node: ast.SetComp, frame: Frame) -> Any:
        return Unknown("a set comprehension", plain=True)

    def _eval_DictComp(self, node: ast.DictComp, frame: Frame) -> Any:
        out: dict[Any, Any] = {}

        def emit(f: Frame) -> None:
            key = self.eval(node.key, f)
            if not is_plain(key) or isinstance(key, list):
                raise StaticUnsupported("a dict comprehension key not known statically")
            out[key] = self.eval(node.value, f)

        self._comprehension(node, frame, emit)
        return out

    def _eval_Call(self, node: ast.Call, frame: Frame) -> Any:
        func = self.eval(node.func, frame)
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                value = self.eval(a.value, frame)
                if isinstance(value, Unknown):
                    raise StaticUnsupported(f"`*{frame.file.segment(a.value)}` is not known statically: {value.reason}")
                args.extend(self.iterate(value, a))
            else:
                args.append(self.eval(a, frame))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = self.eval(kw.value, frame)
            if kw.arg is None:
                if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                    raise StaticUnsupported(f"`**{frame.file.segment(kw.value)}` is not known statically")
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        if isinstance(func, Unknown):
            what = frame.file.segment(node.func, 50)
            self._guard(f"`{what}`", args, kwargs)
            return Unknown(f"calls `{what}`, whose result is not known statically")
        made = self.call(func, args, kwargs, frame, node)
        if isinstance(made, (Module, Tensor)) and made.origin is None and frame.file.origin is None \
                and (isinstance(made, Module) or made.param):
            made.origin = (frame.file.path, node)  # where the layer is made: the squiggle's line
        return made

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], frame: Frame | None = None,
             node: ast.AST | None = None) -> Any:
        if isinstance(func, UserClass):
            return self.ops.instantiate(func, args, kwargs)
        if isinstance(func, UserFunc):
            if func.owner is not None and func.decorator() not in (None, "staticmethod"):
                raise StaticUnsupported(f"`{func.name}` is a decorated method")
            return self.call_function(func, args, kwargs)
        if isinstance(func, BoundFunc):
            return self.call_function(func.func, [func.self_obj, *args], kwargs)
        if isinstance(func, Ref):
            return self.ops.call_ref(func, args, kwargs, frame)
        if isinstance(func, BoundMethod):
            return self.ops.call_method(func.obj, func.name, args, kwargs)
        if isinstance(func, Module):
            self._guard(f"calls the module `{func.name}` (its forward)", args, kwargs)
            return Unknown(f"calls the module `{func.name}`: its output is not known statically")
        what = func.reason if isinstance(func, Unknown) else f"{_describe(func)} is not callable statically"
        self._guard(what, args, kwargs)
        return Unknown(f"calls a function whose result is not known statically ({what})")

    def _guard(self, what: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        """An unknown callable that receives a module could add layers to it, and one that
        receives a list, dict or set could change values read later: stop, rather than guess."""
        for value in [*args, *kwargs.values()]:
            if _holds_module(value):
                raise StaticUnsupported(f"passes a module to a call not known statically: {what}")
            if _holds_mutable(value):
                raise StaticUnsupported(f"passes a {_mutable_kind(value)} to a call not known statically "
                                        f"(it could change it): {what}")

    def call_function(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any],
                      self_obj: Any = None) -> Any:
        if isinstance(func.node, (ast.AsyncFunctionDef,)):
            raise StaticUnsupported(f"`{func.name}` is async")
        if self.depth >= MAX_DEPTH:
            raise StaticUnsupported("calls nest too deeply to follow statically")
        parent = func.closure
        frame = Frame(func.file, {}, parent, func, args[0] if args and func.owner is not None else None)
        self.bind_args(func, args, kwargs, frame)
        self.depth += 1
        try:
            if isinstance(func.node, ast.Lambda):
                return self.eval(func.node.body, frame)
            try:
                self.exec_body(func.node.body, frame)
            except _Return as r:
                return r.value
            except (_Break, _Continue):
                raise StaticUnsupported("`break` outside a loop") from None
            return None
        finally:
            self.depth -= 1

    def bind_args(self, func: UserFunc, args: list[Any], kwargs: dict[str, Any], frame: Frame) -> None:
        spec = func.node.args
        positional = [*spec.posonlyargs, *spec.args]
        defaults_frame = func.closure or Frame(func.file)
        defaults = [self.eval(d, defaults_frame) for d in spec.defaults]
        kw_defaults = [None if d is None else self.eval(d, defaults_frame) for d in spec.kw_defaults]
        bound: dict[str, Any] = {}
        for param, value in zip(positional, args):
            bound[param.arg] = value
        extra = args[len(positional):]
        if extra and spec.vararg is None:
            raise StaticUnsupported(f"`{func.name}` takes {len(positional)} positional arguments but {len(args)} were given")
        if spec.vararg is not None:
            bound[spec.vararg.arg] = tuple(extra)
        rest: dict[str, Any] = {}
        names = {p.arg for p in positional[len(spec.posonlyargs):]} | {p.arg for p in spec.kwonlyargs}
        for key, value in kwargs.items():
            if key in names:
                if key in bound:
                    raise StaticUnsupported(f"`{func.name}` got `{key}` twice")
                bound[key] = value
            elif spec.kwarg is not None:
                rest[key] = value
            else:
                raise StaticUnsupported(f"`{func.name}` has no argument `{key}`")
        if spec.kwarg is not None:
            bound[spec.kwarg.arg] = rest
        first_default = len(positional) - len(defaults)
        for i, param in enumerate(positional):
            if param.arg not in bound:
                if i < first_default:
                    raise StaticUnsupported(f"`{func.name}` is missing the argument `{param.arg}`")
                bound[param.arg] = defaults[i - first_default]
        for param, default in zip(spec.kwonlyargs, kw_defaults):
            if param.arg not in bound:
                if default is None and spec.kw_defaults[spec.kwonlyargs.index(param)] is None:
                    raise StaticUnsupported(f"`{func.name}` is missing the argument `{param.arg}`")
                bound[param.arg] = default
        frame.locals.update(bound)


_PLAIN_METHODS = {"append", "extend", "insert", "pop", "items", "keys", "values", "get", "copy", "index",
                  "count", "format", "join", "upper", "lower", "startswith", "endswith", "split", "replace",
                  "update", "setdefault", "reverse"}

BUILTINS = {"range", "len", "int", "float", "bool", "str", "max", "min", "sum", "abs", "round", "list", "tuple",
            "dict", "zip", "enumerate", "reversed", "sorted", "isinstance", "getattr", "setattr", "hasattr",
            "print", "super", "divmod", "any", "all", "map", "None", "True", "False", "object", "issubclass",
            "callable", "type", "id", "repr", "format", "ValueError", "TypeError", "NotImplementedError",
            "RuntimeError", "AssertionError", "KeyError", "Exception", "__import__"}


def _holds_module(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (Module, SuperProxy)):
        return True
    if depth < 4 and isinstance(value, (list, tuple)):
        return any(_holds_module(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return any(_holds_module(v, depth + 1) for v in value.values())
    return False


# What an unknown callable could change, or call back into to change what is read later.
_MUTABLE = (list, dict, set, bytearray, WorkspaceModule, UserFunc, BoundFunc, UserClass, Namespace)


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


def _describe(value: Any) -> str:
    if isinstance(value, Module):
        return f"a `{value.name}` module"
    if isinstance(value, Unknown):
        return "a value not known statically"
    if isinstance(value, Ref):
        return f"`{value.name}`"
    return f"a `{type(value).__name__}` value"


def _base(path: str) -> str:
    import os

    return os.path.basename(path)
