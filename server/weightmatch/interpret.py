"""Walks a file's statements in program order and finds every load_state_dict call,
with what its receiver and its argument are (see values.py).

Nothing here runs user code: values are tracked symbolically. Module level first (an
`if __name__ == "__main__":` body included), then each function and method body with
its parameters unknown.
"""

from __future__ import annotations

import ast
import contextlib
import os
from typing import Any

from weightmatch import (cli_apps, config_changes, const_mutation, disk_paths, environment, journal, library_calls, plain,
                         pytest_runs, unset_variables, yacs_values)
from weightmatch.calls import CallsMixin
from weightmatch.signals import ExitSignal, ReturnSignal
from weightmatch.exits import ExitsMixin, one_line, retry_loads
from weightmatch.paths import PathsMixin
from weightmatch.lightning_loads import LightningLoadsMixin
from weightmatch.load_sites import LoadSitesMixin
from weightmatch.model_changes import ModelChangesMixin, sets_values_only, tensor_item
from weightmatch.scopes import global_writes
from weightmatch.self_loads import SelfLoadsMixin, loads_itself
from weightmatch.state_dict_loops import StateDictLoopsMixin, forget_loop_names
from weightmatch.substitute import SubstituteMixin
from weightmatch.evaluate import HARMLESS, STRIP_PREFIX, Evaluator
from weightmatch.method_calls import SELF_RETURNING
from weightmatch.pyfile import PyFile
from weightmatch.values import (
    CURRENT_GUARDS, At, ClassVal, Const, FuncVal, Guard, LoadSite, ModelAttr, ModelPart, ModelVal, ModVal,
    ObjVal, Op, SeqVal, SourceVal, Step, TorchLoadSite, Unknown, frozen, now,
)

__all__ = ["Interpreter", "interpret"]

UNITTEST_CASES = {"unittest.TestCase", "unittest.case.TestCase"}
MUTATING_DICT_METHODS = {"pop", "popitem", "update", "clear", "setdefault", "__setitem__", "__delitem__"}


