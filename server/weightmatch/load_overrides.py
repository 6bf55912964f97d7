"""`_load_from_state_dict` overrides whose effect is known: FrozenBatchNorm2d's (torchvision's,
DETR's and the many detection repositories that copy it) deletes `prefix + "num_batches_tracked"`
from the state dict, then loads as nn.Module does. Such a module ignores those keys: neither
loaded nor unexpected (ModuleSpec.drops). Any other override stays "not exact".

Pure `ast`, no torch: the static builder reads the class's source, the model worker the
source `inspect` gives of the class it built."""

from __future__ import annotations

import ast



def dropped_keys(fn: ast.FunctionDef) -> tuple[str, ...] | None:
    """The names an override only deletes before calling `super()._load_from_state_dict` with
    its own arguments; None when it does anything else."""
    params = [a.arg for a in fn.args.args]
    if len(params) != 8 or fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.decorator_list:
        return None
    sd, prefix = params[1], params[2]
    names: dict[str, str] = {}  # local -> the name it stands for (`key = prefix + "num_batches_tracked"`)
    dropped: list[str] = []
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body or not _calls_super(body[-1], params):
        return None
    for stmt in body[:-1]:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = _prefixed(stmt.value, prefix)
            if name is None:
                return None
            names[stmt.targets[0].id] = name
        elif isinstance(stmt, ast.If) and not stmt.orelse and len(stmt.body) == 1:
            key = _key_test(stmt.test, sd, prefix, names)
            if key is None or _deleted(stmt.body[0], sd, prefix, names) != key:
                return None
            dropped.append(key)
        else:
            key = _deleted(stmt, sd, prefix, names, popped=True)
            if key is None:
                return None
            dropped.append(key)
    return tuple(dropped)


def _prefixed(node: ast.expr, prefix: str) -> str | None:
    """`prefix + "num_batches_tracked"` (or an f-string of it): the name."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Name) \
            and node.left.id == prefix and isinstance(node.right, ast.Constant) and isinstance(node.right.value, str):
        return node.right.value
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2 and isinstance(node.values[0], ast.FormattedValue) \
            and isinstance(node.values[0].value, ast.Name) and node.values[0].value.id == prefix \
            and node.values[0].format_spec is None and node.values[0].conversion == -1 \
            and isinstance(node.values[1], ast.Constant):
        return node.values[1].value
    return None


def _key(node: ast.expr, prefix: str, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    return _prefixed(node, prefix)


def _key_test(test: ast.expr, sd: str, prefix: str, names: dict[str, str]) -> str | None:
    """`key in state_dict`."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.In) and \
            isinstance(test.comparators[0], ast.Name) and test.comparators[0].id == sd:
        return _key(test.left, prefix, names)
    return None


def _deleted(stmt: ast.stmt, sd: str, prefix: str, names: dict[str, str], popped: bool = False) -> str | None:
    """`del state_dict[key]`, or (`popped`) `state_dict.pop(key, None)`: the name."""
    if not popped and isinstance(stmt, ast.Delete) and len(stmt.targets) == 1:
        t = stmt.targets[0]
        if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == sd:
            return _key(t.slice, prefix, names)
    if popped and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "pop" and isinstance(call.func.value, ast.Name) \
                and call.func.value.id == sd and len(call.args) == 2 and not call.keywords and \
                isinstance(call.args[1], ast.Constant) and call.args[1].value is None:
            return _key(call.args[0], prefix, names)
    return None


def _calls_super(stmt: ast.stmt, params: list[str]) -> bool:
    """`super()._load_from_state_dict(<its own arguments, in order>)` (or `super(Cls, self)`)."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "_load_from_state_dict" and isinstance(call.func.value, ast.Call)
            and isinstance(call.func.value.func, ast.Name) and call.func.value.func.id == "super"):
        return False
    if call.keywords or len(call.args) != 7:
        return False
    return all(isinstance(a, ast.Name) and a.id == p for a, p in zip(call.args, params[1:]))
