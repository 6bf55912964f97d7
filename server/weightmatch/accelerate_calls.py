"""Hugging Face Accelerate's model handling, as training loops use it (denoising-diffusion's
Trainer): `model, opt = accelerator.prepare(model, opt)` gives the model back wrapped in
DistributedDataParallel or not, depending on how the script is launched, and
`accelerator.unwrap_model(model)` gives the module itself back. The prepared value is unknown
(its keys depend on the launch); unwrapped, it is the model that was prepared."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from weightmatch.values import Const, ModelVal, SeqVal, Unknown

ACCELERATOR = "accelerate.Accelerator"


@dataclass
class Prepared(Unknown):
    """`accelerator.prepare(model)`: unknown as it is; `unwrap_model` gives back `model`."""

    model: Any = None


def is_accelerator(value: Any) -> bool:
    """An `Accelerator(...)` object (made by a library call, so the tracker holds it as a ModelVal)."""
    return isinstance(value, ModelVal) and value.cls is None and isinstance(value.call, ast.Call) and \
        value.file.dotted(value.call.func) == ACCELERATOR


_ONE_PROCESS = {"is_main_process": True, "is_local_main_process": True, "is_last_process": True,
                "num_processes": 1, "process_index": 0, "local_process_index": 0}


def attribute(value: Any, name: str) -> Any:
    """`accelerator.is_main_process`, `num_processes`, ...: as in the one-process run checked (a
    plain `python script.py`), said; None for anything else."""
    if name in _ONE_PROCESS and is_accelerator(value):
        return Const(_ONE_PROCESS[name], "a single-process run (not launched with `accelerate launch`)")
    return None


def method(ev, name: str, node: ast.Call, env: dict) -> Any:
    """`prepare(...)` / `unwrap_model(m)` of an accelerator; None for its other methods."""
    if name == "prepare" and node.args and not node.keywords:
        items = [ev.ev(a, env) for a in node.args]
        made = [Prepared(f"`{ev.pf.segment(a)}` as `accelerator.prepare` gives it back: wrapped in "
                         "DistributedDataParallel or not, depending on how the script is launched", item)
                if isinstance(item, ModelVal) else Unknown(f"`{ev.pf.segment(a)}` as `accelerator.prepare` gives it back")
                for a, item in zip(node.args, items)]
        return made[0] if len(made) == 1 else SeqVal(made)
    if name == "unwrap_model" and node.args:
        value = ev.ev(node.args[0], env)
        if isinstance(value, Prepared):
            return value.model
        if isinstance(value, ModelVal) and not value.wrappers:
            return value  # nothing to unwrap
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    return None
