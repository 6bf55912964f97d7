"""yacs `CfgNode` configs as data (Swin-Transformer, HRNet, fast-reid, pysot...): a tree of
known values built at module level (`_C = CN(); _C.MODEL = CN(); _C.MODEL.NUM_CLASSES = 1000`),
cloned, merged from YAML files and `KEY VALUE` lists, read by attribute or item.

yacs is strict, and so is this: a merge follows yacs's own rules (`_merge_a_into_b`: a key the
config does not have raises KeyError unless new keys are allowed; a value whose type differs
from the default raises ValueError, except list <-> tuple; strings are read with
`literal_eval`), and setting an attribute of a frozen config raises. Where the script would
raise there, or where a merged value is not known, the whole config becomes unknown with the
reason, never a guess. yacs itself is not imported: it need not be installed here.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from typing import Any

from weightmatch.journal import MISSING, put
from weightmatch.values import Const, ObjVal, Unknown

CFG_CLASSES = {"yacs.config.CfgNode", "yacs.config.CN"}
LOAD_CFG = {"yacs.config.load_cfg", "yacs.config.CfgNode.load_cfg"}
# methods that neither change the config nor give a value the interpreter uses
_READ_ONLY = {"dump", "keys", "values", "items", "is_new_allowed", "__repr__", "__str__"}
METHODS = {"clone", "freeze", "defrost", "is_frozen", "merge_from_file", "merge_from_other_cfg",
           "merge_from_list", "get", "set_new_allowed", "register_deprecated_key",
           "register_renamed_key", "update", "setdefault", "pop", *_READ_ONLY}


@dataclass
class CfgNodeVal(ObjVal):
    """One node of a yacs config: `attrs` holds its keys (Const leaves, CfgNodeVal children)."""

    name: str = "the yacs config"
    frozen: bool = False
    new_allowed: bool = False
    broken: str = ""  # why nothing of it is known any more (a merge that is not known or raises)
    deprecated: set = field(default_factory=set)
    renamed: set = field(default_factory=set)


def from_data(data: Any, origin: str, new_allowed: bool = False) -> CfgNodeVal:
    """`CN(init_dict)`: nested dicts become nodes (children do not inherit `new_allowed`)."""
    node = CfgNodeVal({}, new_allowed=new_allowed)
    for k, v in data.items():
        node.attrs[str(k)] = from_data(v, origin) if isinstance(v, dict) else Const(copy.deepcopy(v), origin)
    return node


def clone(node: CfgNodeVal) -> CfgNodeVal:
    out = CfgNodeVal({}, frozen=node.frozen, new_allowed=node.new_allowed, broken=node.broken,
                     deprecated=set(node.deprecated), renamed=set(node.renamed))
    for k, v in node.attrs.items():
        out.attrs[k] = clone(v) if isinstance(v, CfgNodeVal) else v
    return out


def break_all(node: CfgNodeVal, why: str, depth: int = 0) -> None:
    """The script's config is no longer known from here on (every node reached through it)."""
    if node.broken or depth > 50:
        return
    put(node, "broken", why)
    for k, v in list(node.attrs.items()):
        if isinstance(v, CfgNodeVal):
            break_all(v, why, depth + 1)
        put(node.attrs, k, MISSING)


def attribute(node: CfgNodeVal, name: str, method_value) -> Any:
    """`cfg.MODEL`, `cfg.clone`: yacs's methods come first (normal attribute lookup), then keys."""
    if name in METHODS:
        return method_value(node, name)
    if node.broken:
        return Unknown(node.broken)
    if name in node.attrs:
        return node.attrs[name]
    return Unknown(f"the config has no key `{name}` (yacs raises AttributeError)")


def item(node: CfgNodeVal, key: Any) -> Any:
    if node.broken:
        return Unknown(node.broken)
    if isinstance(key, Const) and isinstance(key.value, str):
        if key.value in node.attrs:
            return node.attrs[key.value]
        return Unknown(f"the config has no key `{key.value}` (KeyError)")
    return Unknown("a config key not known statically")


def contains(node: CfgNodeVal, key: Any) -> bool | None:
    if node.broken or not (isinstance(key, Const) and isinstance(key.value, str)):
        return None
    return key.value in node.attrs


def assign(owner: Any, path: list[str], value: Any, as_attribute: bool) -> bool:
    """`cfg.MODEL.NUM_CLASSES = 10` / `cfg["MODEL"]["X"] = 1`; False when no config holds the target."""
    node = owner
    for part in path[:-1]:
        if isinstance(node, CfgNodeVal) and node.broken:
            return True
        if not isinstance(node, ObjVal) or part not in node.attrs:
            return False
        node = node.attrs[part]
    if not isinstance(node, CfgNodeVal):
        return False
    if node.broken:
        return True
    if as_attribute and node.frozen:
        break_all(node, f"the script sets `{path[-1]}` on a frozen config (yacs raises AttributeError)")
        return True
    put(node.attrs, path[-1], value)
    return True


