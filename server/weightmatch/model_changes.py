"""Changes made to a model after it is built (`del model.fc`, `setattr(model, "head", ...)`,
`model.classifier[-1] = ...`, a layer swapped in a loop over its modules): replayed as steps of
the model's recipe where they can be, else the model is unresolved, naming the change."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch.exits import one_line
from weightmatch.values import Guard, ModelAttr, ModelVal, ObjVal, Step

MODULE_ITERATORS = {"modules", "named_modules", "children", "named_children"}
_CHANGING_CALLS = {"setattr", "delattr", "add_module", "register_module", "register_parameter", "register_buffer"}
_TENSOR_ATTRS = {"weight", "bias", "data"}
# what a loop over the modules may not hold to be replayed whole as a step
_NOT_REPLAYED = (ast.Return, ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal, ast.Try)


# torch's functions that change which tensors a module's state_dict() holds: pruning adds
# `weight_orig` and `weight_mask`, weight norm `weight_g`/`weight_v` (or `parametrizations.…`),
# quantization swaps layers. A call of one is a change to every model its arguments name.
STRUCTURE_CHANGING = ("torch.nn.utils.prune.", "torch.nn.utils.parametrize.", "torch.nn.utils.parametrizations.",
                      "torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm",
                      "torch.nn.utils.remove_weight_norm", "torch.nn.utils.remove_spectral_norm",
                      "torch.quantization.", "torch.ao.quantization.", "torch.nn.utils.fusion.")
# library functions that read a model (or set its values) without changing its tensors' names or shapes
READS_ONLY = ("torch.nn.init.", "torch.nn.utils.clip_grad", "torch.nn.utils.parameters_to_vector", "torch.onnx.",
              "torch.jit.", "torch.distributed.", "wandb.", "torchinfo.", "torchsummary.", "thop.", "mlflow.",
              "logging.")


class ModelChangesMixin:
    """Needs `ev`, `pf`, `recording`, `guarded`, `substitutions`, `constructing`, `replaying` and
    `loop_names` (the Interpreter)."""

    def library_change(self, call: ast.Call, stmt: ast.stmt, env: dict) -> bool:
        """A library function given a model or one of its parts (`prune.l1_unstructured(model.fc,
        "weight", amount=0.2)`, `prune.global_unstructured(prunable(model), ...)`): replayed as a
        step of each such model, where the library itself runs; never taken as no change."""
        dotted = self.pf.dotted(call.func) or ""
        root = dotted.split(".", 1)[0]
        changing = dotted.startswith(STRUCTURE_CHANGING)
        if dotted.startswith(READS_ONLY) or not changing and not (
                isinstance(call.func, ast.Attribute) and root != dotted and _root(call.func) in self.pf.imports):
            return False
        args = [*call.args, *(k.value for k in call.keywords)]
        # a known changing call: every model named anywhere in its arguments; another library
        # call: the models it is handed directly
        nodes = [n for a in args for n in ast.walk(a)] if changing else args
        models: dict[int, ModelVal] = {}
        for node in nodes:
            if isinstance(node, (ast.Name, ast.Attribute)) and _root(node) in env:
                value = self.ev(node, env)
                if isinstance(value, (ModelVal, ModelAttr)):
                    model = value if isinstance(value, ModelVal) else value.model
                    models[model.id] = model
        for model in models.values():
            if not self.being_made(model):
                model.steps.append(Step(self.pf.segment(stmt), stmt, subs=self.step_subs(stmt, env, model)))
        return bool(models)

    def changed_blindly(self, value: ModelVal | ModelAttr, stmt: ast.stmt, how: str) -> None:
        """A change to the model the recipe cannot replay (`setattr(m, name, ...)` with a name known
        only at run time, a layer swapped in a loop over its modules): the model is unresolved,
        saying where, rather than built as if it had not happened."""
        model = value if isinstance(value, ModelVal) else value.model
        if self.being_made(model) or not self.recording:
            return
        with self.guarded(Guard(None, {}, True, how)):
            model.steps.append(Step(self.pf.segment(stmt), stmt, ""))

    def model_step(self, value: ModelVal | ModelAttr, stmt: ast.stmt, env: dict, path: list[str]) -> None:
        """`del model.fc`, `setattr(model, "head", ...)`: replayed as written, the model's name put in."""
        model = value if isinstance(value, ModelVal) else value.model
        if self.being_made(model):
            return
        full = [*(value.path if isinstance(value, ModelAttr) else []), *path]
        model.steps.append(Step(self.pf.segment(stmt), stmt, ".".join(full), subs=self.step_subs(stmt, env, model),
                                file=self.pf))

    def loop_changes_modules(self, stmt: ast.For, env: dict) -> int | None:
        """`for name, m in list(model.named_modules()): setattr(parent, attr, nn.GroupNorm(...))`,
        `for i in range(len(seq)): seq[i] = nn.PReLU()`: a loop over a model's modules that swaps,
        adds or deletes some is a step of the recipe, replayed whole on the built model (the
        names it binds are its own; the others are written in as elsewhere). The id of the
        model it changes, whose changes inside the loop are that step's; None for other loops.
        A loop that also returns or yields is not replayed: the model is unresolved. One in another
        file than the model's constructor (`inject_lora(model, r)` in a helper module) is replayed
        with that file's names written in (step_subs)."""
        it = stmt.iter
        while isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("enumerate", "list", "reversed", "tuple",
                                                                      "range", "len") and it.args:
            it = it.args[0]
        base = it.func.value if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and \
            it.func.attr in MODULE_ITERATORS else it if isinstance(it, (ast.Name, ast.Attribute)) else None
        value = self.ev(base, env) if base is not None else None
        if not (isinstance(value, (ModelVal, ModelAttr)) and _changes_modules(stmt.body)):
            return None
        model = value if isinstance(value, ModelVal) else value.model
        if self.being_made(model) or not self.recording:
            return None
        how = f"in a loop over its modules (`for … in {one_line(self.pf.segment(stmt.iter))}`)"
        if stmt.orelse or any(isinstance(n, _NOT_REPLAYED) for n in ast.walk(stmt)):
            self.changed_blindly(value, stmt, how)
            return None
        self.loop_names = _bound_in(stmt)
        try:
            subs = self.step_subs(stmt, env, model)
        finally:
            self.loop_names = set()
        model.steps.append(Step(self.pf.segment(stmt), stmt, "", subs=subs, file=self.pf))
        self.replaying.add(model.id)
        return model.id

    def being_made(self, value: ModelVal | ModelAttr) -> bool:
        model = value if isinstance(value, ModelVal) else value.model
        return model.id in self.constructing or model.id in self.replaying

    def step_subs(self, stmt: ast.stmt, env: dict, model: ModelVal):
        """Known values written into a step, and the model's own name where the step reaches it
        by another one (a helper's parameter, `self` in the model's method)."""
        self.stepping = model.id  # (its own name is put in below, not written in as a new model)
        # a step written in another file than the model's (a Predictor's `setup()`) is replayed
        # where the model is made: that file's names for classes are written in as references
        self.foreign_step = model.file if self.pf is not model.file else None
        try:
            subs = self.substitutions(stmt, env)
        finally:
            self.stepping = None
            self.foreign_step = None
        var = model.var or "model"
        stack: list[ast.AST] = [stmt]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name):  # (its own name too: never written in as a new model)
                value = env.get(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in env \
                    and isinstance(env[node.value.id], ObjVal):
                value = self.ev(node, env)  # `self.net` of a Trainer
            else:
                value = None
            if isinstance(node, ast.Name) and node.id in self.loop_names:
                value = None  # bound by the loop being replayed: its own
            span = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0), getattr(node, "end_lineno", 0),
                    getattr(node, "end_col_offset", 0))
            if isinstance(value, ModelVal) and value.id == model.id:
                subs.by_span[span] = ast.Name(var, ast.Load())
                continue
            if isinstance(value, ModelAttr) and value.model.id == model.id and isinstance(node, ast.Name):
                # `feats = model.features` before a loop replayed whole, `layer` of a loop unrolled
                # over `(model.conv1, model.fc)`: reached from the model
                subs.by_span[span] = _reached(var, value.path)
                continue
            stack.extend(ast.iter_child_nodes(node))
        return subs


