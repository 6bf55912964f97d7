"""Python's numeric builtins, `math` and numpy's scalar functions on known plain values, for
both interpreters (the source interpreter's config values, the constructor interpreter's
layer sizes): `int(math.sqrt(args.dim))`, stargan's `int(image_size / np.power(2, repeat_num))`.

`compute(name, args, kwargs)` gives the value Python gives, or raises `Raises` (the script
itself raises there) or `NotModeled` (the value is not computed here). Nothing else of numpy
is imported or run: numpy's scalar results are reproduced where they differ from `math`'s.
"""

from __future__ import annotations

import math
from typing import Any


class NotModeled(Exception):
    pass


class Raises(Exception):
    pass


_BUILTINS = {"int": int, "float": float, "bool": bool, "str": str, "abs": abs, "round": round, "max": max,
             "min": min, "sum": sum, "divmod": divmod, "any": any, "all": all, "repr": repr, "set": set,
             "frozenset": frozenset}
_MATH = {"sqrt", "ceil", "floor", "log", "log2", "log10", "prod", "gcd", "pow", "exp", "isqrt", "lcm", "fabs",
         "trunc"}
NAMES = frozenset([*_BUILTINS, *(f"math.{f}" for f in _MATH), "numpy.power", "numpy.floor", "numpy.ceil",
                   "numpy.trunc", "numpy.sqrt", "numpy.log", "numpy.log2", "numpy.log10", "numpy.abs", "numpy.sum",
                   "numpy.prod"])


def compute(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if name not in NAMES:
        raise NotModeled(f"`{name}()` is not modeled")
    if not all(map(_plain, args)) or not all(map(_plain, kwargs.values())):
        raise NotModeled(f"`{name}()` of values not known")
    if name in ("str", "repr") and any(isinstance(a, (set, frozenset)) for a in args):
        raise NotModeled(f"`{name}()` of a set (its order changes from run to run)")
    if name.startswith("math."):
        return _math(name[5:], args, kwargs)
    if name.startswith("numpy."):
        return _numpy(name[6:], args, kwargs)
    try:
        return _BUILTINS[name](*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - what Python would raise
        raise Raises(f"`{name}()` raises {type(e).__name__}: {e}") from None


def _math(fn: str, args: list, kwargs: dict) -> Any:
    if fn == "prod" and len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = [*args[0]]
        fn_args: tuple = (args,)
    else:
        fn_args = tuple(args)
    if kwargs or not all(isinstance(a, (int, float)) for a in args):
        raise NotModeled(f"`math.{fn}` of values not known")
    try:
        return getattr(math, fn)(*fn_args)
    except (ValueError, OverflowError, TypeError, ZeroDivisionError) as e:
        raise Raises(f"`math.{fn}` raises: {e}") from None


def _numpy(fn: str, args: list, kwargs: dict) -> Any:
    if fn in ("sum", "prod"):
        return _int_total(fn, args, kwargs)
    if kwargs or not args or not all(_number(a) for a in args):
        raise NotModeled(f"`numpy.{fn}` of values not known")
    if fn == "power" and len(args) == 2:
        return _power(*args)
    if len(args) != 1:
        raise NotModeled(f"`numpy.{fn}` of {len(args)} values is not modeled")
    (x,) = args
    if fn in ("floor", "ceil", "trunc"):
        if isinstance(x, int):  # numpy 2.x keeps an int an int, numpy 1.x made it a float
            raise NotModeled(f"`numpy.{fn}` of an int: an int or a float by numpy's version")
        return float(getattr(math, fn)(x))  # numpy keeps the float type: np.floor(3.5) == 3.0
    if fn == "sqrt" and x >= 0:
        return math.sqrt(x)
    if fn in ("log", "log2", "log10") and x > 0:
        return getattr(math, fn)(x)
    if fn == "abs":
        return abs(x)
    raise NotModeled(f"`numpy.{fn}({x!r})` is not modeled (numpy gives nan or inf there)")


def _int_total(fn: str, args: list, kwargs: dict) -> int:
    """HRNet's `int(np.sum(pre_stage_channels))`: `numpy.sum` / `numpy.prod` of a non-empty list of
    ints, an int64 (floats are summed pairwise by numpy, not modeled; an empty list gives 0.0)."""
    items = args[0] if len(args) == 1 and not kwargs and isinstance(args[0], (list, tuple)) else None
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise NotModeled(f"`numpy.{fn}` of these values is not modeled")
    value = sum(items) if fn == "sum" else math.prod(items)
    if not -2 ** 63 <= value < 2 ** 63:
        raise NotModeled(f"`numpy.{fn}` overflows int64 (numpy wraps around)")
    return value


def _power(base: int | float, exp: int | float) -> Any:
    if isinstance(base, int) and isinstance(exp, int):
        if exp < 0:
            raise Raises("`numpy.power` raises: Integers to negative integer powers are not allowed.")
        value = base ** exp if abs(base) < 2 ** 63 and exp < 64 else None
        if value is None or not -2 ** 63 <= value < 2 ** 63:
            raise NotModeled("`numpy.power` overflows int64 (numpy wraps around)")
        return value
    if base < 0 and not float(exp).is_integer():
        raise NotModeled("`numpy.power` of a negative number to a fractional power is nan")
    try:
        return float(base) ** float(exp)
    except (OverflowError, ZeroDivisionError):
        raise NotModeled("`numpy.power` overflows or divides by zero") from None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple, range, set, frozenset)) and depth < 4:
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 4:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False
