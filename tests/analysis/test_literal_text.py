"""`recipe_literals.literal_text`: the recipe's literal for a plain value (script_globals) is read back by
`ast.literal_eval` as the same value of the same type, or refused (nan, inf, IntEnum, subclasses)."""

from __future__ import annotations

import ast
import enum

from hypothesis import given, settings
from hypothesis import strategies as st

from weightmatch.recipe_literals import literal_text

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.tuples(inner, inner)
                      | st.dictionaries(SCALARS.filter(lambda k: k == k), inner, max_size=3), max_leaves=20)


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_reads_back_as_the_same_value(value) -> None:
    text = literal_text(value)
    assert text is not None
    assert _same(ast.literal_eval(text), value), (value, text)


def test_what_has_no_literal_is_refused() -> None:
    class Color(enum.IntEnum):
        RED = 1

    class Name(str):
        pass

    for value in (float("nan"), float("inf"), [1, float("-inf")], Color.RED, {"c": Color.RED}, Name("x"), {1, 2}):
        assert literal_text(value) is None, value
