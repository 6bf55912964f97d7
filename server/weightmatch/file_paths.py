"""Files and paths as the script names them: `open`, `json.load(s)`, `os.path.*`, `pathlib.Path`,
a file's text read as data (a label file), and a file's bytes handed to `io.BytesIO` (the file
itself, for `torch.load`). Paths are strings, joined and normalized as POSIX paths."""

from __future__ import annotations

import ast
import json
import os
import posixpath
from typing import Any

from weightmatch import config_data, disk_paths
from weightmatch.values import Const, FileHandle, JsonFile, PathStr, Unknown, origins


def call(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """A call of the file and path functions; None for others (and for uses not followed here)."""
    return _path_call(ev, dotted, node, env) if dotted.startswith(("os.", "pathlib.", "posixpath.", "str")) \
        and dotted != "os.listdir" else _file_call(ev, dotted, node, env)


def _file_call(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    args = node.args
    if dotted in ("open", "builtins.open", "io.open") and args:
        mode = ev.ev(args[1] if len(args) > 1 else _kw(node, "mode"), env) if len(args) > 1 or _kw(node, "mode") \
            else Const("r")
        text = isinstance(mode, Const) and isinstance(mode.value, str) and "b" not in mode.value
        return FileHandle(ev.ev(args[0], env), text)
    if dotted in ("sys.path.insert", "sys.path.append") and len(args) == (2 if dotted.endswith("insert") else 1):
        folder = ev.ev(args[-1], env)  # a folder later imports find modules in (mmcv's config import)
        if isinstance(folder, Const) and isinstance(folder.value, str):
            ev.import_dirs.append(folder.value)
        return Const(None)
    if dotted == "json.load" and len(args) == 1:
        handle = ev.ev(args[0], env)
        if isinstance(handle, FileHandle):
            return JsonFile(handle.path)
    if dotted == "json.loads" and len(args) == 1 and not isinstance(args[0], ast.Call):
        text = ev.ev(args[0], env)
        if isinstance(text, Const) and isinstance(text.value, str) and len(text.value) < config_data.MAX_DATA_FILE:
            try:
                return Const(json.loads(text.value))
            except ValueError:
                return Unknown(f"`{ev.pf.segment(node)}` raises")
        return Unknown(f"`{ev.pf.segment(node)}` is not known statically")
    if dotted == "json.loads" and len(args) == 1 and isinstance(args[0], ast.Call) \
            and isinstance(args[0].func, ast.Attribute) and args[0].func.attr in ("read_text", "read_bytes", "read"):
        owner = ev.ev(args[0].func.value, env)  # json.loads(Path(p).read_text()) / (open(p).read())
        return JsonFile(owner.path if isinstance(owner, FileHandle) else owner)
    if dotted in ("glob.glob", "glob.iglob") and len(args) == 1:
        recursive = _kw(node, "recursive")
        flag = ev.ev(recursive, env) if recursive is not None else Const(False)
        if isinstance(flag, Const) and len(node.keywords) == (recursive is not None):
            return disk_paths.glob(ev, ev.ev(args[0], env), bool(flag.value))
        return None
    if dotted == "os.listdir" and len(args) <= 1 and not node.keywords:
        made = disk_paths.listdir(ev, ev.ev(args[0], env) if args else Const("."))
        return made if made is not None else Unknown(f"`{ev.pf.segment(node)}` is known when the script runs")
    if dotted == "io.BytesIO" and len(args) == 1 and not node.keywords:
        data = ev.ev(args[0], env)  # `torch.load(io.BytesIO(data))` of a file's bytes: that file
        if isinstance(data, FileHandle):
            return data
    return None


def _path_call(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    args = node.args
    if dotted in ("os.path.isfile", "os.path.exists", "os.path.isdir") and len(args) == 1:
        path = ev.ev(args[0], env)
        if isinstance(path, Const) and path.value == "":
            return Const(False, path.origin)  # `--pretrained_weights ''`, the usual "not given": never a file
        found = disk_paths.exists(ev, dotted, path)
        return found if found is not None else Unknown(f"`{ev.pf.segment(node)}` is known when the script runs")
    if dotted in ("os.getcwd", "pathlib.Path.cwd") and not args:
        return disk_paths.cwd(ev)
    if dotted in ("os.path.relpath", "posixpath.relpath") and len(args) in (1, 2):
        parts = [ev.ev(a, env) for a in args] if len(args) == 2 else [ev.ev(args[0], env), disk_paths.cwd(ev)]
        if all(isinstance(p, Const) and isinstance(p.value, str) for p in parts):
            return Const(posixpath.relpath(parts[0].value, parts[1].value), origins(parts))
        return next((p for p in parts if isinstance(p, Unknown)), None) or Unknown(f"`{ev.pf.segment(node)}` is not known")
    if dotted == "os.path.getmtime" and len(args) == 1:
        return disk_paths.getmtime(ev, ev.ev(args[0], env))

    if dotted in ("pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "os.path.join", "posixpath.join"):
        parts = [ev.ev(a, env) for a in args]
        # (`os.path.join()` with nothing to join raises TypeError)
        if all(isinstance(p, Const) and isinstance(p.value, str) for p in parts) and (parts or dotted.startswith("pathlib.")):
            joined = posixpath.join(*[p.value for p in parts]) if parts else "."
            return Const(PathStr(joined) if dotted.startswith("pathlib.") else joined)
        return Unknown(f"`{ev.pf.segment(node)}` is not known")
    if dotted in ("os.path.isabs", "posixpath.isabs") and len(args) == 1:
        inner = ev.ev(args[0], env)
        if isinstance(inner, Const) and isinstance(inner.value, str):
            return Const(posixpath.isabs(inner.value), inner.origin)
        return inner if isinstance(inner, Unknown) else Unknown("not a path")
    if dotted in ("os.path.split", "os.path.splitext") and len(args) == 1:
        inner = ev.ev(args[0], env)  # mmcv's `osp.split(osp.abspath(filename))`
        if isinstance(inner, Const) and isinstance(inner.value, str):
            fn = posixpath.split if dotted == "os.path.split" else posixpath.splitext
            return Const(fn(inner.value), inner.origin)
        return inner if isinstance(inner, Unknown) else Unknown("not a path")
    if dotted in ("os.path.dirname", "os.path.abspath", "os.path.realpath", "os.path.expanduser",
                  "os.path.basename", "os.path.normpath", "str", "os.fspath") and len(args) == 1:
        inner = ev.ev(args[0], env)
        if isinstance(inner, Const) and isinstance(inner.value, str):
            fn = {"os.path.dirname": posixpath.dirname, "os.path.basename": posixpath.basename,
                  "os.path.expanduser": os.path.expanduser, "os.path.normpath": posixpath.normpath}.get(dotted)
            return Const(fn(inner.value) if fn else str(inner.value))  # (`str(path)`: a string, no Path)
        return inner if isinstance(inner, Unknown) else Unknown("not a path")
    return None


def method(ev, owner: Any, attr: str, args: list, env: dict | None = None) -> Any:
    """`f.read()`, `f.readlines()`, `Path(p).read_text()`; None for other methods."""
    if isinstance(owner, FileHandle):
        if owner.used and attr not in ("close", "fileno"):
            return Unknown("a file read from before: what is left in it is not followed")
        owner.used = owner.used or attr not in ("close", "fileno")
    if isinstance(owner, FileHandle) and owner.text and attr in ("read", "readlines") and not args:
        read = config_data.read_data(ev, JsonFile(owner.path, "text"))  # `open("labels.txt").read()`
        if attr == "readlines" and isinstance(read, Const):
            return Const(read.value.splitlines(keepends=True), read.origin)
        return read
    if isinstance(owner, FileHandle) and not owner.text and attr == "read" and not args:
        return owner  # `open(p, "rb").read()`: the file's bytes, never read here, for `io.BytesIO(data)`
    if isinstance(owner, Const) and isinstance(owner.value, str) and attr == "read_text" and not args:
        return config_data.read_data(ev, JsonFile(owner, "text"))  # `Path("labels.txt").read_text()`
    if isinstance(owner, Const) and isinstance(owner.value, str) and attr in ("exists", "is_file", "is_dir") \
            and not args:
        return disk_paths.exists(ev, attr, owner)  # `Path(p).exists()`
    if isinstance(owner, Const) and isinstance(owner.value, str) and attr in ("glob", "rglob") and len(args) == 1 \
            and env is not None:
        pattern = ev.ev(args[0], env)
        if not (isinstance(pattern, Const) and isinstance(pattern.value, str)):
            return None
        pattern = posixpath.join(owner.value, "**", pattern.value) if attr == "rglob" else \
            posixpath.join(owner.value, pattern.value)  # `Path(out_dir).glob("ckpt_*.pt")`
        return disk_paths.glob(ev, Const(pattern, owner.origin), recursive=attr == "rglob")
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)
