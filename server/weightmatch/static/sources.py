"""Parsed workspace files and their top-level names, and where an import points.

Files are parsed once per (path, text hash). A top-level name is known only when one
simple statement binds it (a def, a class, an import, one assignment); a name bound
twice or under if/for/try/with is left unknown, since which binding wins depends on
running the script.
"""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable

from weightmatch import parsing
from weightmatch.sourcefile import read_source

_CACHE: dict[tuple[str, str], "SourceFile"] = {}


@dataclass
class SourceFile:
    path: str
    text: str
    tree: ast.Module
    modname: str  # "__main__" for the recipe's script, "models.net" for an import
    bindings: dict[str, ast.stmt] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    origin: "SourceFile | None" = None  # for a recipe snippet: the script whose names it uses

    def segment(self, node: ast.AST, limit: int = 70) -> str:
        try:
            text = ast.get_source_segment(self.text, node) or ""
        except (IndexError, ValueError):
            text = ""
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


def parse(path: str, text: str, modname: str) -> SourceFile:
    key = (path + "\0" + modname, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    tree = parsing.parse(text, path)
    sf = SourceFile(path, text, tree, modname)
    _collect(sf)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = sf
    return sf


def _bound_names(node: ast.AST) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            out.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            for alias in sub.names:
                out.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(sub, ast.Global):
            out.update(sub.names)
    return out


def _collect(sf: SourceFile) -> None:
    seen: dict[str, int] = {}
    mutated: set[str] = set()

    def bind(name: str, stmt: ast.stmt) -> None:
        seen[name] = seen.get(name, 0) + 1
        sf.bindings[name] = stmt

    for stmt in sf.tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(stmt.name, stmt)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    sf.ambiguous.add("*")
                else:
                    bind(alias.asname or alias.name.split(".")[0], stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and (not isinstance(stmt, ast.AnnAssign) or stmt.value):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in _bound_names(target):
                    bind(name, stmt)
                if not all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Load, ast.Store)) for n in ast.walk(target)):
                    # `X[0] = ...` / `X.a = ...` mutate a name: it is no longer a simple constant
                    for name in {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}:
                        sf.ambiguous.add(name)
        else:
            for name in _bound_names(stmt):
                sf.ambiguous.add(name)
            # `for k in keys: args[k] = ckpt["args"][k]`: a name changed in place under a loop, an `if`,
            # a `with` or a `try` holds what that code made of it, not its first value
            for sub in ast.walk(stmt):
                if isinstance(sub, (ast.Subscript, ast.Attribute)) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                    root = sub.value
                    while isinstance(root, (ast.Subscript, ast.Attribute)):
                        root = root.value
                    if isinstance(root, ast.Name):
                        sf.ambiguous.add(root.id)
            # a top-level call such as `CFG.update(...)` or `LAYERS.append(...)` may mutate a name
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                    base = sub.func.value
                    if isinstance(base, ast.Name):
                        mutated.add(base.id)
    # `global X` inside a function: X may be rebound at run time
    for sub in ast.walk(sf.tree):
        if isinstance(sub, ast.Global):
            sf.ambiguous.update(sub.names)
    sf.ambiguous.update(n for n, c in seen.items() if c > 1)
    sf.ambiguous.update(n for n in mutated if isinstance(sf.bindings.get(n), (ast.Assign, ast.AnnAssign)))


# The editor's unsaved text of a file, or None to read the disk (see Interp.buffers).
Buffers = Callable[[str], "str | None"]


def read(path: str, modname: str, buffers: Buffers | None = None) -> SourceFile | None:
    try:
        text = buffers(path) if buffers is not None else None
        if text is None:
            text = read_source(path, errors="strict")  # a regular file within the size limit only
        return parse(path, text, modname)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def find_module(dotted: str, level: int, from_file: str, root: str,
                probed: list[str] | None = None, extra: list[str] | tuple = ()) -> tuple[str, str] | None:
    """The file a workspace import refers to, with its module name; None if not in the workspace.
    `probed` collects every path looked at, so a cached answer can tell when one appears."""
    parts = [p for p in dotted.split(".") if p]
    if level:
        base = os.path.dirname(from_file)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        bases = [base]
    else:
        bases = [os.path.dirname(from_file), root, *extra]  # (extra: Recipe.import_dirs)
    for base in bases:
        stem = os.path.join(base, *parts) if parts else base
        for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
            if probed is not None:
                probed.append(candidate)
            if parts and os.path.isfile(candidate):
                return candidate, _modname(candidate, root)
            if not parts and candidate.endswith("__init__.py") and os.path.isfile(candidate):
                return candidate, _modname(candidate, root)
    return None


def fingerprint(path: str, buffers: Buffers | None = None) -> tuple | None:
    """What a cached answer read of a file: the digest of the editor's unsaved text, else
    (mtime_ns, size) on disk; None when there is no such file."""
    text = buffers(path) if buffers is not None else None
    if text is not None:
        return ("buffer", hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def module_name(path: str, root: str) -> str:
    """The dotted name a workspace file is imported by, as find_module gives it."""
    return _modname(path, root)


def _modname(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        rel = os.path.basename(path)
    rel = rel[:-3] if rel.endswith(".py") else rel
    parts = rel.replace(os.sep, "/").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)
