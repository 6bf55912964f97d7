"""Changes made to a model after it is built (`del model.fc`, `setattr(model, "head", ...)`,
`model.classifier[-1] = ...`, a layer swapped in a loop over its modules): replayed as steps of
the model's recipe where they can be, else the model is unresolved, naming the change."""

from __future__ import annotations

import ast

from weightmatch.exits import one_line
from weightmatch.values import Guard, ModelAttr, ModelVal, ObjVal, Step

MODULE_ITERATORS = {"modules", "named_modules", "children", "named_children"}
_CHANGING_CALLS = {"setattr", "delattr", "add_module", "register_module", "register_parameter", "register_buffer"}
_TENSOR_ATTRS = {"weight", "bias", "data"}


class ModelChangesMixin:
    """Needs `ev`, `pf`, `recording`, `guarded`, `substitutions`, `constructing` (the Interpreter)."""

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

    def loop_changes_modules(self, stmt: ast.For, env: dict) -> None:
        """`for name, child in model.named_children(): setattr(model, name, GroupNorm(...))`, `for i, m
        in enumerate(seq): seq[i] = nn.PReLU()`: a loop over a model's modules that swaps, adds or
        deletes some is not followed item by item: the model is unresolved, naming the loop."""
        it = stmt.iter
        while isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("enumerate", "list", "reversed", "tuple") \
                and it.args:
            it = it.args[0]
        base = it.func.value if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and \
            it.func.attr in MODULE_ITERATORS else it if isinstance(it, (ast.Name, ast.Attribute)) else None
        value = self.ev(base, env) if base is not None else None
        if isinstance(value, (ModelVal, ModelAttr)) and _changes_modules(stmt.body):
            self.changed_blindly(value, stmt, f"in a loop over its modules (`for … in {one_line(self.pf.segment(stmt.iter))}`)")

    def being_made(self, value: ModelVal | ModelAttr) -> bool:
        model = value if isinstance(value, ModelVal) else value.model
        return model.id in getattr(self, "constructing", ())

    def step_subs(self, stmt: ast.stmt, env: dict, model: ModelVal):
        """Known values written into a step, and the model's own name where the step reaches it
        by another one (a helper's parameter, `self` in the model's method)."""
        self.stepping = model.id  # (its own name is put in below, not written in as a new model)
        try:
            subs = self.substitutions(stmt, env)
        finally:
            self.stepping = None
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
            if isinstance(value, ModelVal) and value.id == model.id:
                subs.by_span[(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)] = \
                    ast.Name(var, ast.Load())
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
