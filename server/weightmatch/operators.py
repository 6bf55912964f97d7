"""Python's operators as tables from the `ast` operator node to the function, for every
evaluator that applies them to known values: the tracker's plain data (plain.py), the
key-filter evaluator (keyexpr.py) and static inference (static/expressions.py). Each
decides for itself which operands it accepts; `binary` applies an operator to known plain
values for both interpreters, within the bounds that keep a hostile constant cheap."""

from __future__ import annotations

import ast
import operator
from typing import Any

BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: operator.pow, ast.Div: operator.truediv, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}

MAX_SIZE = 100_000  # the longest sequence an interpreter makes by `*`


class TooLarge(Exception):
    """The result would be too large to compute here (`2 ** 10 ** 9`, `"x" * 10 ** 9`)."""


def binary(op_type: type, left: Any, right: Any) -> Any:
    """`left <op> right` as Python computes it, raising what Python raises, or TooLarge."""
    fn = BINARY[op_type]
    if fn is operator.pow and isinstance(right, int) and abs(right) > 256:
        raise TooLarge("a power too large")
    if fn is operator.lshift and isinstance(right, int) and right > 256:
        raise TooLarge("a shift too large")
    if fn is operator.mul:
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times * len(seq) > MAX_SIZE:
                raise TooLarge("a sequence too long")
    return fn(left, right)
