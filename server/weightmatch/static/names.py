"""Name resolution: a frame's locals, a file's top-level names (evaluated once, on first
use), Python's builtins, and imports (torch and friends as references, workspace modules
read from source). Mixed into interp.Interp."""

from __future__ import annotations

import ast
import os
from typing import Any

from . import sources
from .userdefs import Frame, UserClass, UserFunc, WorkspaceModule
from .values import Ref, StaticUnsupported, Unknown

BUILTINS = {"range", "len", "int", "float", "bool", "str", "max", "min", "sum", "abs", "round", "list", "tuple",
            "dict", "zip", "enumerate", "reversed", "sorted", "isinstance", "getattr", "setattr", "hasattr",
            "print", "super", "divmod", "any", "all", "map", "None", "True", "False", "object", "issubclass",
            "callable", "type", "id", "repr", "format", "ValueError", "TypeError", "NotImplementedError",
            "RuntimeError", "AssertionError", "KeyError", "Exception", "__import__"}


class Names:
    def lookup(self, name: str, frame: Frame) -> Any:
        f: Frame | None = frame
        while f is not None:
            if name in f.locals:
                return f.locals[name]
            f = f.parent
        return self.global_name(frame.file, name)

    def global_name(self, sf: sources.SourceFile, name: str) -> Any:
        sf = sf.origin or sf
        cache = self.globals.setdefault(sf.path + "\0" + sf.modname, {})
        if name in cache:
            return cache[name]
        value = self._global_value(sf, name)
        cache[name] = value
        return value

    def set_global(self, sf: sources.SourceFile, name: str, value: Any) -> None:
        """A module-level name a function declared `global` sets: later reads see the new value."""
        sf = sf.origin or sf
        self.globals.setdefault(sf.path + "\0" + sf.modname, {})[name] = value

    def _global_value(self, sf: sources.SourceFile, name: str) -> Any:
        if name in sf.ambiguous:
            return Unknown(f"`{name}` is assigned more than once or conditionally in {os.path.basename(sf.path)}")
        stmt = sf.bindings.get(name)
        if stmt is None:
            if name in BUILTINS:
                return Ref("builtins." + name)
            if "*" in sf.ambiguous:
                return Unknown(f"`{name}` may come from a `*` import")
            return Unknown(f"`{name}` is not defined in {os.path.basename(sf.path)}")
        if isinstance(stmt, ast.ClassDef):
            return UserClass(sf, stmt, self)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return UserFunc(sf, stmt, None)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self.import_name(sf, stmt, name)
        key = (sf.path, name)
        if key in self.pending:
            return Unknown(f"`{name}` is defined in terms of itself")
        self.pending.add(key)
        try:
            frame = Frame(sf, is_module=True)
            value = self.eval_safe(stmt.value, frame)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                try:
                    self.assign(target, value, frame)
                except StaticUnsupported as e:
                    return Unknown(e.reason)
            return frame.locals.get(name, Unknown(f"`{name}` is not a simple constant"))
        finally:
            self.pending.discard(key)

    def import_name(self, sf: sources.SourceFile, stmt: ast.Import | ast.ImportFrom, name: str) -> Any:
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound != name:
                continue
            if isinstance(stmt, ast.Import):
                target = alias.name if alias.asname else alias.name.split(".")[0]
                return self.import_module(sf, target, 0)
            module = self.import_module(sf, stmt.module or "", stmt.level)
            if isinstance(module, Ref):
                return self.ops.ref_attr(module, alias.name)
            if isinstance(module, WorkspaceModule):
                if alias.name in module.file.bindings or alias.name in module.file.ambiguous:
                    return self.global_name(module.file, alias.name)
                sub = self.import_module(sf, f"{stmt.module or ''}.{alias.name}", stmt.level)
                if isinstance(sub, WorkspaceModule):
                    return sub
                return self.global_name(module.file, alias.name)
            return module
        return Unknown(f"`{name}` is not defined")

    def import_module(self, sf: sources.SourceFile, dotted: str, level: int) -> Any:
        top = dotted.split(".")[0]
        if level == 0 and top in ("torch", "torchvision", "math", "numpy", "collections", "typing", "functools",
                                  "timm", "transformers", "dataclasses", "abc", "copy", "pytorch_lightning",
                                  "lightning"):
            return Ref(dotted)
        probed: list[str] = []
        found = sources.find_module(dotted, level, sf.path, self.root, probed, self.import_dirs)
        for path in probed:
            if path not in self.deps:
                self.deps[path] = sources.fingerprint(path, self.buffers)
        if found is None:
            return Unknown(f"`{'.' * level}{dotted}` is not a workspace module")
        imported = sources.read(*found, self.buffers)
        if imported is None:
            return Unknown(f"`{'.' * level}{dotted}` could not be read or parsed")
        return WorkspaceModule(imported)
