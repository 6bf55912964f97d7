"""The rules both interpreters share agree with Python (and numpy): the argument binder refuses
exactly the calls Python refuses and otherwise gives every parameter Python's value; the
numeric functions and the operators give Python's value, raise where Python raises, and refuse
only what would be too large to compute."""

from __future__ import annotations

import ast
import math
import operator

import numpy as np
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from weightmatch import binding, operators, purefuncs

NAMES = ["a", "b", "c", "d", "e"]


class Refused(Exception):
    pass


def _refuse(message: str, param: str | None):
    raise Refused(message)


STRICT = binding.Policy(default=ast.literal_eval, problem=_refuse)


@st.composite
def signatures(draw):
    names = draw(st.permutations(NAMES))
    n_pos_only, n_pos, n_kw = draw(st.integers(0, 2)), draw(st.integers(0, 2)), draw(st.integers(0, 1))
    pos_only, pos, kw_only = names[:n_pos_only], names[n_pos_only:n_pos_only + n_pos], \
        names[n_pos_only + n_pos:n_pos_only + n_pos + n_kw]
    n_defaults = draw(st.integers(0, len(pos_only) + len(pos)))
    positional = [*pos_only, *pos]
    parts = []
    for i, name in enumerate(positional):
        default = f"={i * 10}" if i >= len(positional) - n_defaults else ""
        parts.append(name + default)
        if pos_only and i == len(pos_only) - 1:
            parts.append("/")
    if draw(st.booleans()):
        parts.append("*args")
    elif kw_only:
        parts.append("*")
    for name in kw_only:
        parts.append(name + (draw(st.sampled_from(["", "=7"]))))
    if draw(st.booleans()):
        parts.append("**kw")
    return f"def f({', '.join(parts)}):\n    return dict(locals())\n"


calls = st.tuples(st.lists(st.integers(100, 199), max_size=5),
                  st.dictionaries(st.sampled_from([*NAMES, "z"]), st.integers(200, 299), max_size=3))


@settings(max_examples=400, deadline=None)
@given(signatures(), calls)
def test_binds_as_python_does(source, call):
    args, kwargs = call
    namespace: dict = {}
    exec(source, namespace)  # the generated function only returns its locals
    try:
        expected = namespace["f"](*args, **kwargs)
    except TypeError:
        expected = None
    spec = ast.parse(source).body[0].args
    try:
        got = binding.bind(spec, "f", args, kwargs, STRICT)
    except Refused:
        got = None
    assert got == expected, source


def test_a_recording_policy_binds_what_is_missing_as_it_says():
    spec = ast.parse("def f(a, b, *, c):\n    pass\n").body[0].args
    recorded = binding.Policy(default=ast.literal_eval, problem=lambda message, param: f"unknown: {message}")
    got = binding.bind(spec, "f()", [1], {}, recorded)
    assert got == {"a": 1, "b": "unknown: `f()` is missing the argument `b`",
                   "c": "unknown: `f()` is missing the argument `c`"}


numbers = st.one_of(st.integers(-40, 40), st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(purefuncs.NAMES)), st.lists(numbers, min_size=1, max_size=2))
def test_numeric_functions_as_python_and_numpy_compute_them(name, args):
    module, _, fn = name.rpartition(".")
    real = {"math": lambda: getattr(math, fn), "numpy": lambda: getattr(np, fn),
            "": lambda: __builtins__[fn] if isinstance(__builtins__, dict) else getattr(__builtins__, fn)}[module]()
    try:
        expected = real(*args)
        if module == "numpy":
            expected = expected.item()  # numpy's scalar as the Python number it equals
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError) as e:
        expected = type(e)
    try:
        got = purefuncs.compute(name, list(args), {})
    except purefuncs.NotModeled:
        return  # not computed: the value stays unknown, which is never wrong
    except purefuncs.Raises:
        got = "raises"
    if got == "raises":
        assert isinstance(expected, type), (name, args)
    else:
        assert type(got) is type(expected) and (got == expected or math.isclose(got, expected)), (name, args, got)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["numpy.sum", "numpy.prod"]),
       st.lists(st.one_of(st.integers(-2 ** 40, 2 ** 40), st.booleans(), st.floats(-1e3, 1e3, allow_nan=False)),
                max_size=6))
def test_numpy_totals_of_lists_as_numpy_computes_them(name, items):
    """HRNet's `int(np.sum(pre_stage_channels))`: a list of ints totals as numpy's int64 does."""
    expected = getattr(np, name.split(".")[1])(items).item()
    try:
        got = purefuncs.compute(name, [list(items)], {})
    except purefuncs.NotModeled:
        return
    assert type(got) is type(expected) and got == expected, (name, items, got, expected)


@pytest.mark.parametrize("op, left, right", [
    (ast.Pow, 2, 10 ** 6), (ast.LShift, 1, 10 ** 6), (ast.Mult, "x", 10 ** 9), (ast.Mult, 10 ** 9, [0]),
])
def test_operators_refuse_what_is_too_large(op, left, right):
    with pytest.raises(operators.TooLarge):
        operators.binary(op, left, right)


@given(st.sampled_from(sorted(operators.BINARY, key=lambda t: t.__name__)), st.integers(-300, 300),
       st.integers(-300, 300))
def test_operators_compute_as_python(op, left, right):
    fn = operators.BINARY[op]
    try:
        expected = fn(left, right)
    except (ZeroDivisionError, ValueError) as e:
        with pytest.raises(type(e)):
            operators.binary(op, left, right)
        return
    try:
        assert operators.binary(op, left, right) == expected
    except operators.TooLarge:
        assert op in (ast.Pow, ast.LShift) and abs(right) > 256
