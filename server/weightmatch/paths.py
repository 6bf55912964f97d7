"""The paths a run may take that the interpreter cannot decide: both branches of an `if` whose
test is known only at run time, a loop body or an `except` block that may run or not, and what
they leave behind: names bound differently become conditional or unknown values, and the changes
they made to objects both paths share (journal.py) are settled slot by slot. Part of the
Interpreter (interpret.py): needs `block`, `guarded`, `free_env`, `static_test` and `pf`."""

from __future__ import annotations

import ast
from typing import Any

from weightmatch import journal, plain, yacs_values
from weightmatch.values import CondVal, Const, Guard, JsonFile, MaybeUnset, ObjVal, SourceVal, Unknown


class PathsMixin:
    def branches(self, stmt: ast.If, env: dict, functions: list) -> None:
        """Both branches of an `if`; names bound differently become conditional values."""
        known = self.static_test(stmt.test, env)
        if known is not None:
            self.block(stmt.body if known else stmt.orelse, env, functions)
            return
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
        if journal.MISSING in (a, b):
            value: Any = MaybeUnset(f"`{key}` is set only on some paths: it {self.depends(guard)[3:]}")
        else:
            value = self.either(key, a, b, guard)
        journal.put(container, key, value)

    def maybe_runs(self, body: list[ast.stmt], env: dict, functions: list, why: str) -> None:
        """A loop body or an except block: it may run or not; what it changes in shared objects
        is kept only where every path agrees."""
        guard = Guard(None, {}, True, why)
        with journal.recording() as changes, self.guarded(guard):
            self.block(body, env, functions)
        after = changes.now()
        for container, key, original in list(changes.old.values()):
            self.settle_slot(container, key, [original, after[(id(container), key)]], guard)

    def updates_vars(self, expr: ast.Call, env: dict) -> bool:
        """`vars(args).update(cfg)` / `args.__dict__.update(cfg)`: the object's attributes change."""
        func = expr.func
        if not (isinstance(func, ast.Attribute) and func.attr == "update" and len(expr.args) == 1):
            return False
        inner = func.value
        if isinstance(inner, ast.Call) and self.pf.dotted(inner.func) == "vars" and len(inner.args) == 1:
            obj = self.ev(inner.args[0], env)
        elif isinstance(inner, ast.Attribute) and inner.attr == "__dict__":
            obj = self.ev(inner.value, env)
        else:
            return False
        if not isinstance(obj, ObjVal):
            return False
        data = self.ev(expr.args[0], env)
        data = plain.read_data(self, data) if isinstance(data, JsonFile) else plain.as_const(data)
        if isinstance(data, Const) and isinstance(data.value, dict) and all(isinstance(k, str) for k in data.value):
            for k, v in data.value.items():
                journal.put(obj.attrs, k, Const(v, data.origin))
        else:
            self.clobber(obj, f"`{self.pf.segment(expr)}` may set any attribute of it")
        return True
