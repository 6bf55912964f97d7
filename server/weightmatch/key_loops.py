"""Loops over a state dict's keys, run by keyexpr's evaluator over the real key names:
`for k, v in sd.items(): if "fc1" in k: new[k] = v` (into a new dict) and
`for k in list(sd): if k.startswith("module."): sd[k[7:]] = sd.pop(k)` (in place), with
`continue` / `break` and a loop body that calls nothing the evaluator does not know.
Anything else raises Unresolvable: nothing a user wrote is executed."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from typing import Any

from weightmatch.keyexpr import Evaluator, Methods, Raises, Unresolvable, items_target, unwrap, wrap


def run_loop(node: ast.For, source: Mapping, dest_name: str, env: dict[str, Any]) -> dict:
    """Evaluate `for k, v in source.items(): ... dest[K] = V ...` and return what it stores."""
    kname, vname = items_target(node)  # type: ignore[arg-type]
    body = _LoopBody(dest_name, env)

    def bind(key: Any) -> None:
        body.scope[kname] = key
        body.scope[vname] = wrap(source[key])

    _run_passes(list(source), bind, body, node.body)
    return body.stored


def _run_passes(keys: list, bind, body, stmts: list[ast.stmt]) -> None:
    """A loop's body once per key, as Python runs it (`continue`, `break`); any other error
    the body would raise makes the loop unresolvable, naming the key."""
    for key in keys:
        bind(key)
        try:
            body.run(stmts)
        except _Continue:
            continue
        except _Break:
            break
        except Unresolvable:
            raise
        except Exception as exc:
            raise Unresolvable(f"the loop raises {type(exc).__name__} for key {key!r}") from None


class _Continue(Exception):
    pass


class _Break(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


_NOT_A_METHOD = object()


def _control_flow(body: Any, s: ast.stmt, where: str) -> None:
    """What both loop bodies run alike: an `if` the evaluator decides, `continue`, `break`, a
    statement without effect; any other statement is not followed (Unresolvable, naming it)."""
    if isinstance(s, ast.If):
        body.run(s.body if body.ev.ev(s.test) else s.orelse)
    elif isinstance(s, ast.Try) and not s.finalbody:
        _try(body, s)
    elif isinstance(s, ast.Continue):
        raise _Continue
    elif isinstance(s, ast.Break):
        raise _Break
    elif not _no_effect(s):
        raise Unresolvable(f"`{ast.unparse(s).splitlines()[0]}` {where}")


def _try(body: Any, s: ast.Try) -> None:
    """`try: new[k] = saved[k]` / `except KeyError: new[k] = v` (VITS's load_checkpoint): a lookup
    that raises as Python would goes to the first handler that catches it; what ran before it stays."""
    try:
        body.run(s.body)
    except Raises as exc:
        handler = next((h for h in s.handlers if _catches(h, exc.exc_type)), None)
        if handler is None or handler.name:
            raise Unresolvable(str(exc)) from None
        body.run(handler.body)
    else:
        body.run(s.orelse)


def _catches(handler: ast.ExceptHandler, exc_type: type[Exception]) -> bool:
    """Whether `except ...:` catches a KeyError / IndexError; a handler naming a class other than
    the builtins' is not decided (Unresolvable)."""
    if handler.type is None:
        return True
    names = [ast.unparse(t) for t in (handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type])]
    catching = {c.__name__ for c in exc_type.__mro__}
    for name in names:
        if name in catching:
            return True
        if not (name.isidentifier() and isinstance(getattr(builtins, name, None), type)):
            raise Unresolvable(f"whether `except {name}` catches {exc_type.__name__} is not known here")
    return False


