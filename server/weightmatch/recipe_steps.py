"""The names a recipe writes so it reads the same wherever it is replayed: a module imported by
its module's name (`__import__('models.backbone', fromlist=['Backbone']).Backbone`), and the plain
attributes a module is given after it is made, written into the expression that makes it again
(substitute.py)."""

from __future__ import annotations

import ast


def plain_attribute(step, model, module: str | None) -> tuple[str, ast.expr] | None:
    """`model.num_channels = backbone.num_channels` (DETR's build_backbone), its value known when
    it ran: the attribute and that value, written to be read anywhere (`__import__(...).Backbone
    (...).num_channels`); None for any other step or a value that names the script's own names."""
    node = step.node
    if step.guards or not (isinstance(node, ast.Assign) and len(node.targets) == 1 and
                           isinstance(node.targets[0], ast.Attribute) and isinstance(node.targets[0].value, ast.Name)
                           and step.target == node.targets[0].attr):
        return None
    pf = step.file or model.file
    module = module if pf is model.file else None
    text = step.subs.render(node.value, pf) if step.subs is not None and step.subs.by_span else pf.segment(node.value)
    try:
        value = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    defined = {d.name for d in pf.tree.body if isinstance(d, (ast.ClassDef, ast.FunctionDef))}
    for n in ast.walk(value):
        for field, child in ast.iter_fields(n):
            if isinstance(child, ast.Name) and child.id in defined and module is not None:
                setattr(n, field, ast.Attribute(dunder_import(module, child.id), child.id, ast.Load()))
    names = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
    return (step.target, value) if names <= {"__import__", "True", "False", "None"} else None


def import_expr(pf, name: str) -> ast.expr | None:
    """`prune` of `import torch.nn.utils.prune as prune` (or `from torch.nn.utils import prune`)
    as an expression that imports it wherever it is replayed; None for a relative import."""
    for stmt in pf.tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    module = alias.name if alias.asname else alias.name.split(".")[0]
                    return dunder_import(module, "_")
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            for alias in stmt.names:
                if (alias.asname or alias.name) == name:
                    return ast.Attribute(dunder_import(stmt.module, alias.name), alias.name, ast.Load())
    return None


def dunder_import(module: str, member: str) -> ast.Call:
    return ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant(module)],
                    [ast.keyword("fromlist", ast.List([ast.Constant(member)], ast.Load()))])
