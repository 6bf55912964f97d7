"""The loops that rebuild a state dict, each recognised whole and kept as one operation on the
dict (run over its real keys when it is read): `for k, v in sd.items(): new[k2] = v`, `for k in
list(sd): sd[k[7:]] = sd.pop(k)`, and the shards of a sharded checkpoint merged by its index.
Part of the Interpreter (interpret.py)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import posixpath
from typing import Any

from weightmatch.evaluate import ST_LOAD, TORCH_LOAD
from weightmatch.values import (
    Const, FuncVal, JsonFile, KeySnapshot, LoadedFile, MethodsOf, ObjVal, Op, SourceVal, TorchLoadSite, Unknown, frozen,
)


def _method_calls(node: ast.AST, owner: str) -> list[str]:
    """The names of the methods `node` calls on the object named `owner` (`self.patch(...)`)."""
    return [n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name) and n.func.value.id == owner]


# calls that copy a dict: a loop over the copy may change the dict itself
_COPIES = {"copy.deepcopy", "deepcopy", "copy.copy", "dict", "collections.OrderedDict", "OrderedDict"}


_VALUE = "_weightmatch_value"  # the item a keys loop reads, as the items loop it becomes names it


class _ItemRead(ast.NodeTransformer):
    """`f.get_tensor(k)` / `sd[k]` of the loop's own key: the item, by name (keys_copy_loop)."""

    def __init__(self, source: str, key: str) -> None:
        self.source, self.key, self.found = source, key, False

    def _is_item(self, owner: ast.AST, args: list) -> bool:
        return isinstance(owner, ast.Name) and owner.id == self.source and len(args) == 1 and \
            isinstance(args[0], ast.Name) and args[0].id == self.key

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get_tensor" and not node.keywords \
                and self._is_item(node.func.value, node.args):
            self.found = True
            return ast.copy_location(ast.Name(_VALUE, ast.Load()), node)
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and self._is_item(node.value, [node.slice]):
            self.found = True
            return ast.copy_location(ast.Name(_VALUE, ast.Load()), node)
        return self.generic_visit(node)


