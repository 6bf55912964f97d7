"""`@hydra.main(config_path="conf", config_name="train")`: a task function Hydra calls with the
config it composes. Called bare (`if __name__ == "__main__": main()`) in a run without
command-line overrides, the config is the YAML files as Hydra composes them, read as data
(OmegaConf's attribute access and `${...}` interpolations), without Hydra's own `hydra:` node:
the `defaults:` lists (config groups placed under the group's name, configs of the same group,
`_self_` where listed, else last). Package directives other than the primary config's
`_global_`, `optional` / `override` / `group@package` entries, and overrides on the command line
are not followed: the config is then unknown, and the reason says which."""

from __future__ import annotations

import ast
import os
from typing import Any

from weightmatch import config_data
from weightmatch.values import Const, FuncVal, JsonFile, Unknown


def hydra_decorator(fn: FuncVal) -> ast.Call | None:
    """The `@hydra.main(...)` call when it is the function's one decorator."""
    decorators = fn.node.decorator_list
    if len(decorators) == 1 and isinstance(decorators[0], ast.Call) and \
            fn.file.dotted(decorators[0].func) == "hydra.main":
        return decorators[0]
    return None


def task_config(ev, fn: FuncVal, decorator: ast.Call) -> Any:
    """The config Hydra passes to the task function in this run."""
    if ev.argv:
        return Unknown("the config Hydra composes with the command-line overrides of this run is not followed")
    env = ev.module_env(fn.file)
    given = {k.arg: ev.in_file(fn.file, lambda k=k: ev.ev(k.value, env)) for k in decorator.keywords if k.arg}
    base = given.get("version_base")
    if not (isinstance(base, Const) and (base.value is None or _at_least_1_2(base.value))):
        # before 1.2 Hydra runs the task in its output folder: relative paths resolve there
        return Unknown(f"Hydra runs {fn.node.name}() in its output folder (`version_base` before 1.2), "
                       "which is not followed")
    path, name = given.get("config_path"), given.get("config_name")
    if not (isinstance(path, Const) and isinstance(path.value, str) and isinstance(name, Const)
            and isinstance(name.value, str)) or decorator.args:
        return Unknown(f"the config of `@hydra.main(...)` on {fn.node.name}() is not known statically")
    file = os.path.normpath(os.path.join(os.path.dirname(fn.file.path), path.value, name.value))
    if not file.endswith((".yaml", ".yml")):
        file += ".yaml"
    if ev.root and file.startswith(ev.root.rstrip(os.sep) + os.sep):
        file = os.path.relpath(file, ev.root)  # (named as the user sees it, in messages)
    folder, primary = os.path.split(file)
    composed = _compose(ev, folder, "", os.path.splitext(primary)[0], 0)
    if isinstance(composed, Unknown):
        return Unknown(f"Hydra composes the config of {fn.node.name}() from other files ({composed.reason}), "
                       "which is not followed") if not composed.reason.startswith(primary) else composed
    cfg, origin = composed
    return Const(config_data.omega_data(cfg), f"{origin}, as Hydra gives it to {fn.node.name}()")


def _compose(ev, folder: str, group: str, name: str, depth: int) -> tuple[dict, str] | Unknown:
    """The config `group/name` of the config folder as Hydra composes it: its `defaults:` list
    merged in order, its own items where `_self_` is (last when not listed), the configs of a
    group placed under the group's name. A package directive other than `_global_` on the
    primary config, `override` / `optional` entries, interpolated options and nested group paths
    given absolutely are not followed (Unknown, saying which)."""
    rel = os.path.join(group, name) + ".yaml"
    path = os.path.join(folder, rel)
    data = config_data.read_data(ev, JsonFile(Const(path), "yaml"))
    if not (isinstance(data, Const) and isinstance(data.value, dict)):
        return data if isinstance(data, Unknown) else Unknown(f"{rel} is not a mapping")
    if depth > 8 or _package(ev, path) not in (None, "_global_" if not group else None):
        return Unknown(f"the package directive of {rel}")
    own = {k: v for k, v in data.value.items() if k not in ("hydra", "defaults")}
    defaults = data.value.get("defaults") or []
    if not isinstance(defaults, list):
        return Unknown(f"the `defaults:` list of {rel}")
    out: dict = {}
    for entry in defaults if "_self_" in defaults else [*defaults, "_self_"]:
        if entry == "_self_":
            out = config_data._merge(out, own)
            continue
        if isinstance(entry, str):  # a config of the same group, at the same place
            part = _compose(ev, folder, group, entry, depth + 1)
            where = []
        elif isinstance(entry, dict) and len(entry) == 1:
            (sub, option), = entry.items()
            if option is None:
                continue  # `paths: null`: no config of that group
            if not isinstance(sub, str) or not isinstance(option, str) or not sub.replace("_", "").replace("/", "").isalnum() \
                    or sub.startswith("/") or "${" in option:
                return Unknown(f"the `{sub}: {option}` entry of the `defaults:` list of {rel}")
            path_ = os.path.join(group, sub) if group else sub
            part = _compose(ev, folder, path_, option, depth + 1)
            where = path_.split("/")[len(group.split("/")) if group else 0:]
        else:
            return Unknown(f"an entry of the `defaults:` list of {rel}")
        if isinstance(part, Unknown):
            return part
        for key in reversed(where):
            part = ({key: part[0]}, part[1])
        out = config_data._merge(out, part[0])
    return out, data.origin


def _package(ev, path: str) -> str | None:
    """The `# @package <name>` directive of a config file's header, None without one."""
    full = path if os.path.isabs(path) else os.path.join(ev.root or "", path)
    try:
        with open(full, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return None
    for line in head.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if line.lstrip().startswith("# @package"):
            return line.split("@package", 1)[1].strip()
    return None


def _at_least_1_2(version: object) -> bool:
    try:
        return isinstance(version, str) and tuple(int(p) for p in version.split(".")[:2]) >= (1, 2)
    except ValueError:
        return False