def tensor_item(target: ast.expr) -> bool:
    """`m.weight.data[:n] = w`, `emb.weight[0, :] = 0`: values written into a tensor, which change
    no key and no shape (a container is indexed by a number or a name)."""
    return isinstance(target, ast.Subscript) and (
        isinstance(target.slice, (ast.Slice, ast.Tuple))
        or isinstance(target.value, ast.Attribute) and target.value.attr in _TENSOR_ATTRS)


def _changes_modules(body: list[ast.stmt]) -> bool:
    """Whether a loop body swaps, adds or deletes modules or parameters: `setattr(...)`, `x[i] = ...`,
    `del ...`, `add_module(...)`, `m.weight = nn.Parameter(...)` (not `p.requires_grad = False`, not
    `m.weight.data[0] = 0`)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Delete):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Subscript) and not tensor_item(t)
                   or isinstance(t, ast.Attribute) and isinstance(node.value, ast.Call) for t in targets):
                return True
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                node.func.id if isinstance(node.func, ast.Name) else ""
            if name in _CHANGING_CALLS:
                return True
        stack.extend(ast.iter_child_nodes(node))
    return False


# what an init function passed to `model.apply(fn)` may call and still only set values: the
# builtins it tests modules with, and (below) tensors' in-place methods and str methods
_VALUE_ONLY_NAMES = {"isinstance", "hasattr", "getattr", "type", "len", "str", "int", "float", "print", "range",
                     "min", "max", "abs", "round", "NotImplementedError", "ValueError"}
_VALUE_ONLY_METHODS = {"find", "startswith", "endswith", "lower", "upper", "size", "dim", "numel", "format",
                       "sqrt", "fan_in", "get"}


def sets_values_only(fn: Any) -> bool:
    """Whether a workspace function given to `model.apply(fn)` only sets values (pix2pix's nested
    `init_func`, DCGAN's `weights_init`): no module, parameter or buffer added, swapped or
    removed, and no call that could (another workspace function, torch's prune / weight norm)."""
    body = fn.node.body
    if _changes_modules(body):
        return False
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if not isinstance(node, ast.Call):
            continue
        dotted = fn.file.dotted(node.func) or ""
        if dotted.startswith(STRUCTURE_CHANGING):
            return False
        if dotted.startswith(("torch.nn.init.", "math.")) or isinstance(node.func, ast.Name) and \
                node.func.id in _VALUE_ONLY_NAMES:
            continue
        if isinstance(node.func, ast.Attribute) and (node.func.attr.endswith("_") and not node.func.attr.startswith("_")
                                                     or node.func.attr in _VALUE_ONLY_METHODS):
            continue  # `m.weight.data.normal_(0.0, 0.02)`, `classname.find("Conv")`
        return False
    return True


def _bound_in(stmt: ast.For) -> set[str]:
    """The names a loop binds (its target, what its body assigns, comprehension variables)."""
    names = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _reached(var: str, path: list[str]) -> ast.expr:
    """`model.features[-1]` from the path the tracker kept (attribute names, item keys)."""
    node: ast.expr = ast.Name(var, ast.Load())
    for part in path:
        if part.isidentifier():
            node = ast.Attribute(node, part, ast.Load())
        else:
            key = int(part) if part.lstrip("-").isdigit() else part
            node = ast.Subscript(node, ast.Constant(key), ast.Load())
    return node


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""