class StateDictLoopsMixin:
    def items_loop(self, stmt: ast.For, env: dict) -> bool:
        """`for k, v in sd.items(): if ...: new[k2] = v` rebuilding a dict: one loop op on `new`."""
        it = stmt.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "items"
                and isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == 2
                and all(isinstance(e, ast.Name) for e in stmt.target.elts)):
            return False
        source = self.ev(it.func.value, env)
        if not isinstance(source, SourceVal):
            return False
        targets = {t.value.id for t in ast.walk(stmt) if isinstance(t, ast.Subscript)
                   and isinstance(t.ctx, ast.Store) and isinstance(t.value, ast.Name)}
        if len(targets) != 1:
            return False
        (name,) = targets
        dest = env.get(name)
        base = it.func.value
        if isinstance(base, ast.Call) and len(base.args) == 1 and self.pf.dotted(base.func) in _COPIES:
            base = base.args[0]
        elif isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "copy" \
                and not base.args:
            base = base.func.value  # `for k, v in sd.copy().items(): ... sd[...] = v`
        if not isinstance(dest, SourceVal) or isinstance(base, ast.Name) and base.id == name:
            return False  # (`for k, v in deepcopy(sd).items(): sd[k[7:]] = v; sd.pop(k)`: sd changes itself)
        dest.ops.append(Op("loop", frozen(source), stmt, self.free_env(stmt, env)))
        return True

    def keys_copy_loop(self, stmt: ast.For, env: dict) -> bool:
        """`for k in f.keys(): tensors[k] = f.get_tensor(k)` (safetensors' `safe_open`) and `for k
        in sd: new[k] = sd[k]`: the items loop it is (`for k, v in f.items(): tensors[k] = v`)."""
        it = stmt.iter
        held = env.get(it.id) if isinstance(it, ast.Name) else None
        if isinstance(held, KeySnapshot) and held.current(env):
            it = ast.Name(held.name, ast.Load())  # VideoMAE's `all_keys = list(ckpt.keys())`, then `for key in all_keys:`
        while isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("list", "tuple", "sorted") and \
                len(it.args) == 1 and not it.keywords:
            it = it.args[0]  # (the order of a state dict's keys changes nothing a load reports)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "keys" \
                and not it.args and not it.keywords:
            it = it.func.value
        if not (isinstance(it, ast.Name) and isinstance(stmt.target, ast.Name)) or stmt.orelse or \
                not isinstance(env.get(it.id), SourceVal) or is_key_list(env[it.id]):
            return False
        swap = _ItemRead(it.id, stmt.target.id)
        body = [swap.visit(copy.deepcopy(s)) for s in stmt.body]
        if not swap.found or any(isinstance(n, ast.Name) and n.id == it.id for s in body for n in ast.walk(s)):
            return False  # (the source read otherwise than item by item)
        store = ast.Tuple([ast.Name(stmt.target.id, ast.Store()), ast.Name(_VALUE, ast.Store())], ast.Store())
        items = ast.Call(ast.Attribute(ast.Name(it.id, ast.Load()), "items", ast.Load()), [], [])
        loop = ast.copy_location(ast.For(store, ast.copy_location(items, stmt.iter), body, []), stmt)
        return self.items_loop(ast.fix_missing_locations(loop), env)

    def state_dict_loop(self, stmt: ast.For, env: dict) -> bool:
        """A loop that rebuilds or changes a state dict, recorded as one operation on it."""
        return self.items_loop(stmt, env) or self.keys_copy_loop(stmt, env) or self.shards_loop(stmt, env) or \
            self.keys_loop(stmt, env)

    def keys_loop(self, stmt: ast.For, env: dict) -> bool:
        """`for k in list(sd): ... sd[new] = sd.pop(k) / del sd[k]`: one operation on `sd`, run over
        its real keys when it is read (key_loops.run_key_loop)."""
        it, snapshot = stmt.iter, False
        held = env.get(it.id) if isinstance(it, ast.Name) else None
        if isinstance(held, KeySnapshot) and held.current(env):
            it, snapshot = ast.copy_location(ast.Name(held.name, ast.Load()), it), True  # `keys = list(sd.keys())`
        while isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("list", "tuple", "sorted") and \
                len(it.args) == 1 and not it.keywords:
            it, snapshot = it.args[0], True
        pairs = isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == 2 and \
            all(isinstance(e, ast.Name) for e in stmt.target.elts)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and not it.args and \
                it.func.attr == ("items" if pairs else "keys"):
            it = it.func.value
        elif pairs:
            return False
        if isinstance(it, ast.Call) and len(it.args) == 1 and not it.keywords and \
                self.pf.dotted(it.func) in _COPIES and isinstance(it.args[0], ast.Name):
            it, snapshot = it.args[0], True  # BasicSR's `for k, v in deepcopy(load_net).items():`
        elif isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "copy" and \
                not it.args and not it.keywords and isinstance(it.func.value, ast.Name):
            it, snapshot = it.func.value, True  # TrOCR's conversion: `for key, val in state_dict.copy().items():`
        if not (isinstance(it, ast.Name) and (pairs or isinstance(stmt.target, ast.Name))) or stmt.orelse or \
                not snapshot:
            return False  # changing a dict while iterating over it (not a copy of its keys) raises
        sd = env.get(it.id)
        if not isinstance(sd, SourceVal) or is_key_list(sd):
            return False  # (`for k in list(keys):` of `keys = list(sd.keys())`: the list is no state dict)
        sd.ops.append(Op("keyloop", it.id, stmt, self.loop_env(stmt, env)))
        _forget_other_dicts(stmt, it.id, env)
        return True

    def loop_env(self, stmt: ast.For, env: dict) -> dict:
        """The names a key loop reads; an object whose methods it calls (`self.patch(sd, net, k)`)
        stands for those methods' definitions (and the methods they call on their `self`),
        followed over the keys by keyexpr.py."""
        free = self.free_env(stmt, env)
        for name, owner in list(free.items()):
            if not (isinstance(owner, ObjVal) and owner.cls is not None):
                continue
            methods: dict[str, ast.FunctionDef] = {}
            work = [a for a in _method_calls(stmt, name)]
            while work and len(methods) < 20:
                attr = work.pop()
                found = self.class_attr(owner.cls, attr) if attr not in methods else None
                if isinstance(found, FuncVal) and isinstance(found.node, ast.FunctionDef) and found.node.args.args:
                    methods[attr] = found.node
                    work.extend(_method_calls(found.node, found.node.args.args[0].arg))
            if methods:
                free[name] = MethodsOf(methods)
        return free

    def key_snapshot(self, node: ast.Call, env: dict) -> "KeySnapshot | None":
        """`list(sd.keys())`, `list(sd)`, `sorted(sd)` of a state dict held by a name: its keys as
        they are now, for a later `for k in keys:` that changes `sd` (latent-diffusion's
        `init_from_ckpt`). Unknown as a value; None for other calls."""
        if not (self.pf.dotted(node.func) in ("list", "tuple", "sorted") and len(node.args) == 1
                and not node.keywords):
            return None
        inner = node.args[0]
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "keys" \
                and not inner.args:
            inner = inner.func.value
        sd = env.get(inner.id) if isinstance(inner, ast.Name) else None
        if not isinstance(sd, SourceVal):
            return None
        return KeySnapshot(f"`{self.pf.segment(node)}`: the keys of a state dict, known when it is read",
                           inner.id, sd, len(sd.ops), self.pf.dotted(node.func) == "sorted")

    def key_list(self, node: ast.Call, env: dict) -> "SourceVal | None":
        """`list(self.network.state_dict().keys())`, `sorted(ckpt["model"])`: the keys as a list,
        known when the state dict is (nnU-Net's `key not in curr_state_dict_keys` in its key loop)."""
        if not (self.pf.dotted(node.func) in ("list", "tuple", "sorted") and len(node.args) == 1
                and not node.keywords):
            return None
        inner = node.args[0]
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "keys" \
                and not inner.args and not inner.keywords:
            inner = inner.func.value
        sd = self.ev(inner, env)
        if not isinstance(sd, SourceVal):
            return None
        return sd.derive(Op("key-list", self.pf.dotted(node.func), node))

    def keys_source(self, gen: ast.comprehension, env: dict) -> tuple[str, SourceVal, bool] | None:
        """The state dict a comprehension walks the keys of (`for k in keys` with `keys =
        sorted(sd.keys())` and `sd` unchanged since, `for k in sd`, `sd.keys()`, `list(sd)`,
        `sorted(sd)`): the name holding it, it, and whether its keys are sorted; else None."""
        if not isinstance(gen.target, ast.Name) or gen.is_async:
            return None
        held = env.get(gen.iter.id) if isinstance(gen.iter, ast.Name) else None
        if isinstance(held, KeySnapshot):
            return (held.name, held.sd, held.sort) if held.current(env) else None
        it, sort = gen.iter, False
        if isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("list", "tuple", "sorted") and \
                len(it.args) == 1 and not it.keywords:
            it, sort = it.args[0], self.pf.dotted(it.func) == "sorted"
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "keys" \
                and not it.args and not it.keywords:
            it = it.func.value
        sd = env.get(it.id) if isinstance(it, ast.Name) else None
        return (it.id, sd, sort) if isinstance(sd, SourceVal) else None

    def shards_loop(self, stmt: ast.For, env: dict) -> bool:
        """`for shard in set(index["weight_map"].values()): sd.update(load_file(os.path.join(d, shard)))`
        with `index = json.load(open(p))`: every shard of the sharded checkpoint `p` merged into `sd`,
        which is what the index reader returns. Only when each shard is read from the index's own
        folder (checked by evaluating the path with a stand-in shard name); else not recognised."""
        target = stmt.target
        if not isinstance(target, ast.Name) or stmt.orelse or len(stmt.body) != 1:
            return False
        call = stmt.body[0].value if isinstance(stmt.body[0], ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "update"
                and isinstance(call.func.value, ast.Name) and len(call.args) == 1 and not call.keywords
                and isinstance(call.args[0], ast.Call) and self.pf.dotted(call.args[0].func) in TORCH_LOAD | ST_LOAD):
            return False
        index = self.weight_map_values(stmt.iter, env)
        dest = env.get(call.func.value.id)
        if index is None or not isinstance(dest, SourceVal):
            return False
        stand_in = "\0shard\0"
        loaded = self.ev(call.args[0], {**env, target.id: Const(stand_in)})
        lf = loaded.base if isinstance(loaded, SourceVal) and isinstance(loaded.base, LoadedFile) else None
        if lf is None or not isinstance(lf.path, Const) or not isinstance(lf.path.value, str) or \
                posixpath.normpath(lf.path.value) != posixpath.join(posixpath.dirname(index), stand_in):
            return False
        shards = dataclasses.replace(lf, path=Const(index), over_shards=True)
        self.torch_loads.append(TorchLoadSite(shards))
        dest.ops.append(Op("update", SourceVal(shards), call))
        return True

    def weight_map_values(self, node: ast.expr, env: dict) -> str | None:
        """The index path of `[set|sorted|list](<json of the index>["weight_map"].values())`."""
        while isinstance(node, ast.Call) and self.pf.dotted(node.func) in ("set", "sorted", "list", "tuple") \
                and len(node.args) == 1 and not node.keywords:
            node = node.args[0]
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values"
                and not node.args and isinstance(node.func.value, ast.Subscript)):
            return None
        sub = node.func.value
        if not (isinstance(sub.slice, ast.Constant) and sub.slice.value == "weight_map"):
            return None
        doc = self.ev(sub.value, env)
        if isinstance(doc, JsonFile) and isinstance(doc.path, Const) and isinstance(doc.path.value, str):
            return posixpath.normpath(doc.path.value)
        return None


