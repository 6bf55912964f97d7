"""build_static: a Recipe to an ExpectedState(how="static"), or StaticUnsupported."""

from __future__ import annotations

import ast
import os
import dataclasses

from weightmatch import parsing
from ..types import ExpectedState, ModuleSpec, Recipe, TensorInfo
from . import sources
from .interp import Interp
from .userdefs import Frame, _Break, _Continue, _Return
from .values import Module, StaticUnsupported, Unknown

NOTE = "inferred from the source without running it"


def build_static(recipe: Recipe, deps: dict | None = None, buffers: sources.Buffers | None = None) -> ExpectedState:
    """`deps`, when given, receives the fingerprint of every workspace file the answer read
    or looked for (see StaticCache), whether it succeeds or raises. `buffers`: the editor's
    unsaved text of a workspace file, or None to read it from disk."""
    try:
        return _build(recipe, deps, buffers)
    except StaticUnsupported:
        raise
    except (_Return, _Break, _Continue):
        raise StaticUnsupported("`return`/`break` outside a function or loop") from None
    except RecursionError:
        raise StaticUnsupported("the model nests too deeply to follow statically") from None
    except SyntaxError as e:
        raise StaticUnsupported(f"syntax error: {e.msg} (line {e.lineno})") from None


def _build(recipe: Recipe, deps: dict | None, buffers: sources.Buffers | None) -> ExpectedState:
    script = sources.parse(recipe.file, recipe.source, "__main__")
    interp = Interp(recipe.root, deps, buffers)
    for place in recipe.undecorated:
        path, _, line = place.rpartition(":")
        interp.undecorated.add((os.path.realpath(path), int(line)))
    interp.import_dirs = [d for d in recipe.import_dirs if os.path.isdir(d)]
    for path, names in recipe.registries.items():  # `MODELS`, as the decorators filled it
        known = interp.globals.setdefault(path + "\0" + sources.module_name(path, recipe.root), {})
        for name, text in names.items():
            snippet = _snippet(script, text)
            known[name] = interp.eval(snippet.tree.body[0].value, Frame(snippet, is_module=True))
    if recipe.script_globals:  # values the replay cannot compute (see Recipe.script_globals)
        known = interp.globals.setdefault(script.path + "\0" + script.modname, {})
        known.update({name: ast.literal_eval(text) for name, text in recipe.script_globals.items()})
    ctor = _snippet(script, recipe.constructor)
    frame = Frame(ctor, is_module=True)
    model = interp.eval(ctor.tree.body[0].value, frame)
    if not isinstance(model, Module):
        why = f": {model.reason}" if isinstance(model, Unknown) else ""
        raise StaticUnsupported(f"`{recipe.constructor}` is not a model known statically{why}")
    carried: dict = {}  # names a step binds for later ones (`num_ftrs = model.fc.in_features`)
    for step in recipe.steps:
        code = _snippet(script, step, mode="exec")
        frame = Frame(code, {**carried, recipe.var: model}, is_module=True)
        interp.exec_body(code.tree.body, frame)
        carried = dict(frame.locals)
        model = frame.locals.get(recipe.var)
        if not isinstance(model, Module):
            raise StaticUnsupported(f"after `{step}`, `{recipe.var}` is not a model known statically")
    modules: dict[str, ModuleSpec] = {}
    tied: dict[str, str] = {}
    _specs(model, "", modules, 0, {}, tied)
    return ExpectedState(modules, "static", model.name, [NOTE], tied=tied)


def _snippet(script: sources.SourceFile, text: str, mode: str = "eval") -> sources.SourceFile:
    """A recipe expression evaluated against the script's top-level names."""
    tree = parsing.parse(text.strip())
    if mode == "eval" and (len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr)):
        raise StaticUnsupported(f"`{text}` is not an expression")
    return dataclasses.replace(script, text=text.strip(), tree=tree, origin=script)


def _specs(m: Module, path: str, out: dict[str, ModuleSpec], depth: int, seen: dict[int, str],
           tied: dict[str, str]) -> None:
    """The specs of `m` and its submodules; `seen` (id of a parameter -> its first key) finds
    parameters held under two names, in state_dict order (`tied`)."""
    if depth > 200:
        raise StaticUnsupported("the model nests too deeply to follow statically")
    prefix = f"{path}." if path else ""
    for k, t in m.params.items():
        if t is not None:
            first = seen.setdefault(id(t), prefix + k)
            if first != prefix + k:
                tied[prefix + k] = first
    out[path] = ModuleSpec(
        path=path,
        type=m.type,
        params={k: TensorInfo(t.shape, t.dtype) for k, t in m.params.items() if t is not None},
        buffers={k: TensorInfo(t.shape, t.dtype) for k, t in m.buffers.items()
                 if t is not None and k not in m.non_persistent},
        children=list(m.modules),
        version=m.version,
        norm_fixup=m.norm_fixup,
        extra_state=m.extra_state,
        custom_load=m.custom_load,
        drops=m.drops,
        overrides_load=m.overrides_load,
        origin=m.origin,
        param_origins={k: t.origin for k, t in m.params.items() if t is not None and t.origin is not None},
    )
    for name, child in m.modules.items():
        if child is not None:
            _specs(child, f"{path}.{name}" if path else name, out, depth + 1, seen, tied)
