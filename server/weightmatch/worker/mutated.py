"""Module-level names whose value the script's top level changes in place (`kw.setdefault(...)`,
`CFG["depth"] = 4`, `del LAYERS[0]`): a definitions-only replay that ran their first assignment
but not the change would hand the model stale data (a false size-mismatch), so the replay leaves
such names to what the interpreter knows of them (the recipe's script globals)."""

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


def changed_in_place(body: list[ast.stmt]) -> frozenset[str]:
    """Names changed in place by the module's own top-level statements (not inside a def, a
    class or a lambda: those run when the recipe calls them, as they would in the script, and a
    registry filled by a decorator or a constructor is filled by the replay itself)."""
    out: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        name = _changed(node)
        if name is not None:
            out.add(name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(out)


def binds_only(stmt: ast.stmt, names: frozenset[str]) -> bool:
    """A kept assignment to one of `names`."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
        [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else []
    return any(isinstance(n, ast.Name) and n.id in names for t in targets for n in ast.walk(t))