class Interpreter(ExitsMixin, PathsMixin, CallsMixin, SelfLoadsMixin, StateDictLoopsMixin, SubstituteMixin,
                  LoadSitesMixin, LightningLoadsMixin, ModelChangesMixin, Evaluator):
    def __init__(self, pf: PyFile, root: str | None = None, load=None, argv: list[str] | None = None,
                 argv_source: str = "", read_value=None):
        self.pf = pf
        self.sites: list[LoadSite] = []
        self.torch_loads: list[TorchLoadSite] = []
        self.saved: dict[str, Any] = {}  # path written by torch.save -> what was saved
        self.unknown_saves: list[Unknown] = []  # torch.save calls whose path is unknown, this entry point
        self.setup_program(root or "/\0none", load or (lambda path: None), pf, argv, argv_source, read_value)

    # ------------------------------------------------------------------ driving
    def run(self) -> "Interpreter":
        """The file's top level (its `__main__` block included), following the calls it makes;
        then every function and method nothing called, with its parameters unknown (or at
        their defaults when every parameter has one, `*args`/`**kwargs` empty)."""
        env: dict[str, Any] = {"__file__": Const(self.pf.path)}
        self.module_envs[self.pf.path] = env
        functions: list[tuple[ast.AST, str]] = []
        body = self.pf.tree.body
        for i, stmt in enumerate(body):
            try:
                self.block([stmt], env, functions)
            except ExitSignal as stop:
                self.not_reached(stop, stmt, body[i + 1:], env, functions)
                break
        globals_ = dict(env)
        while functions:
            fn, owner = functions.pop(0)
            if self.called.get(id(fn)):
                continue
            command = cli_apps.command_run(self, FuncVal(self.pf, fn)) if not owner else None
            if command is not None:  # a click group's command, run by its name
                functions.extend(self.run_uncalled(fn, owner, globals_, *command))
                continue
            runs = pytest_runs.parameter_sets(fn, self.pf.dotted, lambda e: self.ev(e, globals_)) \
                if not owner else None
            for run in runs or [None]:
                context = f"{fn.name}() as called from pytest with {pytest_runs.describe(run)}" if run is not None else ""
                functions.extend(self.run_uncalled(fn, owner, globals_, run, context))
        return self

    def run_uncalled(self, fn: Any, owner: str, globals_: dict, run: dict[str, Any] | Unknown | None,
                     context: str = "") -> list:
        """A function nothing calls, its parameters unknown (at their defaults when every one has
        one, `*args`/`**kwargs` empty), or the `run` pytest or click makes of it (its arguments,
        or why they are unknown), said as `context`; the functions it defines."""
        local = dict(globals_)
        for name in global_writes(self.pf) & local.keys():  # whichever ran before it may have rebound it
            local[name] = Unknown(f"`{name}` may be rebound by a function that declares it global")
        params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        defaults = dict(zip([a.arg for a in [*fn.args.posonlyargs, *fn.args.args]][
            len(fn.args.posonlyargs) + len(fn.args.args) - len(fn.args.defaults):], fn.args.defaults))
        defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
        # called bare (a hub entry point, `def dino_vits16(pretrained=True, **kwargs)`): `*args`
        # and `**kwargs` are empty
        every_default = (params or fn.args.vararg or fn.args.kwarg) and not owner \
            and all(a.arg in defaults for a in params) \
            and (not (fn.args.vararg or fn.args.kwarg) or loads_itself(fn))
        test_self = self.test_instance(fn, owner, globals_)
        for a in params:
            if test_self is not None and a is params[0]:
                local[a.arg] = test_self
            elif isinstance(run, Unknown):
                local[a.arg] = run
            elif run is not None and a.arg in run:
                local[a.arg] = run[a.arg]
            elif every_default:
                local[a.arg] = self.ev(defaults[a.arg], globals_)
            else:
                skipped = self.skipped_calls.get(id(fn))
                local[a.arg] = Unknown(f"`{a.arg}` is a parameter of {owner}{fn.name}(), known only at run time"
                                       + (f"; {skipped}" if skipped else ""))
        if fn.args.vararg is not None:
            local[fn.args.vararg.arg] = SeqVal([]) if every_default else \
                Unknown(f"`{fn.args.vararg.arg}` is a parameter of {owner}{fn.name}()")
        if fn.args.kwarg is not None:
            local[fn.args.kwarg.arg] = Const({}) if every_default else \
                Unknown(f"`{fn.args.kwarg.arg}` is a parameter of {owner}{fn.name}()")
        nested: list[tuple[ast.AST, str]] = []
        self.called_in_run = {}  # each entry point (each pytest set) follows its own calls
        self.unknown_saves = []
        self.returns.append([])
        self.return_tests.append([])
        self.guard_depth.append(len(CURRENT_GUARDS.get()))
        if context:
            self.contexts.append(context)
        uncalled = run is None and test_self is None  # (a pytest / click run is one the user makes)
        self.uncalled_runs += uncalled
        try:
            self.block(fn.body, local, nested)
        except (ReturnSignal, ExitSignal):
            pass
        finally:
            self.uncalled_runs -= uncalled
            self.returns.pop()
            self.return_tests.pop()
            self.guard_depth.pop()
            if context:
                self.contexts.pop()
        return nested

    def test_instance(self, fn: Any, owner: str, globals_: dict) -> ObjVal | None:
        """`self` of a test method as unittest or pytest runs it: an object of the class (a
        `unittest.TestCase`, or a pytest `Test*` class without `__init__`) made without arguments,
        its `setUp` / `setup_method` run first; None for any other method."""
        cls = globals_.get(owner[:-1]) if owner else None
        if not (isinstance(cls, ClassVal) and cls.file is self.pf and fn.name.startswith("test") and fn.args.args):
            return None
        chain = self.class_chain(cls)
        unit = any((c.file.dotted(b) or "") in UNITTEST_CASES for c in chain for b in c.node.bases)
        if not unit and not (cls.node.name.startswith("Test") and self.class_attr(cls, "__init__") is None
                             and all((chain[-1].file.dotted(b) or "") == "object" for b in chain[-1].node.bases)):
            return None
        obj = ObjVal({}, cls.node.name, cls)
        setup = self.class_attr(cls, "setUp" if unit else "setup_method")
        if isinstance(setup, FuncVal):
            self.call_function(FuncVal(setup.file, setup.node, setup.owner, obj),
                               [] if unit else [Unknown("the test method pytest passes to setup_method")], {}, fn)
        return obj

    def block(self, body: list[ast.stmt], env: dict, functions: list) -> None:
        for i, stmt in enumerate(body):
            try:
                self.statement(stmt, env, functions)
            except RecursionError:
                # too deeply nested to follow: what it binds is not known (never its old value)
                for name in _bound_names(stmt):
                    env[name] = Unknown(f"`{name}` is set by code too deeply nested to follow (line {stmt.lineno})")
                continue
            if self.returns and _returns_early(stmt) and self.static_test(stmt.test, env) is None:
                # `if not os.path.isfile(p): return`: the rest runs only when the test is false
                with self.guarded(Guard(stmt.test, self.free_env(stmt.test, env), False)):
                    self.block(body[i + 1:], env, functions)
                return

    def statement(self, stmt: ast.stmt, env: dict, functions: list) -> None:
        # a call the statement makes is followed once: evaluating a part of it again (to write
        # a model's arguments into its recipe) reuses the result, as the side effects ran once
        self.call_memo.append({})
        try:
            self._statement(stmt, env, functions)
        finally:
            self.call_memo.pop()

    def _statement(self, stmt: ast.stmt, env: dict, functions: list) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append((stmt, ""))
            self.define(stmt, env)
            return
        if isinstance(stmt, ast.ClassDef):
            for item in stmt.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((item, stmt.name + "."))
            self.define(stmt, env)
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.bind_import(stmt, env)
            return
        if isinstance(stmt, (ast.Return, ast.Raise)) and self.returns:
            if isinstance(stmt, ast.Return):
                self.find_loads(stmt, env)
                self.returns[-1].append(self.ev(stmt.value, env) if stmt.value is not None else Const(None))
                inside = CURRENT_GUARDS.get()[self.guard_depth[-1]:]
                if inside and not self.return_tests[-1]:  # the first test a return depends on
                    self.return_tests[-1].append(self.guard_reason(inside[0]))
            if len(CURRENT_GUARDS.get()) == self.guard_depth[-1]:
                raise ReturnSignal()
            return
        if isinstance(stmt, (ast.Break, ast.Continue)):
            self.jump(stmt)
            return
        self.find_loads(stmt, env)
        stop = self.exit_signal(stmt, env)
        if stop is not None:
            raise stop
        if isinstance(stmt, ast.Assign):
            value = self.ev(stmt.value, env)
            for target in stmt.targets:
                self.assign(target, value, stmt, env)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.assign(stmt.target, self.ev(stmt.value, env), stmt, env)
        elif isinstance(stmt, ast.AugAssign):  # `dim //= 2`; `widths += [64]` changes the list itself
            call = const_mutation.in_place_call(self, stmt, env)
            if call is not None:
                self.effect(call, stmt, env)
            else:
                self.assign(stmt.target, self.ev(const_mutation.binop(stmt), env), stmt, env)
        elif isinstance(stmt, ast.Expr):
            self.effect(stmt.value, stmt, env)
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                held = self.ev(t.value, env) if isinstance(t, (ast.Attribute, ast.Subscript)) else None
                if isinstance(held, (ModelVal, ModelAttr)):  # `del model.fc`, `del seq[2]`, `del m.fc.bias`
                    owner, path = self.attr_path(t, env)
                    while isinstance(owner, ObjVal) and len(path) > 1:  # `del trainer.net.head`
                        owner, path = owner.attrs.get(path[0]), path[1:]
                    if isinstance(owner, (ModelVal, ModelAttr)) and path and len(stmt.targets) == 1:
                        self.model_step(owner, stmt, env, path)
                    else:
                        self.changed_blindly(held, stmt, f"by `del {one_line(self.pf.segment(t))}`")
                    continue
                if isinstance(t, ast.Attribute) and t.attr == "_metadata":
                    base = self.ev(t.value, env)
                    if isinstance(base, SourceVal):  # `del state_dict._metadata`: versions gone (BatchNorm's fix-up)
                        base.ops.append(Op("drop-metadata", None, t))
                if isinstance(t, ast.Subscript):
                    base = self.ev(t.value, env)
                    if isinstance(base, Const) and isinstance(base.value, (dict, list)):
                        const_mutation.rebind(self, t.value, Unknown(
                            f"`del {self.pf.segment(t)}` changes it"), env)
                    if isinstance(base, SourceVal):
                        base.ops.append(Op("del", self.ev(t.slice, env), t))
        elif isinstance(stmt, ast.If):
            self.branches(stmt, env, functions)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                value = self.ev(item.context_expr, env)
                if isinstance(item.optional_vars, ast.Name):
                    env[item.optional_vars.id] = value
            self.block(stmt.body, env, functions)
        elif isinstance(stmt, ast.For):
            stepped = self.loop_changes_modules(stmt, env)
            try:
                if self.state_dict_loop(stmt, env):
                    forget_loop_names(stmt, env)
                elif not self.unrolled(stmt, env, functions):
                    self.maybe_runs(stmt.body, env, functions, "inside a loop", loop=True)
            finally:
                self.replaying.discard(stepped)
            self.block(stmt.orelse, env, functions)
        elif isinstance(stmt, ast.While):
            self.maybe_runs(stmt.body, env, functions, "inside a loop", loop=True)
        elif isinstance(stmt, ast.Try) and unset_variables.run_try(self, stmt, env, functions):
            pass  # `try: rank = int(os.environ["RANK"]) except KeyError: rank = 0`: the bare run's handler
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.try_depth += bool(stmt.handlers)
            try:
                self.block(stmt.body, env, functions)
            finally:
                self.try_depth -= bool(stmt.handlers)
            for h in stmt.handlers if not disk_paths.reads_files_there(self, stmt, env) else ():
                first = len(self.sites)
                self.maybe_runs(h.body, env, functions, "in an except block")
                retried = retry_loads(self.pf, stmt, h)
                for site in self.sites[first:]:
                    if id(site.call) in retried and not site.unreached:
                        site.unreached = retried[id(site.call)]
            self.block(stmt.orelse, env, functions)
            self.block(stmt.finalbody, env, functions)

    @contextlib.contextmanager
    def guarded(self, guard: Guard):
        token = CURRENT_GUARDS.set((*CURRENT_GUARDS.get(), guard))
        try:
            yield
        finally:
            CURRENT_GUARDS.reset(token)

    def static_test(self, test: ast.expr, env: dict | None = None) -> bool | None:
        """`if __name__ == "__main__":` (true in the file analysed, false in the modules it
        imports) and tests over known values; None when known only at run time."""
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
            return self.pf is self.entry
        if isinstance(test, ast.Constant):
            return bool(test.value)
        if self.pf.dotted(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING", "typing_extensions.TYPE_CHECKING"):
            return False  # false when the script runs (its imports exist for type checkers only)
        if env is None:
            return None
        value = self.ev(test, env)
        self.test_origin = value.origin if isinstance(value, Const) else ""  # (branches(): what it assumed)
        self.test_reason = value.reason if isinstance(value, Unknown) else ""
        return plain.truth_of(self, value)

    # ------------------------------------------------------------------ assignment
    def assign(self, target: ast.expr, value: Any, stmt: ast.stmt, env: dict) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, ModelAttr) and isinstance(stmt, ast.Assign) and self.recording and \
                    value.path != value.model.wrappers[-1:]:  # `net = net.module` unwraps: nothing to replay
                # `num_ftrs = model.fc.in_features`: later steps read it, so the recipe replays it too
                value.model.steps.append(Step(self.pf.segment(stmt), stmt, subs=self.step_subs(stmt, env, value.model)))
            if isinstance(value, ModelVal) and value.pending_wrap is not None:
                value.steps.append(Step(f"{target.id} = {self.pf.segment(value.pending_wrap)}", stmt,
                                        wrap=value.wrappers[-1] if value.wrappers else ""))
                value.pending_wrap = None
                value.final_name = target.id
                env[target.id] = value
                return
            if isinstance(value, ModelVal) and value.var and value.var != target.id and any(
                    isinstance(v, ModelVal) and v.id == value.id for v in env.values()):
                # an alias of a tracked model: later steps may use either name
                value.steps.append(Step(f"{target.id} = {value.var}", stmt))
            elif isinstance(value, ModelVal) and not value.var:
                value.var = value.final_name = target.id
            env[target.id] = value
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            if isinstance(target, ast.Subscript) and environment.assign(self, target, value, env):
                return  # `os.environ["HIDDEN"] = "96"`
            if isinstance(target, ast.Subscript) and self.own_setitem(target, value, stmt, env):
                return  # VITS's HParams: `self[k] = v` through its own `__setitem__`
            if isinstance(target, ast.Attribute) and const_mutation.setattr_data(self, target, value, env):
                return  # `config.model.params.embed_dim = 4` on OmegaConf data
            if tensor_item(target) and isinstance(self.ev(target.value, env), (ModelVal, ModelAttr)):
                return  # `model.embed.weight[0] = 0`: values only, no key or shape changes
            owner, path = self.attr_path(target, env)
            if not path:
                held = self.ev(target.value, env)
                if isinstance(held, (ModelVal, ModelAttr)):  # `seq[i] = nn.PReLU()`, `i` not known here
                    self.changed_blindly(held, stmt, f"by `{one_line(self.pf.segment(target))} = …`")
                    return
            if path and yacs_values.assign(owner, path, value, isinstance(target, ast.Attribute)):
                return  # `cfg.MODEL.NUM_CLASSES = 10` on a yacs config
            if isinstance(target, ast.Attribute) and (isinstance(owner, (SourceVal, At)) or owner is None and not path):
                if self.set_saved_attr(target, value, env):
                    return  # `ckpt["args"].n = len(CLASSES)`
            while isinstance(owner, ObjVal) and len(path) > 1:  # `self.net.net[-1] = ...` in a Trainer
                owner, path = owner.attrs.get(path[0], Unknown("")), path[1:]
            if isinstance(owner, ObjVal) and path == ["__dict__"] and isinstance(target, ast.Attribute):
                self.replace_attrs(owner, value, stmt)
                return
            if isinstance(owner, ObjVal) and len(path) == 1 and isinstance(target, ast.Attribute):
                journal.put(owner.attrs, path[0], value)  # `self.G = Generator(...)`, `args.lr = 0.1`
                return
            if isinstance(owner, ModVal) and len(path) == 1 and isinstance(target, ast.Attribute):
                journal.put(self.module_env(owner.file), path[0], value)
                return
            if isinstance(owner, ModelVal) and len(path) == 1 and isinstance(target, ast.Attribute):
                self.set_model_data(owner, target, value)  # `self.opts = opts` in its followed `__init__`
            if isinstance(owner, (ModelVal, ModelAttr)) and self.being_made(owner):
                return  # `self.fc = ...` in the model's own __init__: the construction itself
            if isinstance(owner, ModelPart):  # `parent.q_proj = LoraLinear(...)`, `parent` found at run time
                self.changed_blindly(owner, stmt, f"by `{one_line(self.pf.segment(target))} = …`")
                return
            if isinstance(owner, (ModelVal, ModelAttr)) and isinstance(target.value, ast.Attribute) and \
                    _root_name(target) not in ("self",) and not isinstance(env.get(_root_name(target)), ModelVal):
                # `self.model.fc = ...`: the recipe cannot replay a step written through another object
                model = owner if isinstance(owner, ModelVal) else owner.model
                with self.guarded(Guard(None, {}, True, f"through `{self.pf.segment(target.value)}`")):
                    model.steps.append(Step(self.pf.segment(stmt), stmt, ""))
                return
            if isinstance(owner, ModelVal):
                owner.steps.append(Step(self.pf.segment(stmt), stmt, ".".join(path),
                                        subs=self.step_subs(stmt, env, owner), file=self.pf))
                return
            if isinstance(owner, ModelAttr):
                owner.model.steps.append(Step(self.pf.segment(stmt), stmt, ".".join([*owner.path, *path]),
                                              file=self.pf))
                return
            if isinstance(target, ast.Subscript):
                if const_mutation.setitem(self, target, value, env):
                    return  # `kw["num_classes"] = 5` on known data
                base = self.ev(target.value, env)
                if isinstance(base, SourceVal):
                    base.ops.append(Op("setitem", (self.ev(target.slice, env), frozen(value)), target))
                elif isinstance(base, (ModelVal, ModelAttr)) and not tensor_item(target):
                    self.changed_blindly(base, stmt, f"by `{one_line(self.pf.segment(target))} = …`")
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            items = value.items if isinstance(value, SeqVal) else \
                [Const(v, value.origin) for v in value.value] if isinstance(value, Const) and \
                isinstance(value.value, (tuple, list)) else None
            if items is not None and len(items) == len(target.elts) and \
                    not any(isinstance(e, ast.Starred) for e in target.elts):
                for elt, item in zip(target.elts, items):
                    self.assign(elt, item, stmt, env)
                return
            for elt in target.elts:  # what made the whole unknown says why each part is (`self.n, self.m = x.shape`)
                elt = elt.value if isinstance(elt, ast.Starred) else elt
                self.assign(elt, value if isinstance(value, Unknown) else
                            Unknown(f"`{self.pf.segment(elt)}` comes from unpacking"), stmt, env)

    def set_saved_attr(self, target: ast.Attribute, value: Any, env: dict) -> bool:
        """An attribute set on an object read from a checkpoint: on a saved namespace it is that
        namespace's (later reads see it); on anything else read from it, that value is no longer
        known. False when the target is not read from a checkpoint."""
        held = self.ev(target.value, env)
        if not isinstance(held, (SourceVal, At)):
            return False
        ns = self.saved_namespace(held)
        if ns is not None:
            journal.put(ns.attrs, target.attr, value)
        elif target.attr != "_metadata":  # (`sd._metadata = meta` as before: metadata kept by the copy)
            source = held
            while isinstance(source, At):
                source = source.value
            if isinstance(source, SourceVal):
                source.ops.append(Op("unknown", f"`{self.pf.segment(target)} = ...`", target))
        return True

    def attr_path(self, target: ast.expr, env: dict) -> tuple[Any, list[str]]:
        """`model.classifier[6]` -> (the model value, ["classifier", "6"])."""
        path: list[str] = []
        node = target
        while True:
            if isinstance(node, ast.Attribute):
                path.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Subscript):
                idx = self.ev(node.slice, env)
                if not isinstance(idx, Const) or not isinstance(idx.value, (int, str)):
                    return None, []
                path.append(str(idx.value))
                node = node.value
            else:
                break
        if not isinstance(node, ast.Name):
            return None, []
        return env.get(node.id), list(reversed(path))

    # ------------------------------------------------------------------ side effects
    def effect(self, expr: ast.expr, stmt: ast.stmt, env: dict) -> None:
        if not isinstance(expr, ast.Call):
            return
        func = expr.func
        dotted = self.pf.dotted(func)
        if dotted in ("torch.save", "torch.serialization.save") and len(expr.args) >= 2:
            self.torch_save(expr, env)
            return
        if dotted in ("sys.path.insert", "sys.path.append"):
            self.ev(expr, env)  # a folder later imports look in (file_paths.call)
            return
        if dotted in environment.WRITES or dotted == "fire.Fire":
            # `os.environ.setdefault("HIDDEN", "96")`: what later reads get; `fire.Fire(Predictor)`
            # runs it (library_calls._fire)
            self.ev(expr, env)
            return
        if dotted in STRIP_PREFIX and len(expr.args) >= 2:
            sd = self.ev(expr.args[0], env)
            if isinstance(sd, SourceVal):
                sd.ops.append(Op("strip-prefix", self.ev(expr.args[1], env), expr))
            return
        if self.updates_vars(expr, env):
            return
        if config_changes.change(self, expr, env):
            return  # `cfg.merge_with_dotlist(overrides)`, `OmegaConf.update(cfg, "model.depth", 4)`
        if isinstance(func, ast.Attribute):
            owner = self.ev(func.value, env)
            if const_mutation.module_list(self, owner, expr, env) is not None:
                return  # `layers.append(nn.Linear(4, 4))`
            if isinstance(owner, SourceVal) and func.attr == "update" and len(expr.args) == 1 and not expr.keywords:
                merged = self.ev(expr.args[0], env)
                if isinstance(merged, (SourceVal, At)):  # `state_dict = {}` merging shards read from files
                    owner.ops.append(Op("update", frozen(merged), expr))
                    return
            data = const_mutation.known_data(self, owner, func.attr)
            if data is not None:
                const_mutation.call(self, data, expr, env, direct=data is owner)  # `kw.setdefault("num_classes", 5)`
                return
            if isinstance(owner, SourceVal):
                if func.attr == "pop" and expr.args:
                    owner.ops.append(Op("pop", self.ev(expr.args[0], env), expr))
                elif func.attr == "update" and expr.args:
                    owner.ops.append(Op("update", frozen(self.ev(expr.args[0], env)), expr))
                elif func.attr in MUTATING_DICT_METHODS:
                    owner.ops.append(Op("unknown", f"`{self.pf.segment(expr)}`", expr))
                return
            if isinstance(owner, ModelVal) and func.attr in ("eval", "train") and not self.being_made(owner):
                mode = Const(False) if func.attr == "eval" else self.ev(expr.args[0], env) if expr.args else Const(True)
                known = isinstance(mode, Const) and not expr.keywords and not CURRENT_GUARDS.get()  # (not in a loop)
                owner.modes.append((now(), bool(mode.value) if known else None))
            if isinstance(owner, (ModelVal, ModelAttr)) and self.method_of_model(owner, func.attr) is not None:
                self.call_value(self.method_of_model(owner, func.attr), expr, env)
                return
            if isinstance(owner, (ModelVal, ModelAttr)) and func.attr == "apply" and len(expr.args) == 1 and \
                    not expr.keywords and isinstance(self.ev(expr.args[0], env), FuncVal) and \
                    sets_values_only(self.ev(expr.args[0], env)):
                return  # `net.apply(init_func)`: values only, no key or shape changes
            if isinstance(owner, (ModelVal, ModelAttr)) and func.attr not in SELF_RETURNING | {
                    "load_state_dict", "state_dict", "parameters", "named_parameters", "modules",
                    "named_modules", "children", "forward", "__call__"}:
                model = owner if isinstance(owner, ModelVal) else owner.model
                if not self.being_made(model):
                    model.steps.append(Step(self.pf.segment(stmt), stmt, subs=self.step_subs(stmt, env, model)))
                return
        if dotted in ("setattr", "delattr") and len(expr.args) in (2, 3):
            obj, name = self.ev(expr.args[0], env), self.ev(expr.args[1], env)
            if isinstance(obj, ModelPart):  # PEFT's `setattr(parent, target_name, LoraLinear(...))`
                self.changed_blindly(obj, stmt, f"by `{one_line(self.pf.segment(expr))}`")
                return
            if isinstance(obj, (ModelVal, ModelAttr)):  # `setattr(model, "head", nn.Linear(8, 3))`
                if isinstance(name, Const) and isinstance(name.value, str) and isinstance(stmt, ast.Expr):
                    self.model_step(obj, stmt, env, name.value.split("."))
                else:
                    self.changed_blindly(obj, stmt, f"by `{one_line(self.pf.segment(expr))}`")
                return
        if (parts := library_calls.setattr_parts(expr)) and not library_calls.set_known_attr(self, expr, env):
            if isinstance(obj := self.ev(parts[0], env), ObjVal):
                self.clobber(obj, f"`{self.pf.segment(expr)}` may set any attribute of it")
                return
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and \
                self.pf.dotted(func.value.func) == "super" and isinstance(env.get("self"), ObjVal):
            self.ev(expr, env)  # `super().__init__(opt)` in a Trainer's method: followed
            return
        callee = self.ev(func, env) if isinstance(func, (ast.Name, ast.Attribute)) and \
            _root_name(func) in env else None
        if isinstance(callee, (FuncVal, ObjVal)) or type(callee).__name__ in ("ClassVal", "BoundMethod"):
            self.ev(expr, env)  # followed: its loads are found inside
            return
        if self.library_change(expr, stmt, env):
            return
        if isinstance(func, ast.Name) and func.id in HARMLESS:
            for arg in [*expr.args, *(k.value for k in expr.keywords)]:
                if any(isinstance(n, ast.Call) for n in ast.walk(arg)):
                    self.ev(arg, env)  # `print(Tagger(args).tag(x))`: the calls inside still run
            return
        # a tracked object handed to a function defined in this file: replay the call
        if isinstance(func, ast.Name) and func.id not in HARMLESS:
            for arg in [*expr.args, *(k.value for k in expr.keywords)]:
                value = self.ev(arg, env) if isinstance(arg, ast.Name) else None
                if isinstance(value, ModelVal) and self.defined_here(func.id):
                    value.steps.append(Step(self.pf.segment(stmt), stmt))
                elif isinstance(value, SourceVal):
                    value.ops.append(Op("unknown", f"passed to `{func.id}()`, which may change it", expr))

    def torch_save(self, call: ast.Call, env: dict) -> None:
        """`torch.save(obj, path)`: a later `torch.load(path)` in this run reads `obj`, not the
        file on disk; one whose path is unknown may overwrite any file a later load reads."""
        path = self.ev(call.args[1], env)
        where = f"`torch.save` at {os.path.basename(self.pf.path)}:{call.lineno}"
        if not (isinstance(path, Const) and isinstance(path.value, str)):
            self.unknown_saves.append(Unknown(f"{where} may write it first (the path it writes is known only "
                                              "at run time)"))
            return
        value = frozen(self.ev(call.args[0], env))
        self.saved[path.value] = value if isinstance(value, (At, SourceVal)) else \
            Unknown(f"{where} writes it first, with a value not known statically")

    def defined_here(self, name: str) -> bool:
        return any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name for n in self.pf.tree.body) \
            or name in self.pf.imports


def _bound_names(stmt: ast.stmt) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
        [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For)) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _root_name(node: ast.AST) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def interpret(pf: PyFile, root: str | None = None, load=None, argv: list[str] | None = None,
              argv_source: str = "", read_value=None, cwd: str | None = None,
              shared_envs: dict | None = None, env_vars: tuple[dict, str] | None = None) -> Interpreter:
    interp = Interpreter(pf, root, load, argv, argv_source, read_value)
    interp.cwd = cwd
    interp.shared_envs = shared_envs
    interp.env_vars, interp.env_source = env_vars or ({}, "")
    return interp.run()


def _returns_early(stmt: ast.stmt) -> bool:
    """`if <test>: ... return` with no else: what follows runs only when the test is false.
    (An `if` that raises needs no guard: had it raised, no load would follow.)"""
    return isinstance(stmt, ast.If) and not stmt.orelse and bool(stmt.body) and isinstance(stmt.body[-1], ast.Return)
