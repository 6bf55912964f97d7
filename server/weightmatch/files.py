"""Which files `weightmatch check` reads: the configuration's include/exclude and .gitignore.

Patterns are gitignore-style (matched with `pathspec`, which implements git's own
wildmatch rules) relative to the configuration file's folder. Folders are walked in
sorted order; virtual environments, caches and hidden folders are always skipped, as
are files a `.gitignore` ignores (`respect-gitignore = false` turns that off). A file
named on the command line is checked even when excluded, unless `force_exclude`
(what the pre-commit hook passes, as Ruff's does).
"""

from __future__ import annotations

import os
from functools import lru_cache

import pathspec

from weightmatch.config_file import FileConfig

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages",
             ".tox", ".nox", ".mypy_cache", ".pytest_cache", "build", "dist", ".e2e"}
SOURCE_SUFFIXES = (".py", ".ipynb")  # notebooks: see notebook.py


class Selector:
    def __init__(self, config: FileConfig, cwd: str | None = None):
        self.base = config.base or os.path.abspath(cwd or os.getcwd())
        self.include = pathspec.GitIgnoreSpec.from_lines(config.include) if config.include else None
        self.exclude = pathspec.GitIgnoreSpec.from_lines(config.exclude)
        self.gitignore = config.respect_gitignore

    def _rel(self, path: str, is_dir: bool) -> str | None:
        rel = os.path.relpath(path, self.base)
        if rel.startswith(".."):
            return None
        rel = rel.replace(os.sep, "/")
        return rel + "/" if is_dir else rel

    def excluded(self, path: str, is_dir: bool) -> bool:
        rel = self._rel(path, is_dir)
        if rel is not None and rel != "./" and self.exclude.match_file(rel):
            return True
        return self.gitignore and _git_ignored(os.path.abspath(path), is_dir, self.base)

    def included(self, path: str) -> bool:
        if not path.endswith(SOURCE_SUFFIXES):
            return False
        if self.include is None:
            return True
        rel = self._rel(path, False)
        return rel is not None and self.include.match_file(rel)

    def files(self, paths: list[str], force_exclude: bool = False) -> list[str]:
        out: list[str] = []
        for p in paths:
            if os.path.isfile(p):
                # Named on the command line: checked (if it is Python or a notebook) unless force_exclude
                # and it, or a folder above it, is excluded.
                full = os.path.abspath(p)
                if full.endswith(SOURCE_SUFFIXES) and not (force_exclude and self._excluded_with_parents(full)):
                    out.append(full)
                continue
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                                     and not self.excluded(os.path.join(dirpath, d), True))
                for name in sorted(filenames):
                    full = os.path.abspath(os.path.join(dirpath, name))
                    if self.included(full) and not self.excluded(full, False):
                        out.append(full)
        return list(dict.fromkeys(out))

    def _excluded_with_parents(self, path: str) -> bool:
        if self.excluded(path, False):
            return True
        folder = os.path.dirname(path)
        while len(folder) > len(self.base) and folder.startswith(self.base):
            if self.excluded(folder, True):
                return True
            folder = os.path.dirname(folder)
        return False


def _git_ignored(path: str, is_dir: bool, base: str) -> bool:
    """Whether the .gitignore files from `path`'s repository root (outside a repository:
    from `base`) down to its folder ignore it: the deepest file with a matching pattern
    decides, as git does."""
    folder = os.path.dirname(path)
    chain = []
    while True:
        chain.append(folder)
        if os.path.exists(os.path.join(folder, ".git")):
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            chain = [f for f in chain if f == base or f.startswith(base.rstrip(os.sep) + os.sep)]
            break
        folder = parent
    for folder in chain:  # deepest first
        spec = _gitignore(folder)
        if spec is None:
            continue
        rel = os.path.relpath(path, folder).replace(os.sep, "/") + ("/" if is_dir else "")
        result = spec.check_file(rel)
        if result.include is not None:
            return bool(result.include)
    return False


@lru_cache(maxsize=512)
def _gitignore(folder: str) -> pathspec.GitIgnoreSpec | None:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            return pathspec.GitIgnoreSpec.from_lines(fh.read().splitlines())
    except OSError:
        return None
