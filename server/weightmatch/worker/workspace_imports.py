"""The worker's import hook: workspace modules are found first (next to the script, then the
root, as `python script.py` finds them) and loaded with the definitions-only filter of
replay.py; any other module is imported the normal way."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import types
from typing import Any

from weightmatch.sourcefile import read_source
from weightmatch.worker.replay import Replay


class WorkspaceFinder(importlib.abc.MetaPathFinder):
    """Finds workspace modules first (next to the script, then the root, as `python
    script.py` would), and any module the normal path finder locates inside the
    workspace; loads them with the definitions-only filter."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        replay = self.replay
        if path is None:
            bases = [b for b in (replay.script_dir, replay.root, *replay.import_dirs) if b]
            spec = importlib.machinery.PathFinder.find_spec(name, list(dict.fromkeys(bases)))
            if spec is None:
                spec = importlib.machinery.PathFinder.find_spec(name)
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return None
        origin = spec.origin if spec.has_location else None
        locations = list(spec.submodule_search_locations or [])
        if origin and origin.endswith(".py") and replay.in_workspace(origin):
            loader = DefinitionsLoader(replay, origin)
            new = importlib.machinery.ModuleSpec(name, loader, origin=origin, is_package=bool(locations))
            new.has_location = True
            if locations:
                new.submodule_search_locations = locations
            return new
        if origin is None and locations and all(replay.in_workspace(p) for p in locations):
            return spec  # a namespace package folder: nothing runs
        return None  # not ours: let the normal machinery import it


class DefinitionsLoader(importlib.abc.Loader):
    def __init__(self, replay: Replay, path: str) -> None:
        self.replay = replay
        self.path = path

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        replay = self.replay
        replay.module_names.append(module.__name__)
        replay.files.append(self.path)
        replay.user_files.add(os.path.realpath(self.path))
        source = read_source(self.path)  # a regular file within the size limit only
        module.__file__ = self.path
        replay.exec_definitions(source, self.path, module.__dict__)
