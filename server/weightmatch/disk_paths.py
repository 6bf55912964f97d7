"""What the run finds on disk: `os.path.exists(p)` / `isfile` / `isdir` (HF's `.safetensors` or
`.bin`, detectron2's `has_checkpoint()`), `glob.glob(pattern)` and `Path(d).glob(pattern)` (the
newest checkpoint: `sorted(glob(...))[-1]`), `os.path.getmtime(p)`. Answered from the files as they
are now, looked up where a checkpoint is (the run's folder, then the project root, then next to
the script: `data_path`), and said as an assumption (`with w.safetensors present`). A file the run
itself writes first with `torch.save` exists; after a `torch.save` whose path is not known,
nothing is answered."""

from __future__ import annotations

import ast
import fnmatch
import glob as globbing
import os
from typing import Any

from weightmatch.values import Const, Unknown

_CHECKS = {"os.path.exists": os.path.exists, "os.path.isfile": os.path.isfile, "os.path.isdir": os.path.isdir,
           "exists": os.path.exists, "is_file": os.path.isfile, "is_dir": os.path.isdir}
MAX_MATCHES = 10_000


def _folders(ev) -> list[str]:
    """Where a relative path is looked up, as for a checkpoint (workspace_modules.data_path)."""
    return [d for d in (getattr(ev, "cwd", None), getattr(ev, "root", None), os.path.dirname(ev.pf.path))
            if d and os.path.isdir(d)]


def cwd(ev) -> Any:
    """`os.getcwd()` / `Path.cwd()`: the folder the script is run in (a run configuration's, else
    the project root, as relative checkpoint paths assume)."""
    folder = getattr(ev, "cwd", None) or getattr(ev, "root", None)
    if not folder or not os.path.isabs(folder) or not os.path.isdir(folder):
        return Unknown("the folder the script is run in is not known")
    said = "the run configuration's folder" if getattr(ev, "cwd", None) else "the project root"
    return Const(folder, f"run from {said}")


def _after_unknown_save(ev) -> bool:
    """A `torch.save` of a path not known ran before: it may have made any file."""
    return bool(getattr(ev, "unknown_saves", None))


def _candidates(ev, p: str) -> list[str]:
    """Where the run may find `p`: itself when absolute, else under each folder `_folders` gives."""
    return [p] if os.path.isabs(p) else [os.path.join(d, p) for d in _folders(ev)]


def _stat(ev, p: str, stat, what: str) -> Any:
    """`stat(p)` (getmtime, getsize) of the file the run finds, else why it is not known."""
    if p in getattr(ev, "saved", {}) or _after_unknown_save(ev):
        return Unknown(f"the time {p} is written is known when the script runs")
    full = next((c for c in _candidates(ev, p) if os.path.exists(c)), None)
    if full is None:
        return Unknown(f"{p} does not exist ({what} raises)")
    return Const(stat(full), f"{p} as it is now")


def exists(ev, check: str, path: Any) -> Any:
    """`os.path.exists(path)` (or isfile / isdir, or Path's methods) as the run finds it."""
    if not (isinstance(path, Const) and isinstance(path.value, str)):
        return None
    p = os.path.expanduser(path.value)
    if check not in ("os.path.isdir", "is_dir") and p in getattr(ev, "saved", {}):
        return Const(True, f"{p} written by the script first")
    if _after_unknown_save(ev):
        return Unknown(f"whether {p} exists is known when the script runs (a `torch.save` before may write it)")
    test = _CHECKS[check]
    candidates = _candidates(ev, p)
    for full in candidates:
        if test(full):
            ev.read_files.add(os.path.normpath(full))  # (a dependency: the answer changes with it)
            return Const(True, f"{p} present")
    if candidates:
        ev.read_files.add(os.path.normpath(candidates[0]))  # (watched: the answer changes when it appears)
    there = next((full for full in candidates if os.path.exists(full)), None)
    if there is not None:  # isfile of a folder, isdir of a file
        return Const(False, f"{p} being {'a folder' if os.path.isdir(there) else 'a file'}")
    return Const(False, f"{p} absent")


def glob(ev, pattern: Any, recursive: bool = False) -> Any:
    """`glob.glob(pattern)`: the paths the run gets, in the form the pattern gives them."""
    if not (isinstance(pattern, Const) and isinstance(pattern.value, str)):
        return None
    if _after_unknown_save(ev):
        return Unknown(f"the files matching {pattern.value} are known when the script runs "
                       "(a `torch.save` before may write one)")
    p = os.path.expanduser(pattern.value)
    folder = None if os.path.isabs(p) else next(iter(_folders(ev)), None)
    if not os.path.isabs(p) and folder is None:
        return None
    found = globbing.glob(p, root_dir=folder, recursive=recursive)
    parts = p.split("/")
    fixed = "/".join(parts[:next(i for i, part in enumerate(parts) if globbing.has_magic(part) or i == len(parts) - 1)])
    # (a dependency: a folder's time changes when a file is added to it or removed)
    ev.read_files.add(os.path.normpath(os.path.join(folder or "/", fixed) if fixed else folder or "/"))
    saved = [s for s in getattr(ev, "saved", {}) if fnmatch.fnmatch(s, p) and s not in found]
    if len(found) + len(saved) > MAX_MATCHES:
        return Unknown(f"{pattern.value} matches too many files to follow")
    what = f"the files matching {pattern.value} as they are now"
    return Const([*found, *saved], what)


