"""The paths a run may take: a loop over a known collection, unrolled pass by pass (its `break`
and `continue` taken where the interpreter can decide them); and what the interpreter cannot
decide: both branches of an `if` whose test is known only at run time, a loop body or an
`except` block that may run or not, and what they leave behind: names bound differently become
conditional or unknown values, and the changes they made to objects both paths share
(journal.py) are settled slot by slot. Part of the Interpreter (interpret.py): needs `block`,
`guarded`, `free_env`, `static_test`, `assign`, `ev` and `pf`."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import config_data, journal, yacs_values
from weightmatch.exits import one_line
from weightmatch.comprehension import items_of
from weightmatch.values import (
    At, CURRENT_GUARDS, CondVal, Const, DictLit, FileHandle, Guard, JsonFile, MaybeUnset, ObjVal, SeqVal, SourceVal, Unknown,
)

MAX_UNROLL = 64


class LoopJump(Exception):
    """A `break` or `continue` that surely runs, in a loop being unrolled."""

    def __init__(self, stmt: ast.stmt) -> None:
        super().__init__(type(stmt).__name__)
        self.breaks = isinstance(stmt, ast.Break)


class UndecidedJump(Exception):
    """A `break` or `continue` under a test known only at run time: the passes after it may or
    may not run, so the loop is not unrolled."""


class PathsMixin:
    def branches(self, stmt: ast.If, env: dict, functions: list) -> None:
        """Both branches of an `if`; names bound differently become conditional values."""
        self.test_origin = self.test_reason = ""
        known = self.static_test(stmt.test, env)
        if known is not None:
            if self.test_origin and _wraps_a_model(stmt, self.pf):
                # a wrapper chosen on an assumption (`if torch.cuda.device_count() > 1:
                # model = nn.DataParallel(model)`): said with the loads after it
                self.decided.extend(o for o in self.test_origin.split("; ") if o not in self.decided)
            self.block(stmt.body if known else stmt.orelse, env, functions)
            self.branch_not_taken(stmt, stmt.orelse if known else stmt.body, known, env)
            return
        if self.test_reason:  # (guard_reason: why a function's returns differ)
            self.__dict__.setdefault("test_reasons", {})[id(stmt.test)] = self.test_reason
        test_env = self.free_env(stmt.test, env)
        then_env, else_env = dict(env), dict(env)
        with journal.recording() as then_changes, self.guarded(Guard(stmt.test, test_env, True)):
            self.block(stmt.body, then_env, functions)
        after_then = then_changes.now()
        then_changes.undo()  # objects both paths share (`args`, `self`, a config) start over for `else`
        with journal.recording() as else_changes, self.guarded(Guard(stmt.test, test_env, False)):
            self.block(stmt.orelse, else_env, functions)
        guard = Guard(stmt.test, test_env, True)
        for name in set(then_env) | set(else_env):
            env[name] = self.either(name, then_env.get(name), else_env.get(name), guard)
        journal.settle([(then_changes, after_then), (else_changes, else_changes.now())],
                       lambda c, key, values: self.settle_slot(c, key, values, guard))

    def either(self, name: Any, a: Any, b: Any, guard: Guard) -> Any:
        """The value of `name` after an `if` whose paths gave it `a` and `b` (None: unbound there)."""
        if a is b:
            return a
        if isinstance(a, SourceVal) or isinstance(b, SourceVal):
            missing = Unknown(f"`{name}` is unbound on one branch")
            return SourceVal(CondVal(guard, a if a is not None else missing, b if b is not None else missing))
        if isinstance(a, Const) and isinstance(b, Const) and a.value == b.value:
            return a
        return Unknown(f"`{name}` {self.depends(guard)}")

    def guard_reason(self, guard: Guard) -> str:
        """Why the path a guard opens may or may not run, in the user's terms."""
        if guard.test is None:
            return f"one is {guard.reason}"
        why = self.__dict__.get("test_reasons", {}).get(id(guard.test)) or "known only at run time"
        return f"which one depends on `{one_line(self.pf.segment(guard.test))}`: {why}"

    def depends(self, guard: Guard) -> str:
        if guard.test is None:
            return f"is changed {guard.reason}, which may run or not"
        return f"depends on `{self.pf.segment(guard.test)}`, known only at run time"

    def settle_slot(self, container: Any, key: Any, values: list[Any], guard: Guard) -> None:
        """A slot of a shared object that the paths left with `values` (journal.MISSING: not set)."""
        a, b = values
        if isinstance(container, yacs_values.CfgNodeVal):  # its frozen / broken state
            if a != b:
                yacs_values.break_all(container, f"the config {self.depends(guard)}")
            return
        if a is journal.MISSING and b is journal.MISSING:
            return
        if key == "unsure" and isinstance(container, ObjVal) and isinstance(a, str) and isinstance(b, str):
            journal.put(container, key, a or b)  # (any attribute may have changed on some path: why)
            return
        if journal.MISSING in (a, b):
            value: Any = MaybeUnset(f"`{key}` is set only on some paths: it {self.depends(guard)[3:]}")
        else:
            value = self.either(key, a, b, guard)
        journal.put(container, key, value)

    def unrolled(self, stmt: ast.For, env: dict, functions: list) -> bool:
        """`for name, net in [("G", netG), ("D", netD)]:` over a known collection: each pass in turn.
        A `break` or `continue` is followed where it surely runs (`if c["name"] in skip: continue`
        over known data); one under a test known only at run time undoes the unrolling."""
        if stmt.orelse:
            return False
        items = self.dict_view(stmt.iter, env)
        if items is None:
            items = _items(self.ev(stmt.iter, env), self)
        if items is None or len(items) > MAX_UNROLL:
            return False
        if not any(isinstance(n, (ast.Break, ast.Continue)) for n in _own_loop_nodes(stmt)):
            for item in items:
                self.assign(stmt.target, item, stmt, env)
                self.block(stmt.body, env, functions)
            return True
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(stmt)):
            return False
        local = env.maps[0] if hasattr(env, "maps") else env
        saved, recorded = dict(local), (len(self.sites), len(self.torch_loads))
        self.loops.append(len(CURRENT_GUARDS.get()))
        try:
            with journal.recording() as changes:
                for item in items:
                    self.assign(stmt.target, item, stmt, env)
                    try:
                        self.block(stmt.body, env, functions)
                    except LoopJump as jump:
                        if jump.breaks:
                            break
        except UndecidedJump:  # the attempt is undone: names, shared objects, loads it recorded
            changes.undo()
            local.clear()
            local.update(saved)
            del self.sites[recorded[0]:], self.torch_loads[recorded[1]:]
            return False
        finally:
            self.loops.pop()
        return True

    def jump(self, stmt: ast.Break | ast.Continue) -> None:
        """A `break` / `continue`: taken in a loop being unrolled; in a loop body that may run or
        not (or outside a loop) it changes nothing the interpreter keeps."""
        if not self.loops or self.loops[-1] is None:
            return
        if len(CURRENT_GUARDS.get()) != self.loops[-1]:
            raise UndecidedJump()
        raise LoopJump(stmt)

    def dict_view(self, it: ast.expr, env: dict) -> list[Any] | None:
        """`kwargs.items()` / `.keys()` / `.values()` of a dict the program made (not a state dict):
        its entries, for a loop over them (dino's `for key, value in kwargs.items(): value.load_state_dict(...)`)."""
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and not it.args and not it.keywords
                and it.func.attr in ("items", "keys", "values")):
            return None
        owner = self.ev(it.func.value, env)
        if isinstance(owner, SourceVal) and isinstance(owner.base, DictLit) and not owner.ops:
            entries = list(owner.base.entries.items())
            keys = [Const(k) for k, _ in entries]
            values = [v for _, v in entries]
        elif isinstance(owner, Const) and isinstance(owner.value, dict):
            keys = [Const(k, owner.origin) for k in owner.value]
            values = [Const(v, owner.origin) for v in owner.value.values()]
        else:
            return None
        if it.func.attr == "items":
            return [SeqVal([k, v]) for k, v in zip(keys, values)]
        return keys if it.func.attr == "keys" else values

    def maybe_runs(self, body: list[ast.stmt], env: dict, functions: list, why: str, loop: bool = False) -> None:
        """A loop body or an except block: it may run or not; what it changes in shared objects
        is kept only where every path agrees."""
        guard = Guard(None, {}, True, why)
        before = dict(env)
        if loop:
            self.loops.append(None)  # its own `break`s and `continue`s
        try:
            with journal.recording() as changes, self.guarded(guard):
                self.block(body, env, functions)
        finally:
            if loop:
                self.loops.pop()
        # a name it binds has its new value only if it ran (`w = 5` in a loop that may run no time)
        for name in [n for n in {*env, *before} if env.get(n) is not before.get(n)]:
            env[name] = self.either(name, env.get(name), before.get(name), guard)
        after = changes.now()
        for container, key, original in list(changes.old.values()):
            self.settle_slot(container, key, [original, after[(id(container), key)]], guard)

    def updates_vars(self, expr: ast.Call, env: dict) -> bool:
        """`vars(args).update(cfg)` / `args.__dict__.update(cfg, n=12)`: the object's attributes change."""
        func = expr.func
        if not (isinstance(func, ast.Attribute) and func.attr == "update" and len(expr.args) <= 1
                and (expr.args or expr.keywords)):
            return False
        inner = func.value
        if isinstance(inner, ast.Call) and self.pf.dotted(inner.func) == "vars" and len(inner.args) == 1:
            obj = self.ev(inner.args[0], env)
        elif isinstance(inner, ast.Attribute) and inner.attr == "__dict__":
            obj = self.ev(inner.value, env)
        else:
            return False
        if isinstance(obj, (SourceVal, At)):
            obj = self.saved_namespace(obj)  # `vars(ckpt["args"]).update(...)`
        if not isinstance(obj, ObjVal):
            return False
        updates: dict[str, Any] = {}
        for arg in expr.args:
            data = self.attrs_data(self.ev(arg, env))
            if data is None:
                self.clobber(obj, f"`{self.pf.segment(expr)}` may set any attribute of it")
                return True
            updates.update(data)
        for k in expr.keywords:
            if k.arg is None:
                self.clobber(obj, f"`{self.pf.segment(expr)}` may set any attribute of it")
                return True
            updates[k.arg] = self.ev(k.value, env)
        for name, value in updates.items():
            journal.put(obj.attrs, name, value)
        return True


    def attrs_data(self, data: Any) -> dict[str, Const] | None:
        """Attributes given as data (a dict literal, a JSON file, a dict the checkpoint holds):
        name -> value; None when they are not known plain data with string keys."""
        if isinstance(data, JsonFile):
            data = config_data.read_data(self, data)
        elif isinstance(data, (SourceVal, At)):
            data = self.concrete(data)  # the chatbot tutorial's `voc.__dict__ = checkpoint["voc_dict"]`
        else:
            data = config_data.as_const(data)
        if not (isinstance(data, Const) and isinstance(data.value, dict) and all(isinstance(k, str) for k in data.value)):
            return None
        return {k: Const(v, data.origin) for k, v in data.value.items()}

    def replace_attrs(self, obj: ObjVal, value: Any, stmt: ast.stmt) -> None:
        """`obj.__dict__ = data`: its attributes are the data's items and nothing else."""
        data = self.attrs_data(value)
        if data is None:
            self.clobber(obj, f"`{one_line(self.pf.segment(stmt))}` replaces its attributes with values not known statically")
            return
        for name in list(obj.attrs):
            if name not in data:
                journal.put(obj.attrs, name, journal.MISSING)
        for name, v in data.items():
            journal.put(obj.attrs, name, v)


def _items(seq: Any, ev) -> list[Any] | None:
    """The items a `for` walks over, when the collection is known."""
    if isinstance(seq, SeqVal):
        return seq.items
    if isinstance(seq, FileHandle):
        return items_of(seq, ev)  # `for line in f:` of a text file
    if isinstance(seq, Const) and isinstance(seq.value, (list, tuple, str, dict, range)):
        if len(seq.value) > MAX_UNROLL:  # never unrolled: `for step in range(10**6)` makes no million values
            return None
        return [Const(v, seq.origin) for v in seq.value]
    return None


def _own_loop_nodes(stmt: ast.For):
    stack = list(stmt.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _wraps_a_model(stmt: ast.If, pf) -> bool:
    """Either branch wraps a model (DataParallel, DistributedDataParallel, ...): which one runs
    changes the keys a load expects."""
    from weightmatch.evaluate import WRAPPERS

    return any(isinstance(n, ast.Call) and pf.dotted(n.func) in WRAPPERS
               for branch in (stmt.body, stmt.orelse) for s in branch for n in ast.walk(s))
