"""Module-level names whose value the script changes in place (`kw.setdefault(...)`,
`CFG["depth"] = 4`, `del LAYERS[0]`, anywhere in the file): a definitions-only replay that
ran their first assignment but not the change would hand the model stale data (a false
size-mismatch), so the replay leaves such names to what the interpreter knows of them."""

from __future__ import annotations

import ast

MUTATORS = frozenset({
    "append", "extend", "insert", "remove", "pop", "popitem", "clear", "sort", "reverse", "update",
    "setdefault", "add", "discard", "difference_update", "intersection_update",
    "symmetric_difference_update", "__setitem__", "__delitem__", "__setattr__", "merge_from_file",
    "merge_from_list", "merge_from_other_cfg",
})


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed(node: ast.AST) -> str | None:
    """The name `node` changes in place, if it is such a change."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
        return _root(node.func.value)
    if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return _root(node.value)
    return None


def _locals(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    names = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    declared: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global):
            declared.update(node.names)
    return names - declared


def changed_in_place(body: list[ast.stmt]) -> frozenset[str]:
    out: set[str] = set()
    stack: list[tuple[ast.AST, frozenset[str]]] = [(stmt, frozenset()) for stmt in body]
    while stack:
        node, shadowed = stack.pop()
        name = _changed(node)
        if name is not None and name not in shadowed:
            out.add(name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            shadowed = shadowed | _locals(node)
        stack.extend((child, shadowed) for child in ast.iter_child_nodes(node))
    return frozenset(out)


def binds_only(stmt: ast.stmt, names: frozenset[str]) -> bool:
    """A kept assignment to one of `names`."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
        [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else []
    return any(isinstance(n, ast.Name) and n.id in names for t in targets for n in ast.walk(t))
