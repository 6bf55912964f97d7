"""Statements: assignment and unpacking, `if`/`for`/`return`/`del`/`with`/`assert`, and
the truth of a value. Mixed into interp.Interp."""

from __future__ import annotations

import ast
import os
from typing import Any

from ..operators import BINARY, MAX_SIZE
from . import instances, tensors
from .userdefs import MAX_STEPS, Frame, UserFunc, _Break, _Continue, _Return
from .values import Instance, Module, Namespace, Ref, StaticUnsupported, Tensor, Unknown, describe, is_plain


class Statements:
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
                where = f"line {stmt.lineno}" if frame.file.modname == "__main__" else f"{os.path.basename(frame.file.path)} line {stmt.lineno}"
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
        elif isinstance(stmt, ast.Global) and frame.func is not None and not isinstance(frame.func.node, ast.Lambda) \
                and _only_assigned(frame.func.node, stmt.names):
            frame.global_names.update(stmt.names)  # HRNet's `global ALIGN_CORNERS` in `__init__`
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
        if isinstance(value, Tensor) and value.shape and value.shape[0] <= MAX_SIZE:
            return tensors.elements(value)
        if isinstance(value, Unknown):
            raise StaticUnsupported(f"loops over a value not known statically: {value.reason}")
        raise StaticUnsupported(f"cannot iterate over {describe(value)} statically")

    def assign(self, target: ast.expr, value: Any, frame: Frame) -> None:
        if isinstance(target, ast.Name) and target.id in frame.global_names:
            self.set_global(frame.file, target.id, value)
        elif isinstance(target, ast.Name):
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
            elif isinstance(obj, Instance):
                instances.setattr_(obj, target.attr, value)
            elif isinstance(obj, Namespace):
                obj.attrs[target.attr] = value
            elif isinstance(obj, Tensor) and target.attr in ("requires_grad", "data"):
                if target.attr == "data" and not (isinstance(value, Tensor) and value.shape == obj.shape and value.dtype == obj.dtype):
                    raise StaticUnsupported("replaces a tensor's `.data` with one of another shape")
            elif isinstance(obj, Unknown):
                if isinstance(value, (Module, Tensor)):
                    raise StaticUnsupported(f"stores a module on a value not known statically: {obj.reason}")
            else:
                raise StaticUnsupported(f"sets an attribute on {describe(obj)}")
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
                raise StaticUnsupported(f"item assignment on {describe(obj)} is not followed statically")
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, frame)
        else:
            raise StaticUnsupported("this assignment target is not followed statically")

    def aug_assign(self, stmt: ast.AugAssign, frame: Frame) -> None:
        target = stmt.target
        current = self.eval(target, frame) if not isinstance(target, ast.Name) else self.lookup(target.id, frame)
        rhs = self.eval(stmt.value, frame)
        op = type(stmt.op) if type(stmt.op) in BINARY else None
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
            if isinstance(obj, Instance):
                instances.delattr_(obj, target.attr)
                return
            if not isinstance(obj, Module):
                raise StaticUnsupported(f"`del` on {describe(obj)}")
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
        if isinstance(value, Instance) and (instances.special(value, "__bool__") or instances.special(value, "__len__")):
            raise StaticUnsupported(f"the truth of a `{value.cls.name}` object is not followed statically")
        if is_plain(value) or isinstance(value, (dict, range)):
            return bool(value)
        return True  # classes, functions, references


def _only_assigned(fn: ast.FunctionDef, names: list[str]) -> bool:
    """Each of `names` is bound in `fn` only as the target of a plain assignment (which `assign`
    writes to the module), never by a loop, `with`, import, definition or `:=` (which write locals)."""
    nodes = list(ast.walk(fn))
    targets = {id(t) for p in nodes if isinstance(p, ast.Assign) for t in p.targets} | \
        {id(p.target) for p in nodes if isinstance(p, (ast.AnnAssign, ast.AugAssign))}
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn and \
                node.name in names or isinstance(node, (ast.Import, ast.ImportFrom)) and \
                any((a.asname or a.name).split(".")[0] in names for a in node.names):
            return False
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in names \
                and id(node) not in targets:
            return False
    return True
