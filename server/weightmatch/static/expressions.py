"""Expressions: literals, operators over known values, attributes, subscripts and
comprehensions. Calls are in calling.py. Mixed into interp.Interp."""

from __future__ import annotations

import ast
from typing import Any

from ..operators import BINARY, COMPARE, UNARY, TooLarge, binary
from . import instances, tensors
from .userdefs import Frame, SuperProxy, UserClass, UserFunc, WorkspaceModule, _Break, _Continue, _Return
from .values import (
    BoundMethod, Dtype, Instance, Module, Namespace, Partial, Ref, StaticUnsupported, Tensor, Unknown, describe, is_plain,
)

_PLAIN_METHODS = {"append", "extend", "insert", "pop", "items", "keys", "values", "get", "copy", "index",
                  "count", "format", "join", "upper", "lower", "startswith", "endswith", "split", "replace",
                  "update", "setdefault", "reverse", "find", "rfind", "strip", "lstrip", "rstrip", "isdigit",
                  "removeprefix", "removesuffix"}


class Expressions:
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
        """For `in` tests only (`if norm in {"bn", "gn"}`): a loop over a set is refused by
        `iterate`, since the order of a set of strings changes from run to run."""
        items = self._elements(node.elts, frame)
        if all(is_plain(i) and not isinstance(i, list) for i in items):
            try:
                return frozenset(items)
            except TypeError:
                pass
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
        return self.binop(type(node.op) if type(node.op) in BINARY else None, left, right)

    def binop(self, op: Any, left: Any, right: Any) -> Any:
        if op is None:
            return Unknown("an operator not followed statically")
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            return tensors.binop(left, right)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            other = right if isinstance(left, Unknown) else left
            unknown = left if isinstance(left, Unknown) else right
            plain = isinstance(other, (int, float)) or (isinstance(other, Unknown) and other.plain and unknown.plain)
            return Unknown(unknown.reason, plain=plain)
        if isinstance(left, Module) or isinstance(right, Module):
            return Unknown("arithmetic on modules is not followed statically")
        if not (is_plain(left) and is_plain(right)):
            return Unknown("arithmetic on values not known statically")
        try:
            return binary(op, left, right)
        except TooLarge as e:
            return Unknown(str(e), plain=True)
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
            return UNARY[type(node.op)](v)
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
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (dict, frozenset)) and is_plain(left) \
                and not isinstance(left, list):
            return COMPARE[type(op)](left, right)
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, Namespace) and (right.argparse or right.mapping) \
                and isinstance(left, str) and left not in right.unknown:
            return (left in right.attrs) == isinstance(op, ast.In)  # RAFT's `"dropout" not in self.args`
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, Module) and isinstance(left, str):
            inside = self.ops.contains(right, left)
            return inside if isinstance(op, ast.In) else not inside
        if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(left, Ref) and isinstance(right, Ref):
            return (left == right) == isinstance(op, ast.Eq)  # `norm_layer.func == nn.InstanceNorm2d`: by torch's name
        if not (is_plain(left) and is_plain(right)):
            if isinstance(op, (ast.Eq, ast.NotEq)) and (isinstance(left, (Module, Tensor)) or isinstance(right, (Module, Tensor))):
                return Unknown("compares a module or tensor", plain=True)
            return Unknown("a comparison not known statically", plain=True)
        try:
            return COMPARE[type(op)](left, right)
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
            if name not in obj.file.bindings and name not in obj.file.ambiguous \
                    and obj.file.path.endswith(("/__init__.py", "\\__init__.py")):
                sub = self.import_module(obj.file, name, 1)  # `import pkg.model` then `pkg.model`
                if isinstance(sub, WorkspaceModule):
                    return sub
            return self.global_name(obj.file, name)
        if isinstance(obj, Tensor):
            return tensors.attr(obj, name)
        if isinstance(obj, Instance):
            return instances.getattr_(self, obj, name)
        if isinstance(obj, UserClass):
            return instances.class_attr(obj, name)
        if isinstance(obj, SuperProxy):
            return self.ops.super_attr(obj, name)
        if isinstance(obj, Unknown):
            return Unknown(obj.reason)
        if isinstance(obj, Namespace):
            if name in obj.attrs:
                return obj.attrs[name]
            if name in obj.unknown:
                return Unknown(f"`{name}` of the config object is not known statically ({obj.unknown[name]})")
            return Unknown(f"the config object has no attribute `{name}`")
        if isinstance(obj, (list, dict, str, tuple)) and name in _PLAIN_METHODS:
            return BoundMethod(obj, name)
        if isinstance(obj, Partial) and name in ("func", "args", "keywords"):
            return {"func": obj.func, "args": obj.args, "keywords": dict(obj.kwargs)}[name]  # CycleGAN's `norm_layer.func`
        return Unknown(f"attribute `{name}` of {describe(obj)} is not known statically")

    def _eval_Subscript(self, node: ast.Subscript, frame: Frame) -> Any:
        obj = self.eval(node.value, frame)
        key = self.eval(node.slice, frame)
        return self.getitem(obj, key)

    def getitem(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, Module):
            return self.ops.getitem(obj, key)
        if isinstance(obj, Instance):
            method = instances.special(obj, "__getitem__")
            if method is None:
                raise StaticUnsupported(f"a `{obj.cls.name}` object is not subscriptable (Python raises TypeError)")
            return self.call_function(method, [obj, key], {})
        if isinstance(obj, Unknown):
            return Unknown(obj.reason)
        if isinstance(obj, Namespace) and obj.mapping and isinstance(key, str) and key in obj.attrs:
            return obj.attrs[key]  # `extra["STAGE1"]` of a yacs CfgNode
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
        return Unknown(f"subscript of {describe(obj)}")

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
