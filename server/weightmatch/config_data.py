"""Config data as the scripts read it: JSON, YAML and TOML files of the workspace (read as
data, never as code), OmegaConf's mappings (`cfg.model.width` reads an item), and dict
literals of known values taken as one constant."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from typing import Any

import yaml

from weightmatch.values import At, Const, DictLit, FileHandle, JsonFile, SourceVal, Unknown, origins

MAX_DATA_FILE = 5 * 1024 * 1024  # a config file larger than this is not read


class AttrDict(dict):
    """A mapping OmegaConf made (`cfg.model.num_classes` reads an item): a dict, so it is
    written into a recipe as the plain literal its items are. `root` is the whole config an
    OmegaConf node belongs to (its `${a.b}` interpolations resolve against it, when read); None
    for the other dicts read by attribute (EasyDict), where `${` is plain text."""

    __slots__ = ("root",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = None

    def __copy__(self):
        """A copy changed apart from its config: its interpolations are no longer resolved here."""
        new = dict.__new__(type(self))
        dict.update(new, self)
        new.root = None
        if hasattr(self, "cls"):
            new.cls = self.cls
        return new


class ClassAttrDict(AttrDict):
    """An object of a workspace dict class whose attributes are its items (HiFi-GAN's
    `AttrDict` with `self.__dict__ = self`): written into a recipe as `cls({...items})`."""

    __slots__ = ("cls",)


class Unresolved(Exception):
    """An OmegaConf interpolation not resolved here (a resolver, a relative or missing key)."""


_NUMBER = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?\.?(inf|nan)$", re.IGNORECASE)
_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")


def omega_data(value: Any) -> Any:
    """OmegaConf data (`OmegaConf.load/create/merge`, a Hydra config): attribute dicts whose
    interpolations resolve against this config."""
    made = attr_data(value)
    stack = [made]
    while stack:
        node = stack.pop()
        if isinstance(node, AttrDict):
            node.root = made
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return made


def resolved(value: Any, root: Any, depth: int = 0) -> Any:
    """`value` with its `${a.b}` interpolations resolved against `root`, as OmegaConf resolves
    them when the item is read; raises Unresolved for one that is not resolved here."""
    if depth > 20:
        raise Unresolved("interpolations nested too deep")
    if isinstance(value, dict):
        return {k: resolved(v, root, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, root, depth + 1) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    if root is None or "\\${" in value:
        raise Unresolved(value)
    whole = _INTERPOLATION.fullmatch(value)
    if whole is not None:
        return resolved(_at(root, whole.group(1)), root, depth + 1)
    text = _INTERPOLATION.sub(lambda m: _as_text(resolved(_at(root, m.group(1)), root, depth + 1)), value)
    if "${" in text:
        raise Unresolved(value)
    return text


def _at(root: Any, key: str) -> Any:
    if not key.strip() or key.strip().startswith(".") or ":" in key:
        raise Unresolved(f"${{{key}}}")  # a relative key, a resolver (`${oc.env:HOME}`, `${now:...}`)
    node = root
    for part in key.strip().split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise Unresolved(f"${{{key}}}")  # (OmegaConf raises InterpolationKeyError)
    return node


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise Unresolved("an interpolation of a container inside a string")
    return str(value)


def resolved_const(owner: Const, value: Any) -> Any:
    """An item of OmegaConf data as the script reads it: interpolations resolved; Unknown when
    one is not resolved here."""
    root = owner.value.root if isinstance(owner.value, AttrDict) else None
    try:
        return Const(resolved(value, root), owner.origin)
    except Unresolved as exc:
        return Unknown(f"the OmegaConf interpolation {str(exc)[:80]} is resolved when the script runs")


def attr_data(value: Any, depth: int = 0) -> Any:
    if depth > 50:
        return value
    if isinstance(value, dict):
        return AttrDict({k: attr_data(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list):
        return [attr_data(v, depth + 1) for v in value]
    return value


def config_item(owner: Const, name: Any, what: str) -> Any:
    """An item of OmegaConf data; an `${...}` interpolation is resolved by OmegaConf at run time."""
    try:
        value = owner.value[name]
    except (KeyError, IndexError, TypeError):
        return Unknown(f"`{what}`: no such item in the value")
    if isinstance(value, str) and "${" in value:
        return resolved_const(owner, value)
    return Const(value, owner.origin)


def read_data(ev, doc: JsonFile) -> Any:
    """A JSON / YAML / TOML file of the workspace, as data; a text file as its text."""
    path = doc.path.value if isinstance(doc.path, Const) and isinstance(doc.path.value, str) else None
    if path is None:
        return Unknown(doc.path.reason if isinstance(doc.path, Unknown) else "the config file's path is not known")
    full = ev.data_path(path)
    what = "the file" if doc.kind == "text" else "the config file"
    if full is None:
        return Unknown(f"{what} {path} does not exist")
    try:
        if os.path.getsize(full) > MAX_DATA_FILE:
            return Unknown(f"{what} {path} is too large to read")
        kind = doc.kind
        with open(full, "rb") as fh:
            raw = fh.read()
        if kind == "text":
            data = raw.decode("utf-8")  # (universal newlines, as text mode reads it)
            data = data.replace("\r\n", "\n").replace("\r", "\n")
        elif kind == "toml":
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
        elif kind in ("yaml", "yaml-base", "yaml-full"):
            try:
                import yaml
            except ImportError:
                return Unknown(f"reading {path} needs PyYAML")
            data = yaml.load(raw, Loader=yaml.BaseLoader) if kind == "yaml-base" else \
                yaml.load(raw, Loader=_tuple_loader()) if kind == "yaml-full" else yaml.safe_load(raw)
        else:
            data = json.loads(raw)
    except Exception as exc:  # noqa: BLE001 - a broken config file is a reason, not a crash
        return Unknown(f"{what} {path} cannot be read ({type(exc).__name__})")
    root = getattr(ev, "root", "") or ""
    shown = os.path.relpath(path, root) if os.path.isabs(path) and path.startswith(root.rstrip(os.sep) + os.sep) \
        else path  # (`ROOT / "data.yaml"` with ROOT from `__file__`: named as the user sees it)
    return Const(data, f"{shown} as it is on disk")


@functools.cache
def _tuple_loader() -> type:
    """PyYAML's SafeLoader with the one python tag the full loaders give as plain data,
    `!!python/tuple` (FullConstructor's own rule: a tuple of the sequence); every other python
    tag still refused, as nothing of the file may run."""
    class TupleLoader(yaml.SafeLoader):
        pass

    TupleLoader.add_constructor("tag:yaml.org,2002:python/tuple", lambda loader, node: tuple(loader.construct_sequence(node)))
    return TupleLoader


def data_file(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    if not node.args:
        return None
    kind = "toml" if "toml" in dotted else "yaml"
    if dotted == "yaml.load":
        loader = next((k.value for k in node.keywords if k.arg == "Loader"), node.args[1] if len(node.args) > 1 else None)
        name = (ev.pf.dotted(loader) if loader is not None else "") or ""
        if name.endswith("BaseLoader"):
            kind = "yaml-base"  # every scalar a string
        elif name.endswith(("FullLoader", "CFullLoader", ".Loader", ".CLoader", "UnsafeLoader")):
            kind = "yaml-full"  # (`!!python/tuple` too: ABINet's configs)
        elif not name.endswith(("SafeLoader", "CSafeLoader")):
            return Unknown("`yaml.load` with a loader not known statically")
        # a file that loads with SafeLoader gives the same data with the full loaders; one with
        # other python tags (objects, names, modules) is not read: nothing in it runs here
    arg = ev.ev(node.args[0], env)
    path = arg.path if isinstance(arg, FileHandle) else arg
    data = read_data(ev, JsonFile(path, kind))
    if dotted.startswith("omegaconf.") and isinstance(data, Const):
        return Const(omega_data(data.value), data.origin)
    return data


def omegaconf(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`OmegaConf.create({...})`, `OmegaConf.merge(a, b)`, `OmegaConf.to_container(cfg)` over known data;
    `OmegaConf.from_cli()` of a run without arguments (an empty config)."""
    if dotted.endswith((".from_cli", ".from_dotlist")):
        given = [ev.ev(a, env) for a in node.args]
        argv = given[0].value if len(given) == 1 and isinstance(given[0], Const) else None if given else \
            ev.argv or [] if dotted.endswith(".from_cli") else None
        if argv is not None and not argv and not node.keywords:
            return Const(AttrDict(), "no command-line arguments")  # (latent-diffusion's unknown `key=value` list)
        made = _from_dotlist(argv) if isinstance(argv, (list, tuple)) and not node.keywords else None
        if made is not None:
            return Const(omega_data(made), origins(given))
        return Unknown(f"`{ev.pf.segment(node)}` reads `key=value` arguments from the command line")
    args = []
    for a in node.args:  # `OmegaConf.merge(*configs, cli)`
        value = ev.ev(a.value if isinstance(a, ast.Starred) else a, env)
        if isinstance(a, ast.Starred):
            items = value.value if isinstance(value, Const) and isinstance(value.value, (list, tuple)) else None
            if items is None:
                return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
            args.extend(Const(i, value.origin) for i in items)
        else:
            args.append(as_const(value))
    if not all(isinstance(a, Const) for a in args) or not args:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    keywords = {k.arg: ev.ev(k.value, env) for k in node.keywords}
    if dotted.endswith(".to_container") and isinstance(args[0].value, dict) and set(keywords) <= {"resolve"}:
        resolve = keywords.get("resolve", Const(False))
        if not isinstance(resolve, Const):
            return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
        if resolve.value:  # `to_container(cfg, resolve=True)`; without it the `${...}` text stays as it is
            return resolved_const(args[0], plain_data(args[0].value))
        return Const(plain_data(args[0].value), args[0].origin)
    if node.keywords:
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    if dotted.endswith(".create") and len(args) == 1 and isinstance(args[0].value, (dict, list)):
        return Const(omega_data(args[0].value), args[0].origin)
    if dotted.endswith(".merge") and all(isinstance(a.value, dict) for a in args):
        merged: dict = {}
        for a in args:
            merged = _merge(merged, a.value)
        return Const(omega_data(merged), origins(args))
    return Unknown(f"`{ev.pf.segment(node)}` is not known statically")


def as_const(value: Any, depth: int = 0) -> Any:
    """A dict literal of known values (`{"model": {"width": 8}}`) as one Const; else as it is."""
    if isinstance(value, At) and isinstance(value.value, SourceVal):
        value = value.value  # a nested literal, frozen where it was made
    if isinstance(value, SourceVal) and isinstance(value.base, DictLit) and not value.ops and depth < 50:
        items = {k: as_const(v, depth + 1) for k, v in value.base.entries.items()}
        if all(isinstance(v, Const) for v in items.values()):
            return Const({k: v.value for k, v in items.items()}, origins(list(items.values())))
    return value


def data_of(ev, value: Any) -> Any:
    """What a value holds as data, read where it is: a JSON/YAML file, a dict or list the
    checkpoint holds (`hparams.update(ckpt["hparams"])`), a literal; else as it is."""
    if isinstance(value, JsonFile):
        return read_data(ev, value)
    held = as_const(value)
    if isinstance(held, (SourceVal, At)) and held is value:
        read = ev.concrete(value)
        return read if isinstance(read, Const) else value
    return held


def plain_data(value: Any, depth: int = 0) -> Any:
    """Plain dicts, lists and tuples: OmegaConf data as `to_container` gives it, a checkpoint's
    object without its StateDict / OrderedDict types."""
    if depth > 50:
        return value
    if isinstance(value, dict):
        return {k: plain_data(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_data(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def _merge(base: dict, other: dict) -> dict:
    out = dict(base)
    for k, v in other.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def dotlist(items: list) -> list[tuple[str, Any]] | None:
    """`["model.depth=4", "name=x"]` as OmegaConf parses it (each value read as YAML); None when
    an item is not `key=value` or its value may read otherwise in OmegaConf's YAML (a number
    written as YAML 1.1 reads it as text: `1e-3`)."""
    pairs = []
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            return None
        key, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            return None
        if isinstance(value, str) and _NUMBER.match(value) or isinstance(value, (dict, list)) or not key:
            return None
        pairs.append((key, value))
    return pairs


def _from_dotlist(items: list) -> dict | None:
    """`OmegaConf.from_dotlist(["model.depth=4"])`: the nested config it makes; None when not known."""
    made: dict = {}
    for key, value in dotlist(items) or [("", None)]:
        node, (*parents, last) = made, key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None  # (a key below a plain value)
        if not last:
            return None
        node[last] = value
    return made
