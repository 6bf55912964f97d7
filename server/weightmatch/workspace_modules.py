"""The workspace's own modules as the source interpreter imports them: each file's top level
walked once for its names (shared between the analyses of a project where nothing it holds
can change), `import` / `from … import` / `importlib.import_module` of workspace modules, and
data files found where the script runs."""

from __future__ import annotations

import ast
import os
from typing import Any

from weightmatch.pyfile import PyFile
from weightmatch.signals import ExitSignal
from weightmatch.static.sources import find_module, module_name
from weightmatch.values import ClassVal, Const, DictLit, FuncVal, LibRef, ModVal, SourceVal, Unknown


class ModulesMixin:
    """Needs `block`, `ev`, `pf`, `load`, `root`, `cwd`, `entry` and the tables `setup_program` makes."""

    def module_env(self, pf: PyFile) -> dict:
        env = self.module_envs.get(pf.path)
        if env is not None:
            if pf.path in self.computing:
                # an import cycle: this env is seen half made, and the module importing it now may
                # keep what it saw (litgpt: `load_checkpoint` unknown in chat/base.py): neither env
                # is what the module gives when whole, so neither is shared with later analyses
                self.cyclic.add(pf.path)
                if self.pf.path in self.computing:
                    self.cyclic.add(self.pf.path)
            return env
        key = (pf.path, len(pf.text), hash(pf.text))
        shared = self.shared_envs.get(key) if self.shared_envs is not None else None
        if shared is not None:  # made by an earlier analysis (see _shareable)
            env, read = shared
            env = self.module_envs[pf.path] = dict(env)
            self.read_files.update(read)
            return env
        env = {"__file__": Const(pf.path)}
        self.module_envs[pf.path] = env
        if len(self.module_envs) > 200:
            return env
        saved = (self.pf, self.recording)
        self.pf, self.recording = pf, False
        before = set(self.read_files)
        environ = (dict(getattr(self, "env_writes", {})), getattr(self, "env_blind", ""), len(self.import_dirs))
        self.computing.add(pf.path)
        try:
            self.block(pf.tree.body, env, [])
        except ExitSignal:
            pass  # an imported module that exits while imported: its names so far
        finally:
            self.pf, self.recording = saved
            self.computing.discard(pf.path)
        read = self.read_files - before
        # (a module that sets environment variables when imported is run again by each analysis:
        # its names may be shared, what it did to os.environ would not be)
        if self.shared_envs is not None and pf is not self.entry and pf.path not in self.cyclic and \
                all(r.endswith(".py") for r in read) and all(map(_shareable, env.values())) and \
                environ == (getattr(self, "env_writes", {}), getattr(self, "env_blind", ""), len(self.import_dirs)):
            if len(self.shared_envs) > 2000:
                self.shared_envs.clear()
            self.shared_envs[key] = (dict(env), read)
        return env

    def import_module(self, module: str, level: int) -> PyFile | None:
        key = (module, level, os.path.dirname(self.pf.path))
        if key not in self.imports_seen:  # one lookup and one read per module per analysis
            found = find_module(module, level, self.pf.path, self.root)
            self.imports_seen[key] = None if found is None else (found[0], self.load(found[0]))
        hit = self.imports_seen[key]
        if hit is None and not level and self.import_dirs:
            found = self._import_from_added_dirs(module)  # `sys.path.append("core")`, `import _init_paths`
            return found if found is not None and found.path != self.pf.path else None
        if hit is None or hit[0] == self.pf.path:
            return None
        self.read_files.add(hit[0])
        return hit[1]

    def bind_import(self, stmt: ast.Import | ast.ImportFrom, env: dict) -> None:
        """Names imported from workspace modules become the values those modules define."""
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                pf = self.import_module(alias.name, 0)
                if pf is not None:
                    self.module_env(pf)  # its top level runs now, as Python's import runs it (registrations)
                    if alias.asname:
                        env[alias.asname] = ModVal(pf)
                    elif "." not in alias.name:
                        env[alias.name] = ModVal(pf)
            return
        pf = self.import_module(stmt.module or "", stmt.level)
        if pf is None and stmt.level == 1 and not stmt.module and os.path.basename(self.pf.path) == "__init__.py":
            for alias in stmt.names:  # `from . import tiny` in a package's own __init__ (fairseq's registries)
                sub = self._submodule(self.pf, alias.name)
                if sub is not None:
                    env[alias.asname or alias.name] = sub
            return
        if pf is None:
            return
        for alias in stmt.names:
            if alias.name == "*":  # `from .resnet import *`: its `__all__`, else its public names
                names = self.module_env(pf)
                public = names.get("__all__")
                listed = public.value if isinstance(public, Const) and isinstance(public.value, (list, tuple)) \
                    else [n for n in names if not n.startswith("_")]
                for name in listed:
                    if isinstance(name, str) and name in names:
                        env[name] = names[name]
                continue
            env[alias.asname or alias.name] = self.module_attr(pf, alias.name)

    def dynamic_import(self, node: ast.Call, env: dict) -> Any:
        """`importlib.import_module("models.net")` of a workspace module (stable-diffusion's
        `get_obj_from_str`): the module, as `import models.net as m` gives it."""
        package = next((k.value for k in node.keywords if k.arg == "package"), None)
        package = self.ev(package, env) if package is not None else Const(None)
        plain_call = len(node.args) == 1 and all(k.arg == "package" for k in node.keywords)
        name = self.ev(node.args[0], env) if plain_call and isinstance(package, Const) and package.value is None else None
        if not (isinstance(name, Const) and isinstance(name.value, str)) or name.value.startswith("."):
            return Unknown(f"`{self.pf.segment(node)}` imports a module not known statically")
        pf = self.import_module(name.value, 0) or self._import_from_added_dirs(name.value)
        if pf is None:
            return Unknown(f"`{name.value}` is not a workspace module")
        return ModVal(pf)

    def _import_from_added_dirs(self, module: str) -> PyFile | None:
        """A module found in a folder the script put on `sys.path` (a config file's folder)."""
        for base in reversed(self.added_import_dirs()):
            found = find_module(module, 0, os.path.join(base, "_"), self.root)
            if found is not None:
                self.read_files.add(found[0])
                return self.load(found[0])
        return None

    def added_import_dirs(self) -> list[str]:
        """The folders put on `sys.path` so far that exist, absolute (a relative one is taken from
        where the script runs, else the workspace root)."""
        out = []
        for folder in self.import_dirs:
            base = next((b for b in (os.path.join(d, folder) for d in (self.cwd, self.root) if d)
                         if os.path.isdir(b)), None) if not os.path.isabs(folder) else folder
            if base and os.path.isdir(base) and os.path.abspath(base) not in out:
                out.append(os.path.abspath(base))
        return out

    def run_path(self, node: ast.Call, env: dict) -> Any:
        """`runpy.run_path("configs/x.py")` of a workspace file (mmcv's `Config.fromfile`): its
        top-level names, evaluated as an import of it would make them, as data; the run's own
        `__name__`, `__file__`, ... are left out. Unknown when a name holds more than data."""
        what = f"`{self.pf.segment(node)}`"
        path = self.ev(node.args[0], env) if len(node.args) == 1 and not node.keywords else None
        if not (isinstance(path, Const) and isinstance(path.value, str)):
            return Unknown(f"{what}: which file it runs is known only at run time")
        full = self.data_path(path.value)
        pf = self.load(full) if full is not None and full.endswith(".py") else None
        if pf is None:
            return Unknown(f"{what}: {path.value} is not a Python file of the workspace")
        return self.module_data(pf, what, path.value)

    def module_dict(self, pf: PyFile, what: str) -> Any:
        """`module.__dict__`: a module that defines classes or functions gives its names and values
        (pix2pix's `for name, cls in modellib.__dict__.items()` picking a model class); a module
        of data alone, that data (a Python config file, as `module_data`)."""
        env = self.module_env(pf)
        if not any(isinstance(v, (ClassVal, FuncVal)) and v.file is pf for v in env.values()):
            return self.module_data(pf, what, os.path.basename(pf.path))
        entries = {"__name__": Const(module_name(pf.path, self.root)), **env}
        return SourceVal(DictLit(entries))

    def module_data(self, pf: PyFile, what: str, shown: str) -> Any:
        """A config file's top-level names as data (`runpy.run_path(p)`, `module.__dict__`); its
        `__name__`, `__file__`, ..., modules and definitions are left out, as mmcv's
        `Config.fromfile` leaves them out. Unknown when a name holds more than data."""
        names = {}
        for name, value in self.module_env(pf).items():
            if name.startswith("__") or isinstance(value, (ModVal, LibRef, FuncVal, ClassVal)):
                continue  # (modules and definitions the file imports or makes: not read as config)
            if not isinstance(value, Const):
                return Unknown(f"{what}: `{name}` in {shown} is not plain data")
            names[name] = value.value
        return Const(names, f"{shown} as it is on disk")

    def local_hub_load(self, node: ast.Call, env: dict) -> Any:
        """`torch.hub.load(".", "resnet_tiny", source="local", pretrained=False)`: the entry point of
        the workspace's own hubconf.py, called with the remaining arguments, as torch.hub does."""
        what = f"`{self.pf.segment(node)}`"
        if len(node.args) < 2 or any(k.arg is None for k in node.keywords):
            return Unknown(f"{what} is not known statically")
        kwargs = {k.arg: self.ev(k.value, env) for k in node.keywords}
        source = kwargs.pop("source", Const("github"))
        repo, name = self.ev(node.args[0], env), self.ev(node.args[1], env)
        for hub_only in ("trust_repo", "force_reload", "verbose", "skip_validation"):
            kwargs.pop(hub_only, None)
        if not (isinstance(source, Const) and source.value == "local"):
            return Unknown(f"{what} downloads its code from GitHub (`source` is not \"local\")")
        if not (isinstance(repo, Const) and isinstance(repo.value, str) and isinstance(name, Const)
                and isinstance(name.value, str)):
            return Unknown(f"{what}: which folder or entry point is known only at run time")
        hubconf = self.data_path(os.path.join(repo.value, "hubconf.py"))
        pf = self.load(hubconf) if hubconf is not None else None
        if pf is None:
            return Unknown(f"{what}: no hubconf.py in {repo.value}")
        entry = self.module_attr(pf, name.value)
        if not isinstance(entry, FuncVal):
            return Unknown(f"{what}: hubconf.py has no function `{name.value}`")
        return self.call_function(entry, [self.ev(a, env) for a in node.args[2:]], kwargs, node)

    def module_attr(self, pf: PyFile, name: str) -> Any:
        env = self.module_env(pf)
        if name in env:
            return env[name]
        return self._submodule(pf, name) or Unknown(f"`{name}` is not defined in {os.path.basename(pf.path)}")

    def _submodule(self, package: PyFile, name: str) -> ModVal | None:
        """`from pkg import tiny` of a module of the package: its top level runs, as the import
        runs it (the registrations its decorators make)."""
        found = find_module(name, 1, package.path, self.root) if package.path.endswith("__init__.py") else None
        sub = self.load(found[0]) if found is not None else None
        if sub is None:
            return None
        self.read_files.add(found[0])
        self.module_env(sub)
        return ModVal(sub)

    def data_path(self, path: str) -> str | None:
        p = os.path.expanduser(path)
        candidates = [p] if os.path.isabs(p) else [os.path.join(d, p) for d in (
            self.cwd, self.root, os.path.dirname(self.pf.path)) if d]
        for cand in candidates:
            if os.path.isfile(cand):
                self.read_files.add(os.path.normpath(cand))
                return cand
        return None


def _shareable(value: Any) -> bool:
    """A value of a module's top level that no analysis changes: definitions and constants."""
    if isinstance(value, FuncVal):
        return value.closure is None and value.self_value is None
    return isinstance(value, (ClassVal, ModVal, Unknown, LibRef)) or isinstance(value, Const) and \
        isinstance(value.value, (int, float, str, bool, type(None), tuple))