class _LoopBody:
    """The statements of a key loop: assignments to names and to `dest[...]`, `if`, continue, break."""

    def __init__(self, dest_name: str, env: dict[str, Any]):
        self.dest_name = dest_name
        self.stored: dict = {}
        self.scope = dict(env)
        self.ev = Evaluator(self.scope)

    def run(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            if isinstance(s, ast.Assign) and len(s.targets) == 1:
                self.assign(s, s.targets[0])
            else:
                _control_flow(self, s, "in the loop")

    def assign(self, s: ast.Assign, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.scope[t.id] = self.ev.ev(s.value)
        elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == self.dest_name:
            self.stored[self.ev.ev(t.slice)] = unwrap(self.ev.ev(s.value))
        else:
            raise Unresolvable(f"`{ast.unparse(s)}` in the loop")


def _no_effect(s: ast.stmt) -> bool:
    """`pass`, a docstring or other bare constant, and logging calls, which leave the state dict
    as it is."""
    if isinstance(s, ast.Pass) or isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
        return True
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and \
        ast.unparse(s.value.func) in ("print", "logging.info", "logger.info", "logging.debug")


def run_key_loop(node: ast.For, sd: dict, name: str, env: dict[str, Any]) -> None:
    """`for k in list(sd): if k.startswith("module."): sd[k[7:]] = sd.pop(k)` (or `del sd[k]`,
    `sd.pop(k)`), run over the real keys in place: the usual prefix-strip and filter loop."""
    body = _KeyLoopBody(sd, name, env)
    body.aside = _recorded_aside(node, name)
    target = node.target

    def bind(key: Any) -> None:
        if isinstance(target, ast.Tuple):  # `for k, v in list(sd.items()):`
            body.scope[target.elts[0].id] = key
            body.scope[target.elts[1].id] = wrap(sd[key])
        else:
            body.scope[target.id] = key  # type: ignore[union-attr]

    _run_passes(list(sd), bind, body, node.body)


def _appends_to(call: ast.AST) -> str | None:
    """The name of the list `X.append(item)` / `X.add(item)` adds to; None for another expression."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in ("append", "add") \
            and isinstance(call.func.value, ast.Name) and len(call.args) == 1 and not call.keywords:
        return call.func.value.id
    return None


def _recorded_aside(loop: ast.For, sd: str) -> set[str]:
    """The names the loop only appends to and never reads otherwise (detectron2's Checkpointer:
    `incorrect_shapes.append((k, shape_checkpoint, shape_model))` beside `sd.pop(k)`): what they
    hold changes nothing the loop does to the state dict (the interpreter forgets them after it)."""
    receivers = {id(n.func.value): n.func.value.id for n in ast.walk(loop) if _appends_to(n)}
    names = set(receivers.values()) - {sd}
    for n in ast.walk(loop):
        if isinstance(n, ast.Name) and n.id in names and id(n) not in receivers:
            names.discard(n.id)  # (read or bound elsewhere in the loop: its items matter)
    return names


class _KeyLoopBody:
    """The statements of a loop over a state dict's keys that changes that dict."""

    def __init__(self, sd: dict, name: str, env: dict[str, Any], depth: int = 0):
        self.sd = sd
        self.name = name
        self.scope = dict(env)
        self.scope[name] = sd  # (a method the loop calls gets it under its parameter's name)
        self.ev = Evaluator(self.scope)
        self.depth = depth
        self.aside: set[str] = set()  # lists the loop only appends to (`_recorded_aside`)

    def is_sd(self, n: ast.AST) -> bool:
        return isinstance(n, ast.Name) and self.scope.get(n.id) is self.sd

    def method_call(self, n: ast.AST) -> Any:
        """`self.patch(sd, net, k.split("."))` of a method of the program (Methods): its body, run
        with its arguments bound, the state dict the same object; `_NOT_A_METHOD` when `n` is none."""
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            return _NOT_A_METHOD
        try:
            owner = self.ev.ev(n.func.value)
        except Unresolvable:
            return _NOT_A_METHOD
        if not (isinstance(owner, Methods) and n.func.attr in owner.methods):
            return _NOT_A_METHOD
        fn = owner.methods[n.func.attr]
        if self.depth >= 50:
            raise Unresolvable(f"`{fn.name}` calls itself too deeply to follow")
        if any(isinstance(a, ast.Starred) for a in n.args) or any(k.arg is None for k in n.keywords) or \
                fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.posonlyargs:
            raise Unresolvable(f"`{ast.unparse(n)}`: its arguments are not followed here")
        params = [a.arg for a in fn.args.args]
        values = [owner, *(self.ev.ev(a) for a in n.args)]
        given = {k.arg: self.ev.ev(k.value) for k in n.keywords}
        defaults = dict(zip(params[len(params) - len(fn.args.defaults):], fn.args.defaults))
        if len(values) > len(params):
            raise Unresolvable(f"`{ast.unparse(n)}` raises TypeError")
        scope: dict[str, Any] = dict(zip(params, values))
        for p in params[len(values):]:
            if p in given:
                scope[p] = given.pop(p)
            elif p in defaults and isinstance(defaults[p], ast.Constant):
                scope[p] = defaults[p].value
            else:
                raise Unresolvable(f"`{ast.unparse(n)}`: `{p}` is not known here")
        if given:
            raise Unresolvable(f"`{ast.unparse(n)}` raises TypeError")
        body = _KeyLoopBody(self.sd, self.name, {}, self.depth + 1)
        body.scope.clear()
        body.scope.update(scope)
        try:
            body.run(fn.body)
        except _Return as r:
            return r.value
        return None

    def value(self, n: ast.AST) -> Any:
        """`sd.pop(k)`, `sd.pop(k, None)`, `sd[k]`, a method of the program, or any other expression."""
        called = self.method_call(n)
        if called is not _NOT_A_METHOD:
            return called
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and self.is_sd(n.func.value) and \
                n.func.attr == "pop" and 1 <= len(n.args) <= 2 and not n.keywords:
            key = self.ev.ev(n.args[0])
            return self.sd.pop(key) if len(n.args) == 1 else self.sd.pop(key, unwrap(self.ev.ev(n.args[1])))
        if isinstance(n, ast.Subscript) and self.is_sd(n.value):
            return self.sd[self.ev.ev(n.slice)]
        return unwrap(self.ev.ev(n))

    def run(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            target = s.targets[0] if isinstance(s, (ast.Assign, ast.Delete)) and len(s.targets) == 1 else None
            if isinstance(s, ast.Assign) and isinstance(target, ast.Subscript) and self.is_sd(target.value):
                value = self.value(s.value)
                self.sd[self.ev.ev(target.slice)] = value
            elif isinstance(s, ast.Assign) and isinstance(target, ast.Name):
                self.scope[target.id] = wrap(self.value(s.value))
            elif isinstance(s, ast.Delete) and isinstance(target, ast.Subscript) and self.is_sd(target.value):
                del self.sd[self.ev.ev(target.slice)]
            elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute) \
                    and self.is_sd(s.value.func.value) and s.value.func.attr == "pop":
                self.value(s.value)
            elif isinstance(s, ast.Expr) and _appends_to(s.value) in self.aside:
                for arg in s.value.args:  # (evaluated: what would raise still does; the list is not the state dict)
                    self.ev.ev(arg)
            elif isinstance(s, ast.Expr) and self.method_call(s.value) is not _NOT_A_METHOD:
                pass  # (run by method_call: CycleGAN's `self.__patch_instance_norm_state_dict(...)`)
            elif isinstance(s, ast.Return) and self.depth > 0:
                raise _Return(wrap(self.value(s.value)) if s.value is not None else None)
            elif isinstance(s, ast.For) and isinstance(s.target, ast.Name) and not s.orelse:
                self.inner_loop(s)  # `for ik in ignore_keys: if k.startswith(ik): del sd[k]`
            else:
                _control_flow(self, s, "in the loop over the state dict's keys")

    def inner_loop(self, s: ast.For) -> None:
        """A loop over a known list inside the loop over the keys (latent-diffusion's ignore_keys)."""
        items = unwrap(self.ev.ev(s.iter))
        if not isinstance(items, (list, tuple)):
            raise Unresolvable(f"`{ast.unparse(s.iter)}` in the loop over the state dict's keys is not known")
        for item in items:
            self.scope[s.target.id] = wrap(item)  # type: ignore[union-attr]
            try:
                self.run(s.body)
            except _Continue:
                continue
            except _Break:
                break
