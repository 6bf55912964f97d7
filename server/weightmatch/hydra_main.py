"""`@hydra.main(config_path="conf", config_name="train")`: a task function Hydra calls with the
config it composes. Called bare (`if __name__ == "__main__": main()`) in a run without
command-line overrides, the config is the YAML file itself, read as data (OmegaConf's attribute
access, `${...}` interpolations left unknown), without Hydra's own `hydra:` node. A `defaults:`
list (config groups composed from other files) or overrides on the command line are not
followed: the config is then unknown, and the reason says which."""

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
    data = config_data.read_data(ev, JsonFile(Const(file), "yaml"))
    if not (isinstance(data, Const) and isinstance(data.value, dict)):
        return data if isinstance(data, Unknown) else Unknown(f"{os.path.basename(file)} is not a mapping")
    defaults = data.value.get("defaults")
    if defaults not in (None, ["_self_"]):
        return Unknown(f"Hydra composes the config of {fn.node.name}() from other files "
                       f"(the `defaults:` list of {os.path.basename(file)}), which is not followed")
    cfg = {k: v for k, v in data.value.items() if k not in ("hydra", "defaults")}
    return Const(config_data.omega_data(cfg), f"{data.origin}, as Hydra gives it to {fn.node.name}()")


def _at_least_1_2(version: object) -> bool:
    try:
        return isinstance(version, str) and tuple(int(p) for p in version.split(".")[:2]) >= (1, 2)
    except ValueError:
        return False
