"""Lightning's `Model.load_from_checkpoint(path, **overrides)` of a workspace LightningModule,
judged as Lightning 2.x runs it (`lightning.pytorch.core.saving._load_state`): the model is made
as `Model(**{**ckpt["hyper_parameters"], **overrides})` (keywords its `__init__` does not take
are dropped unless it takes `**kwargs`), then `model.load_state_dict(ckpt["state_dict"],
strict=strict)`, strict True unless given. What Lightning would run of the user's own code on
the way (`on_load_checkpoint`, `configure_model`, an own `load_state_dict`, `strict_loading`),
hyper-parameters saved as one argument (`hparams_name`) or read from an `hparams_file` leave
the model unresolved, said."""

from __future__ import annotations

import ast
import copy
from typing import Any

from weightmatch import config_data, recipe_literals
from weightmatch.values import ClassVal, Const, LoadedFile, Op, SourceVal, Unknown

LIGHTNING_MODULES = {"pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule",
                     "pytorch_lightning.core.module.LightningModule", "lightning.LightningModule",
                     "lightning.pytorch.LightningModule", "lightning.pytorch.core.LightningModule",
                     "lightning.pytorch.core.module.LightningModule"}
_OWN_KEYWORDS = ("checkpoint_path", "map_location", "hparams_file", "strict", "weights_only")
# methods and attributes of the user's class Lightning calls or reads while it loads
_HOOKS = ("on_load_checkpoint", "configure_model", "load_state_dict", "strict_loading", "_strict_loading")


class LightningLoadsMixin:
    """Needs `ev`, `pf`, `class_chain`, `concrete`, `new_model`, `call_memo` (the Interpreter)."""

    def lightning_load(self, node: ast.Call, env: dict) -> Any:
        """The model `Model.load_from_checkpoint(...)` gives, with the checkpoint it reads and the
        `strict` it loads with; None when `Model` is not a workspace LightningModule."""
        memo = self.call_memo[-1] if self.call_memo else {}
        key = ("lightning", id(node), id(env))
        if key in memo:
            return memo[key]
        cls = self.ev(node.func.value, env)
        if not (isinstance(cls, ClassVal) and self._is_lightning(cls)):
            return None
        memo[key] = made = self._lightning_made(node, cls, env)
        return made

    def _lightning_made(self, node: ast.Call, cls: ClassVal, env: dict) -> tuple[Any, SourceVal, Any]:
        what = f"`{self.pf.segment(node)}`"
        kwargs = {k.arg: k.value for k in node.keywords}
        path_node = node.args[0] if node.args else kwargs.get("checkpoint_path")
        weights = self.ev(kwargs["weights_only"], env) if "weights_only" in kwargs else None
        loaded = SourceVal(LoadedFile(self.ev(path_node, env) if path_node is not None else Unknown(
            f"{what} names no checkpoint"), node, self.pf, "torch",
            bool(weights.value) if isinstance(weights, Const) else None))
        strict = self.ev(kwargs["strict"], env) if "strict" in kwargs else \
            self.ev(node.args[3], env) if len(node.args) > 3 else Const(True)
        state_dict = loaded.derive(Op("subscript", Const("state_dict"), node))
        return self._lightning_model(node, cls, loaded, env, what), state_dict, strict

    def _lightning_model(self, node: ast.Call, cls: ClassVal, loaded: SourceVal, env: dict, what: str) -> Any:
        if len(node.args) > 1 or any(k.arg is None for k in node.keywords) or any(
                k.arg == "hparams_file" for k in node.keywords):
            return Unknown(f"{what}: the hyper-parameters it passes are not known statically")
        hook = next((h for c in self.class_chain(cls) for h in _HOOKS if _defines(c.node, h)), None)
        if hook is not None:
            return Unknown(f"{what}: Lightning runs `{cls.node.name}.{hook}` while it loads, not followed statically")
        top = self.concrete(loaded, raw=True)
        if isinstance(top, Unknown):
            return Unknown(f"{what}: the hyper-parameters saved in the checkpoint are not known ({top.reason})")
        init = _init_parameters(self.class_chain(cls))
        if not isinstance(top, dict) or top.get("hparams_name") in (init or ()) or \
                top.get("hparams_type", "dict") != "dict":
            return Unknown(f"{what}: the checkpoint's hyper-parameters are not saved as keywords")
        saved: dict = {}
        for key in ("hparams", "module_arguments", "hyper_parameters") if "hyper_parameters" in top else ():
            part = config_data.plain_data(top.get(key, {}))  # (older Lightning's keys first, as it merges them)
            if not (isinstance(part, dict) and all(isinstance(k, str) for k in part)):
                return Unknown(f"{what}: the checkpoint's hyper-parameters are not plain data")
            saved.update(part)
        overrides, notes = {}, ["hyper-parameters read from the checkpoint"]
        for k in node.keywords:
            if k.arg in _OWN_KEYWORDS:
                continue
            value = config_data.data_of(self, self.ev(k.value, env))
            if not isinstance(value, Const):
                return Unknown(f"{what}: `{k.arg}=` is not known statically")
            overrides[k.arg] = value.value
            notes += [n for n in value.origin.split("; ") if n and n not in notes]
        merged = {**saved, **overrides}
        if init is not None:  # (an `__init__` without `**kwargs` is given only what it takes)
            merged = {k: v for k, v in merged.items() if k in init}
        literal = recipe_literals.literal(Const(merged))
        if literal is None:
            return Unknown(f"{what}: the checkpoint's hyper-parameters are not plain data")
        # the call Lightning makes, where the user wrote the load (its messages quote that line)
        made = ast.copy_location(ast.Call(node.func.value, [], [ast.keyword(None, literal)]), node)
        model = self.new_model(made, env, cls)
        # (written out as the call above, never as the source text at its position)
        model.subs.by_span.setdefault(_span(node.func.value), copy.deepcopy(node.func.value))
        model.subs.notes.extend(n for n in notes if n not in model.subs.notes)
        return model

    def _is_lightning(self, cls: ClassVal) -> bool:
        return any((c.file.dotted(b) or "") in LIGHTNING_MODULES for c in self.class_chain(cls) for b in c.node.bases)


def _defines(node: ast.ClassDef, name: str) -> bool:
    """The class body defines `name`, or a method sets `self.<name>`."""
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
            return True
        if isinstance(n, (ast.Assign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(isinstance(t, ast.Name) and t.id == name or isinstance(t, ast.Attribute) and t.attr == name
                   for t in targets):
                return True
    return False


def _init_parameters(chain: list[ClassVal]) -> set[str] | None:
    """The named parameters of the first `__init__` of the chain (not `self`, `*args`,
    `**kwargs`); None when it takes `**kwargs` (or the class has none of its own:
    LightningModule's takes anything)."""
    for c in chain:
        init = next((n for n in c.node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is not None:
            a = init.args
            return None if a.kwarg is not None else {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs][1:]}
    return None


def _span(n: ast.AST) -> tuple[int, int, int, int]:
    return n.lineno, n.col_offset, n.end_lineno, n.end_col_offset  # type: ignore[attr-defined]