def decode(value: Any, origin: str) -> Any:
    """yacs's `_decode_cfg_value`: a dict becomes a node, a string is read with literal_eval."""
    if isinstance(value, dict):
        return from_data(value, origin)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        except Exception:  # noqa: BLE001 - what yacs would not catch: the script raises
            return Unknown(f"yacs cannot read the config value {value[:40]!r}")
    return Const(value, origin)


def coerce(new: Any, old: Any, full_key: str) -> Any:
    """yacs's `_check_and_coerce_cfg_value_type`; an Unknown when the types differ (ValueError)."""
    if isinstance(new, CfgNodeVal) or isinstance(old, CfgNodeVal):
        if isinstance(new, CfgNodeVal) and isinstance(old, CfgNodeVal):
            return new
        return Unknown(f"merging `{full_key}` into the config raises in yacs (a node and a value)")
    if not (isinstance(new, Const) and isinstance(old, Const)):
        return Unknown(f"`{full_key}` of the config is not known statically")
    if type(new.value) is type(old.value):
        return new
    for src, dst in ((tuple, list), (list, tuple)):
        if type(new.value) is src and type(old.value) is dst:
            return Const(dst(new.value), new.origin)
    return Unknown(f"merging `{full_key}` into the config raises in yacs: its type is "
                   f"{type(old.value).__name__}, the value given is {type(new.value).__name__} ({new.value!r})")


def merge_data(node: CfgNodeVal, data: dict, origin: str, root: CfgNodeVal | None = None,
               keys: list[str] | None = None) -> str:
    """yacs's `_merge_a_into_b` of a YAML file's data or another config's keys; "" or why the
    merge is not known (or raises)."""
    keys, root = keys or [], root or node
    for k, raw in data.items():
        full_key = ".".join([*keys, str(k)])
        if isinstance(raw, Const):
            raw, origin = raw.value, raw.origin or origin
        value = raw if isinstance(raw, (CfgNodeVal, Unknown)) else decode(raw, origin)
        if isinstance(value, Unknown):
            return value.reason
        if k in node.attrs:
            value = coerce(value, node.attrs[k], full_key)
            if isinstance(value, Unknown):
                return value.reason
            if isinstance(value, CfgNodeVal):
                why = merge_data(node.attrs[k], dict(value.attrs), origin, root, [*keys, str(k)])
                if why:
                    return why
            else:
                put(node.attrs, k, value)
        elif node.new_allowed:
            put(node.attrs, k, value)
        elif full_key in root.deprecated:
            continue
        elif full_key in root.renamed:
            return f"`{full_key}` ({origin}) is a renamed key of the config (yacs raises KeyError)"
        else:
            return f"`{full_key}` ({origin}) is not a key of the config (yacs raises KeyError)"
    return ""


def merge_list(node: CfgNodeVal, items: list, origin: str) -> str:
    """`cfg.merge_from_list(["MODEL.DEPTH", "4"])`; "" or why it is not known."""
    if len(items) % 2:
        return "`merge_from_list` is given an odd number of items (yacs raises)"
    for full_key, raw in zip(items[0::2], items[1::2]):
        if not isinstance(full_key, str):
            return "`merge_from_list` is given a key that is not a string"
        if full_key in node.deprecated:
            continue
        if full_key in node.renamed:
            return f"`{full_key}` is a renamed key of the config (yacs raises KeyError)"
        parts = full_key.split(".")
        d = node
        for sub in parts[:-1]:
            if not isinstance(d, CfgNodeVal) or sub not in d.attrs:
                return f"`{full_key}` is not a key of the config (yacs raises)"
            d = d.attrs[sub]
        if not isinstance(d, CfgNodeVal) or parts[-1] not in d.attrs:
            return f"`{full_key}` is not a key of the config (yacs raises)"
        value = coerce(decode(raw, origin), d.attrs[parts[-1]], full_key)
        if isinstance(value, Unknown):
            return value.reason
        put(d.attrs, parts[-1], value)
    return ""


def plain(node: CfgNodeVal, depth: int = 0) -> dict | None:
    """The config as a plain dict of known values; None when some value is not known."""
    if node.broken or depth > 50:
        return None
    out: dict = {}
    for k, v in node.attrs.items():
        if isinstance(v, CfgNodeVal):
            sub = plain(v, depth + 1)
            if sub is None:
                return None
            out[k] = sub
        elif isinstance(v, Const):
            out[k] = v.value
        else:
            return None
    return out