def forget_loop_names(stmt: ast.For, env: dict) -> None:
    """A loop over a state dict's keys is one operation on the dict, run over its real keys when it
    is read: a name the loop sets (`n_layer = max(n_layer, layer_id + 1)`, RWKV's layer count) is
    not known after it."""
    names: set[str] = set()
    work: list[ast.AST] = [stmt.target, *stmt.body]
    while work:
        node = work.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        work.extend(ast.iter_child_nodes(node))
    for name in names:
        env[name] = Unknown(f"`{name}` is set in the loop over a state dict's keys (line {stmt.lineno}), "
                            "which is followed for the state dict alone")


_CHANGES = {"update", "pop", "popitem", "setdefault", "clear", "append", "extend", "insert", "remove"}


def _forget_other_dicts(stmt: ast.For, sd: str, env: dict) -> None:
    """A key loop is followed for the state dict `sd` alone: another dict or list it fills or
    changes (`new_dict[key] = sd[key]` beside `sd`'s own changes) is not known after it."""
    for node in ast.walk(stmt):
        owner = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            owner = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _CHANGES:
            owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id != sd and owner.id in env:
            env[owner.id] = Unknown(f"`{owner.id}` is changed in the loop over a state dict's keys (line "
                                    f"{stmt.lineno}), which is followed for the state dict alone")


def is_key_list(value: Any) -> bool:
    """`list(sd.keys())` / `sorted(sd)` as `key_list` makes it: a list of keys, no state dict."""
    return isinstance(value, SourceVal) and bool(value.ops) and value.ops[0].kind == "key-list"

