"""The machine a bare run sees, with each assumption said in the message.

Environment variables: `os.environ.get("K", d)`, `os.getenv("K", d)` and
`os.environ.setdefault("K", d)` give the value a launch configuration's `env` sets, else the
default `d` (`$K unset`). What the script itself sets (`os.environ.setdefault("K", d)`,
`os.environ["K"] = v`) is what later reads get, `os.environ["K"]` included. A variable read with
no default and never set by the script (`os.environ["K"]`, `os.getenv("K")`) stays unknown: its
value is the user's shell's.

GPUs: `torch.cuda.device_count()` and `torch.cuda.is_available()` (and the same for `torch.xpu`,
`torch.backends.mps.is_available()`) as on a machine without one (0, False), said as such: the script that wraps a model in DataParallel only `if
torch.cuda.device_count() > 1` then loads a `module.`-prefixed checkpoint into the bare model,
which is what happens on the one-GPU or CPU machine a trained model is evaluated on."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import journal
from weightmatch.values import Const, Unknown

READS = ("os.environ.get", "os.getenv", "os.environ.setdefault")


def _writes(ev) -> dict[str, Any]:
    """The variables this run has set so far (through the journal: an undecided `if` settles them)."""
    if not hasattr(ev, "env_writes"):
        ev.env_writes = {}
    return ev.env_writes


def given(ev, name: str) -> Any:
    """`$name` as this run sees it before any default: set by the script, by the launch
    configuration, or None (the user's shell's, not known here)."""
    writes = _writes(ev)
    if name in writes:
        return writes[name]
    blind = getattr(ev, "env_blind", "")
    if blind:  # after `os.environ[k] = v` with `k` not known here
        return Unknown(f"`{blind}` may set ${name}")
    given = getattr(ev, "env_vars", None) or {}
    if name in given:
        return Const(given[name], f"${name} set to {given[name]!r} by {ev.env_source}")
    return None


def read(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    name = ev.ev(node.args[0], env) if node.args else None
    if not (isinstance(name, Const) and isinstance(name.value, str)) or len(node.args) > 2:
        return None
    known = given(ev, name.value)
    if known is not None:
        return known
    default = node.args[1] if len(node.args) == 2 else next((k.value for k in node.keywords if k.arg in (
        "default", "value")), None)
    if default is None:
        return Unknown(f"the environment variable ${name.value} is known only at run time")
    value = ev.ev(default, env)
    if isinstance(value, Const):
        unset = f"${name.value} unset (default {value.value!r})"
        value = Const(value.value, f"{value.origin}; {unset}" if value.origin else unset)
    if dotted == "os.environ.setdefault":
        journal.put(_writes(ev), name.value, value)  # what later reads of $name get
    return value


def update(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`os.environ.update({"K": "v"}, L="w")`: each variable set; a mapping not known here may set any."""
    mappings = [ev.ev(a, env) for a in node.args]
    named = {k.arg: ev.ev(k.value, env) for k in node.keywords if k.arg is not None}
    if len(mappings) > 1 or len(named) < len(node.keywords) or \
            mappings and not (isinstance(mappings[0], Const) and isinstance(mappings[0].value, dict)):
        _blind(ev, node)
        return Const(None)
    pairs: dict[str, Any] = {k: Const(str(v), "set by the script") for k, v in (mappings[0].value if mappings else {}).items()}
    pairs.update({k: Const(str(v.value), "set by the script") if isinstance(v, Const) else
                  Unknown(f"`{ev.pf.segment(node)}` sets ${k} to a value not known statically") for k, v in named.items()})
    for key, value in pairs.items():
        journal.put(_writes(ev), key, value)
    return Const(None)


def _blind(ev, node: ast.AST, suffix: str = "") -> None:
    """A change to the environment not known here: any variable may have changed."""
    ev.env_blind = " ".join(ev.pf.segment(node).split()) + suffix  # (kept on every path: it only makes values unknown)
    for key in _writes(ev):
        journal.put(_writes(ev), key, Unknown(f"`{ev.env_blind}` may set ${key}"))


def item(ev, node: ast.Subscript, env: dict) -> Any:
    """`os.environ["K"]`: what the script or the launch configuration set, else unknown."""
    name = ev.ev(node.slice, env)
    if not (isinstance(name, Const) and isinstance(name.value, str)):
        return Unknown(f"`{ev.pf.segment(node)}` is known only at run time")
    known = given(ev, name.value)
    return known if known is not None else Unknown(f"the environment variable ${name.value} is known only at run time")


def assign(ev, target: ast.Subscript, value: Any, env: dict) -> bool:
    """`os.environ["K"] = v`: later reads of $K get `v` (True when `target` is such an item)."""
    if ev.pf.dotted(target.value) != "os.environ":
        return False
    name = ev.ev(target.slice, env)
    if isinstance(name, Const) and isinstance(name.value, str):
        journal.put(_writes(ev), name.value, value)
    else:  # a variable not known here: any of them may have changed
        _blind(ev, target, " = …")
    return True


_NO_GPU = "no GPU visible (a CPU-only run)"


def gpus(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    if node.args or node.keywords:
        return None
    return Const(0 if dotted.endswith("device_count") else False, _NO_GPU)


WRITES = ("os.environ.setdefault", "os.environ.update")
HANDLERS = {**{name: read for name in READS}, "os.environ.update": update,
            **{name: gpus for name in ("torch.cuda.device_count", "torch.cuda.is_available", "torch.xpu.device_count",
                                       "torch.xpu.is_available", "torch.backends.mps.is_available")}}
