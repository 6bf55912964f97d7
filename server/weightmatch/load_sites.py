"""Which `load_state_dict` calls are a model's (not an optimizer's, a scheduler's, a Trainer's
own), and what each one loads: the receiver, the argument, `strict` and `assign` as the
interpreter knows them where the call runs."""

from __future__ import annotations

import ast

from weightmatch.evaluate import ST_LOAD, TORCH_LOAD, NotModel, _kw, named_like_an_optimizer, names_not_a_model
from weightmatch import accelerate_calls, safetensors_load
from weightmatch.hub_cache import HUB_LOADS
from weightmatch.safetensors_load import LOAD_MODEL
from weightmatch.pyfile import PyFile
from weightmatch.values import (
    CURRENT_GUARDS, Const, FuncVal, LoadedFile, LoadSite, ModelAttr, ModelVal, ModVal, ObjVal, SourceVal, TorchLoadSite,
    Unknown, frozen,
)

# a class of a library (timm's `CosineLRScheduler`, `Lookahead` optimizers) whose load_state_dict is its own
NOT_MODEL_CLASS_ENDINGS = ("Scheduler", "Optimizer", "Scaler", "Lookahead")


class LoadSitesMixin:
    """Needs `ev`, `pf`, `recording`, `sites`, `torch_loads`, `contexts`, `call_value`, `class_attr`,
    `is_module_class`, `module_env` (the Interpreter)."""

    def find_loads(self, stmt: ast.stmt, env: dict) -> None:
        """Record every load_state_dict / torch.load call in this statement's own expressions."""
        if not self.recording:
            return
        for node in _load_calls(self.pf, stmt):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "load_state_dict" and \
                    (node.args or _kw(node, "state_dict")) and not self.not_a_model(func.value, env):
                override = self.override(func.value, env)
                if override is not None:  # the model's own load_state_dict: its super() call is the load
                    self.call_value(override, node, env)
                    continue
                self.sites.append(self.load_site(node, stmt, env))
            elif self.pf.dotted(func) in LOAD_MODEL:
                self.load_model_site(node, stmt, env)
            elif isinstance(func, ast.Attribute) and func.attr == "load_from_checkpoint":
                self.lightning_site(node, stmt, env)
            elif self.pf.dotted(func) in TORCH_LOAD | ST_LOAD | HUB_LOADS:
                loaded = self.ev(node, env)
                if isinstance(loaded, SourceVal) and isinstance(loaded.base, LoadedFile):
                    self.torch_loads.append(TorchLoadSite(loaded.base))

    def not_a_model(self, receiver: ast.expr, env: dict) -> bool:
        """Optimizers, schedulers and scalers have load_state_dict too; they are not our business."""
        value = self.ev(receiver, env)
        if isinstance(value, (NotModel, ObjVal, ModVal)):
            return True  # an optimizer, or a Trainer's own load_state_dict: not nn.Module's
        if isinstance(value, ModelVal) and value.cls is None and isinstance(value.call, ast.Call) and \
                (value.file.dotted(value.call.func) or "").rsplit(".", 1)[-1].endswith(NOT_MODEL_CLASS_ENDINGS):
            return True  # `CosineLRScheduler(...)` made by a library's factory: not a model
        if accelerate_calls.is_accelerator(value.model if isinstance(value, ModelAttr) else value):
            return True  # `self.accelerator.scaler.load_state_dict(...)`: Accelerate's, not a model's
        if isinstance(value, Unknown):
            if self.in_optimizer_class(receiver) or self.in_plain_class(receiver):
                return True  # `super().load_state_dict(sd)` in an Optimizer subclass (timm's Kron), a Trainer
            return named_like_an_optimizer(self.pf.segment(receiver) or "")
        return False

    def in_optimizer_class(self, receiver: ast.expr) -> bool:
        """`self` / `super()` inside a class that derives from an optimizer, scheduler or scaler."""
        if not (isinstance(receiver, ast.Name) and receiver.id == "self" or isinstance(receiver, ast.Call)
                and self.pf.dotted(receiver.func) == "super"):
            return False
        line = getattr(receiver, "lineno", 0)
        for info in self.pf.classes.values():
            if info.node.lineno <= line <= (info.node.end_lineno or 0) and any(names_not_a_model(b) for b in info.bases):
                return True
        return False

    def in_plain_class(self, receiver: ast.expr) -> bool:
        """`self` / `super()` in a method of a workspace class that is surely not an nn.Module
        (detectron2's `TrainerBase.load_state_dict`): its own load_state_dict, not a model's."""
        if not (isinstance(receiver, ast.Name) and receiver.id == "self" or isinstance(receiver, ast.Call)
                and self.pf.dotted(receiver.func) == "super"):
            return False
        line = getattr(receiver, "lineno", 0)
        inner = [info for info in self.pf.classes.values()
                 if info.node.lineno <= line <= (info.node.end_lineno or 0)]
        if not inner:
            return False
        innermost = max(inner, key=lambda info: info.node.lineno)
        return not self.is_module_class(innermost.node, self.module_env(self.pf))

    def override(self, receiver: ast.expr, env: dict):
        """A workspace model class's own `load_state_dict`, bound to the model; None for nn.Module's."""
        if isinstance(receiver, ast.Call) and self.pf.dotted(receiver.func) == "super":
            return None
        model = self.ev(receiver, env)
        if not isinstance(model, ModelVal) or model.cls is None:
            return None
        fn = self.class_attr(model.cls, "load_state_dict")
        return FuncVal(fn.file, fn.node, fn.owner, model) if isinstance(fn, FuncVal) else None

    def load_site(self, call: ast.Call, stmt: ast.stmt, env: dict) -> LoadSite:
        receiver = self.ev(call.func.value, env)  # (Python evaluates the receiver first)
        arg_node = call.args[0] if call.args else _kw(call, "state_dict")
        arg = frozen(self.ev(arg_node, env)) if arg_node is not None else Unknown("no state dict argument")
        strict_node = call.args[1] if len(call.args) > 1 else _kw(call, "strict")
        assign_node = call.args[2] if len(call.args) > 2 else _kw(call, "assign")
        assign = Const(False) if assign_node is None else self.ev(assign_node, env)
        via_super = isinstance(call.func.value, ast.Call) and self.pf.dotted(call.func.value.func) == "super"
        return self._site(call, stmt, env, receiver, arg, arg_node, strict_node, assign, via_super=via_super)

    def load_model_site(self, call: ast.Call, stmt: ast.stmt, env: dict) -> None:
        """`safetensors.torch.load_model(model, "model.safetensors", strict=...)`: the file read with
        load_file, loaded into the model (safetensors_load.py judges it)."""
        model_node, file_node, strict_node = safetensors_load.call_parts(call, _kw)
        if model_node is None or file_node is None or self.not_a_model(model_node, env):
            return
        receiver = self.ev(model_node, env)
        loaded = LoadedFile(self.ev(file_node, env), call, self.pf, "safetensors", None)
        self.torch_loads.append(TorchLoadSite(loaded))
        self.sites.append(self._site(call, stmt, env, receiver, SourceVal(loaded), file_node, strict_node,
                                     Const(False), api="safetensors"))

    def lightning_site(self, call: ast.Call, stmt: ast.stmt, env: dict) -> None:
        """`Model.load_from_checkpoint(path, ...)` of a workspace LightningModule (lightning_loads.py):
        the checkpoint read as torch.load reads it, its state dict loaded into the model made."""
        made = self.lightning_load(call, env)
        if made is None:
            return
        model, state_dict, strict = made
        self.torch_loads.append(TorchLoadSite(state_dict.loaded_file()))
        path_node = call.args[0] if call.args else _kw(call, "checkpoint_path")
        site = self._site(call, stmt, env, model, state_dict, path_node, None, Const(False), api="lightning")
        site.strict = strict
        self.sites.append(site)

    def _site(self, call: ast.Call, stmt: ast.stmt, env: dict, receiver, arg, arg_node, strict_node, assign,
              **extra) -> LoadSite:
        """One load of a model: the receiver as the interpreter knows it (a state dict or plain
        value is no model), `strict` at its default True, where and under which conditions it runs."""
        if isinstance(receiver, (SourceVal, Const, NotModel)):
            receiver = Unknown("the state dict is loaded into something that is not a model")
        strict = Const(True) if strict_node is None else self.ev(strict_node, env)
        return LoadSite(self.pf, call, frozen(receiver), arg, arg_node, strict, assign, stmt,
                        self.contexts[-1] if self.contexts else "", CURRENT_GUARDS.get(),
                        decided=tuple(self.decided), uncalled=self.uncalled_runs > 0, **extra)

    def load_calls(self, stmt: ast.stmt) -> list[ast.Call]:
        return _load_calls(self.pf, stmt)


def _load_calls(pf: PyFile, stmt: ast.stmt) -> list[ast.Call]:
    """The calls among a statement's own nodes that may load (`….load_state_dict(…)`, torch.load,
    load_file), found once per statement and file: a function's body is interpreted at every call."""
    cache = pf.__dict__.setdefault("_load_calls", {})
    hit = cache.get(id(stmt))
    if hit is None or hit[0] is not stmt:
        calls = [node for node in _own_nodes(stmt) if isinstance(node, ast.Call) and (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("load_state_dict", "load_from_checkpoint")
            or pf.dotted(node.func) in TORCH_LOAD | ST_LOAD | HUB_LOADS | LOAD_MODEL)]
        cache[id(stmt)] = hit = (stmt, calls)
    return hit[1]


def _own_nodes(stmt: ast.stmt):
    """Nodes of a statement's own expressions, not those of nested blocks or functions."""
    stack: list[ast.AST] = []
    for fname, value in ast.iter_fields(stmt):
        if fname in ("body", "orelse", "finalbody", "handlers"):
            continue
        if isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST):
            stack.append(value)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))
