"""The machine a bare run sees, with each assumption said in the message.

Environment variables: `os.environ.get("K", d)`, `os.getenv("K", d)` and
`os.environ.setdefault("K", d)` give the value a launch configuration's `env` sets, else the
default `d` (`$K unset`). A variable read with no default (`os.environ["K"]`, `os.getenv("K")`)
stays unknown: its value is the user's shell's.

GPUs: `torch.cuda.device_count()` and `torch.cuda.is_available()` (and the same for `torch.xpu`,
`torch.backends.mps.is_available()`) as on a machine without one (0, False), said as such: the script that wraps a model in DataParallel only `if
torch.cuda.device_count() > 1` then loads a `module.`-prefixed checkpoint into the bare model,
which is what happens on the one-GPU or CPU machine a trained model is evaluated on."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch.values import Const, Unknown

_READS = ("os.environ.get", "os.getenv", "os.environ.setdefault")


def read(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    name = ev.ev(node.args[0], env) if node.args else None
    if not (isinstance(name, Const) and isinstance(name.value, str)) or len(node.args) > 2:
        return None
    given = getattr(ev, "env_vars", None) or {}
    if name.value in given:
        return Const(given[name.value], f"${name.value} set to {given[name.value]!r} by {ev.env_source}")
    default = node.args[1] if len(node.args) == 2 else next((k.value for k in node.keywords if k.arg in (
        "default", "value")), None)
    if default is None:
        return Unknown(f"the environment variable ${name.value} is known only at run time")
    value = ev.ev(default, env)
    if not isinstance(value, Const):
        return value
    unset = f"${name.value} unset (default {value.value!r})"
    return Const(value.value, f"{value.origin}; {unset}" if value.origin else unset)


_NO_GPU = "no GPU visible (a CPU-only run)"


def gpus(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    if node.args or node.keywords:
        return None
    return Const(0 if dotted.endswith("device_count") else False, _NO_GPU)


HANDLERS = {**{name: read for name in _READS},
            **{name: gpus for name in ("torch.cuda.device_count", "torch.cuda.is_available", "torch.xpu.device_count",
                                       "torch.xpu.is_available", "torch.backends.mps.is_available")}}