def listdir(ev, path: Any) -> Any:
    """`os.listdir(d)`: the names in the folder the run finds (in the order the file system
    gives them, as the run on this machine gets them), the files the script saved there too."""
    if not (isinstance(path, Const) and isinstance(path.value, str)):
        return None
    if _after_unknown_save(ev):
        return Unknown(f"the files in {path.value} are known when the script runs (a `torch.save` before may write one)")
    p = os.path.expanduser(path.value)
    full = next((c for c in _candidates(ev, p) if os.path.isdir(c)), None)
    if full is None:
        return Unknown(f"{path.value} is not a folder here (`os.listdir` raises)")
    ev.read_files.add(os.path.normpath(full))  # (a dependency: the folder's time changes with its files)
    names = os.listdir(full)
    saved = [os.path.basename(s) for s in getattr(ev, "saved", {})
             if os.path.normpath(os.path.dirname(s) or ".") == os.path.normpath(p) and os.path.basename(s) not in names]
    if len(names) + len(saved) > MAX_MATCHES:
        return Unknown(f"{path.value} holds too many files to follow")
    return Const([*names, *saved], f"the files in {path.value} as they are now")


def getmtime(ev, path: Any) -> Any:
    """`os.path.getmtime(p)` of a file there now (max(..., key=os.path.getmtime): the newest)."""
    if not (isinstance(path, Const) and isinstance(path.value, str)):
        return None
    return _stat(ev, os.path.expanduser(path.value), os.path.getmtime, "os.path.getmtime")


_FILE_KEYS = {"os.path.getmtime": os.path.getmtime, "os.path.getctime": os.path.getctime,
              "os.path.getsize": os.path.getsize}


def by_file_key(ev, dotted: str, node: Any, env: dict) -> Any:
    """`max(paths, key=os.path.getmtime)` (the newest checkpoint), `min`, `sorted`; None when the
    key is no such function."""
    key = next((k.value for k in node.keywords if k.arg == "key"), None)
    stat = _FILE_KEYS.get(ev.pf.dotted(key) or "") if key is not None else None
    if stat is None or len(node.args) != 1 or len(node.keywords) != 1:
        return None
    paths = ev.ev(node.args[0], env)
    if not (isinstance(paths, Const) and isinstance(paths.value, (list, tuple))
            and all(isinstance(p, str) for p in paths.value)):
        return None
    keys = []
    for p in paths.value:
        known = _stat(ev, p, stat, ev.pf.dotted(key))
        if not isinstance(known, Const):
            return known
        keys.append(known.value)
    if not paths.value and dotted != "sorted":
        return Unknown(f"`{ev.pf.segment(node)}` raises ValueError (no file matches)")
    order = sorted(range(len(keys)), key=keys.__getitem__)
    chosen = [paths.value[i] for i in order]
    origin = f"{paths.origin or 'the files'} by {ev.pf.dotted(key).rsplit('.', 1)[-1]}"
    if dotted == "sorted":
        return Const(chosen, origin)
    return Const(chosen[-1] if dotted == "max" else chosen[0], origin)


_FILE_ERRORS = {"IOError", "OSError", "FileNotFoundError", "EnvironmentError"}
# what reading a text file that is there does besides `open` (none of them raises an OSError)
_READING = {"read", "readline", "readlines", "strip", "rstrip", "lstrip", "split", "splitlines", "decode",
            "json.load", "yaml.safe_load", "int", "str", "float", "len"}


def reads_files_there(ev, stmt: Any, env: dict) -> bool:
    """A `try` whose handlers catch only file errors (fvcore's `get_checkpoint_file`: `except
    IOError: return ""`) around a body that only opens files that are there and reads them (or
    calls nothing): the handlers do not run."""
    handled = [ev.pf.dotted(t) or "" for h in stmt.handlers
               for t in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type])] if stmt.handlers else []
    if not handled or not all(name in _FILE_ERRORS or name == "UnicodeDecodeError" for name in handled):
        return False
    decoding = "UnicodeDecodeError" in handled
    for node in (n for s in stmt.body for n in ast.walk(s)):
        if not isinstance(node, ast.Call):
            continue
        dotted = ev.pf.dotted(node.func) or ""
        if decoding:
            # torchreid's `try: torch.load(fpath) except UnicodeDecodeError: <the same, encoding="latin1">`:
            # a checkpoint that is there and that the reader decodes (else the load says why) does not raise it
            found = exists(ev, "os.path.isfile", ev.ev(node.args[0], env)) if dotted in ("torch.load",) \
                and node.args else None
            if not (isinstance(found, Const) and found.value is True):
                return False
            continue
        name = dotted if dotted in _READING or dotted in ("open", "io.open") or not isinstance(node.func, ast.Attribute) \
            else node.func.attr  # (a method of the file or of its text)
        if name in ("open", "io.open") and node.args and not node.keywords[1:]:
            mode = ev.ev(node.args[1], env) if len(node.args) > 1 else Const("r")
            found = exists(ev, "os.path.isfile", ev.ev(node.args[0], env))
            if not (isinstance(mode, Const) and mode.value in ("r", "rt", "rb") and isinstance(found, Const)
                    and found.value is True):
                return False
        elif name not in _READING:
            return False
    return True
