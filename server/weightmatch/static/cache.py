"""Static answers cached by what they depend on.

An answer depends on the script's statements, not on where they sit (a comment, a blank
line or an edit in the training loop cannot change a model), and on the workspace files
its imports read or looked for. Two keys:

- exact: the recipe with the script's whole text. Answers and failures; a failure's
  message (it names line numbers) is exact.
- shape: the recipe with the script's AST dumped without positions. Answers (they hold
  no positions) and failures whose message may name an old line; such a failure is good
  to go straight to the worker with, not to show (`lookup(exact=True)` skips them).

Every entry keeps the fingerprints of the files it read or probed: a changed, new or
deleted one drops it.
"""

from __future__ import annotations

import ast
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..types import ExpectedState, Recipe
from . import sources
from .values import StaticUnsupported

Deps = dict[str, "tuple | None"]


@dataclass
class _Entry:
    result: ExpectedState | StaticUnsupported
    deps: Deps

    def fresh(self, buffers: sources.Buffers | None) -> bool:
        return all(sources.fingerprint(path, buffers) == fp for path, fp in self.deps.items())


class StaticCache:
    def __init__(self, limit: int = 256) -> None:
        self._limit = limit
        self._exact: OrderedDict[str, _Entry] = OrderedDict()
        self._shape: OrderedDict[str, _Entry] = OrderedDict()
        self._dumps: OrderedDict[str, str] = OrderedDict()  # source hash -> AST dump hash
        self._lock = threading.Lock()

    def lookup(self, recipe: Recipe, exact: bool = False, buffers: sources.Buffers | None = None
               ) -> tuple[ExpectedState | StaticUnsupported, Deps] | None:
        """The cached answer or failure and the files it read, or None. exact: only failures
        with exact messages. buffers: the editor's unsaved texts, which fingerprints are checked against."""
        keys = [(self._exact, recipe.cache_key())]
        shape = self._shape_key(recipe)
        if shape:
            keys.append((self._shape, shape))
        for table, key in keys:
            with self._lock:
                entry = table.get(key)
            if entry is None:
                continue
            if not entry.fresh(buffers):
                with self._lock:
                    table.pop(key, None)
                continue
            if exact and table is self._shape and isinstance(entry.result, StaticUnsupported):
                continue
            return entry.result, entry.deps
        return None

    def store(self, recipe: Recipe, result: ExpectedState | StaticUnsupported, deps: Deps) -> None:
        entry = _Entry(result, dict(deps))
        shape = self._shape_key(recipe)
        with self._lock:
            self._put(self._exact, recipe.cache_key(), entry)
            if shape:
                self._put(self._shape, shape, entry)

    def _put(self, table: OrderedDict, key: str, entry: _Entry) -> None:
        table[key] = entry
        table.move_to_end(key)
        while len(table) > self._limit:  # editors make a new recipe per keystroke
            table.popitem(last=False)

    def _shape_key(self, recipe: Recipe) -> str | None:
        source_key = hashlib.sha256(recipe.source.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            dumped = self._dumps.get(source_key)
        if dumped is None:
            try:
                tree = sources.parse(recipe.file, recipe.source, "__main__").tree
                dumped = hashlib.sha256(ast.dump(tree).encode("utf-8", "surrogatepass")).hexdigest()
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                dumped = ""
            with self._lock:
                self._put(self._dumps, source_key, dumped)
        if not dumped:
            return None
        return recipe.key_with(dumped, tag="shape")
