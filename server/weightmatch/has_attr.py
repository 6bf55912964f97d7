"""`hasattr(obj, name)` of the values the interpreter knows whole: an argparse namespace, an
object of a workspace class whose attributes and class chain are known, a yacs node, and a
state dict's `_metadata` (CycleGAN's `load_networks`). Models are type_tests.py's."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import yacs_values
from weightmatch.types import StateDict
from weightmatch.values import At, ClassVal, Const, MaybeUnset, ObjVal, SourceVal, Unknown, origins, unsure
from weightmatch.yacs_values import CfgNodeVal


def _const(value: Any, *sources: Any) -> Const:
    return Const(value, origins(list(sources)))


def _has_metadata(ev, obj: Any) -> Any:
    """`hasattr(state_dict, "_metadata")` (CycleGAN's `load_networks`): a state dict `state_dict()`
    made keeps its modules' versions there; a plain dict has none."""
    raw = ev.concrete(obj, raw=True)
    if isinstance(raw, StateDict):
        return Const(raw.metadata is not None, "values read from the checkpoint")
    if isinstance(raw, dict):
        return Const(False, "values read from the checkpoint")
    return Unknown("whether the state dict keeps its modules' versions is known only at run time")


def call(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`hasattr(args, name)` where the object's attributes are all known."""
    if len(node.args) != 2:
        return None
    obj, name = ev.ev(node.args[0], env), ev.ev(node.args[1], env)
    if not (isinstance(name, Const) and isinstance(name.value, str)):
        return None
    if isinstance(obj, CfgNodeVal):
        if obj.broken:
            return Unknown(obj.broken)
        return _const(name.value in yacs_values.METHODS or name.value in obj.attrs, name)
    if isinstance(obj, (SourceVal, At)) and name.value == "_metadata":
        return _has_metadata(ev, obj)
    if isinstance(obj, ObjVal) and obj.cls is None and obj.name == "the argparse namespace":
        if isinstance(obj.attrs.get(name.value), MaybeUnset):
            return Unknown(obj.attrs[name.value].reason)
        if obj.unsure and name.value not in obj.attrs:
            return unsure(obj)
        return _const(name.value in obj.attrs, name)
    if isinstance(obj, ObjVal) and isinstance(obj.cls, ClassVal):  # `if hasattr(config, key): setattr(...)`
        if isinstance(obj.attrs.get(name.value), MaybeUnset):
            return Unknown(obj.attrs[name.value].reason)
        if name.value in obj.attrs or ev.class_attr(obj.cls, name.value) is not None:
            return _const(True, name)
        if obj.unsure:
            return unsure(obj)
        chain = ev.class_chain(obj.cls)
        plain_bases = all((c.file.dotted(b) or "") in ("object", "abc.ABC") or any(b.id == d.node.name for d in chain)
                          if isinstance(b, ast.Name) else (c.file.dotted(b) or "") in ("object", "abc.ABC")
                          for c in chain for b in c.node.bases)
        if plain_bases and len(chain) < 8 and ev.class_attr(obj.cls, "__getattr__") is None:
            return _const(False, name)  # its class and bases are the workspace's: nothing else gives it
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    return None
