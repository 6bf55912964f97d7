"""Loads the run does not reach. Exits that surely run: `sys.exit()` or `parser.error()`
outside any undecided `if`, loop or `try` (fast_neural_style exits when no subcommand is
given): nothing after one runs. And the branch of an `if` decided by the values assumed
(`if args.resume:` with --resume at its default, ''): a load in it, or in a function only it
calls, says which test keeps it from running instead of being judged on values the run never
has. Part of the Interpreter (interpret.py)."""

from __future__ import annotations

import ast
import posixpath

from weightmatch.argparse_values import ParserVal
from weightmatch.signals import ExitSignal
from weightmatch.evaluate import named_like_an_optimizer
from weightmatch.values import CURRENT_GUARDS, Const, LoadSite, Unknown


class ExitsMixin:
    """Needs `ev`, `pf`, `recording`, `try_depth`, `argv`, `sites`, `statement`, `load_calls`
    and `skipped_calls` (id(def node) -> why its call did not run)."""

    def _assumed(self, test: ast.expr, value, env: dict) -> str:
        """How the test's value came about: "with --resume at its default, ''" or "(`x` is 0)"."""
        if isinstance(value, Const) and value.origin:
            return f"with {value.origin}"
        read = _values_read(self, test, env)
        return f"here: {read}" if read else "here"

    def branch_not_taken(self, stmt: ast.If, body: list[ast.stmt], taken: bool, env: dict) -> None:
        """The branch of `stmt` that the values assumed rule out: its loads say so, and so do the
        parameters of the workspace functions it calls (`self.restore_model(...)` under `if
        self.resume_iters:`), where nothing else calls them."""
        if not body or not self.recording or _fixed_by_the_run(self.pf, stmt.test):
            return
        value = self.ev(stmt.test, env)
        cond = one_line(self.pf.segment(stmt.test))
        where = f"{posixpath.basename(self.pf.path)}:{stmt.lineno}"
        why = f"`{cond}` is {'false' if taken else 'true'}, and it is not {self._assumed(stmt.test, value, env)} ({where})"
        statements = [n for s in body for n in (s, *_statements_in(s))]
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for call in self.load_calls(node):
                if isinstance(call.func, ast.Attribute) and call.func.attr == "load_state_dict" \
                        and not self.not_a_model(call.func.value, env) \
                        and not named_like_an_optimizer(self.pf.segment(call.func.value) or ""):
                    unreached = f"Not checked: this load runs only if {why}"
                    unknown = Unknown(unreached)
                    self.sites.append(LoadSite(self.pf, call, unknown, unknown, None, Const(True), Const(False), node,
                                               unreached=unreached))
            for call in _own_calls(node):
                if _plain_callee(call.func):
                    fn = self.ev(call.func, env)
                    target = getattr(fn, "node", None)
                    if isinstance(target, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.skipped_calls.setdefault(id(target), f"its call runs only if {why}")

    def exit_signal(self, stmt: ast.stmt, env: dict) -> ExitSignal | None:
        if isinstance(stmt, ast.Expr) and self.exits(stmt.value, env):
            for arg in [*stmt.value.args, *(k.value for k in stmt.value.keywords)]:
                self.ev(arg, env)  # `sys.exit(main(args))`: main runs first
            return ExitSignal(f"`{one_line(self.pf.segment(stmt.value))}` at {posixpath.basename(self.pf.path)}:{stmt.lineno}",
                              self.pf.path, stmt.lineno)
        return None

    def exits(self, expr: ast.expr, env: dict) -> bool:
        """`sys.exit(...)` or `parser.error(...)` that surely runs (no undecided `if`, no loop,
        no `try` around it, in the script being analysed): nothing after it runs."""
        if not (isinstance(expr, ast.Call) and self.recording and self.try_depth == 0 and not CURRENT_GUARDS.get()):
            return False
        if (self.pf.dotted(expr.func) or "") in EXITS:
            return True
        return isinstance(expr.func, ast.Attribute) and expr.func.attr in ("error", "exit") and \
            isinstance(self.ev(expr.func.value, env), ParserVal)

    def not_reached(self, stop: ExitSignal, current: ast.stmt, rest: list[ast.stmt], env: dict, functions: list) -> None:
        """After an exit: the functions and classes defined below it are still checked as
        nothing-calls-them, and a load the run does not reach says so."""
        how = "with the configured arguments" if self.argv else "with no arguments"
        why = f"Not checked: the script exits before this load ({stop.where} runs {how})"
        unknown = Unknown(why)
        later = [n for n in _statements_in(current) if n.lineno > stop.line] if stop.path == self.pf.path else []
        for stmt in [*later, *rest]:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if stmt in rest:
                    self.statement(stmt, env, functions)
                continue
            for node in self.load_calls(stmt):
                if isinstance(node.func, ast.Attribute) and node.func.attr == "load_state_dict":
                    self.sites.append(LoadSite(self.pf, node, unknown, unknown, None, Const(True), Const(False), stmt,
                                               unreached=why))


def _values_read(ev, test: ast.expr, env: dict) -> str:
    """`pretrained` is False: the known values of the names a test reads, as Python shows them."""
    parts = []
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and node.id in env and len(parts) < 3:
            value = env[node.id]
            if isinstance(value, Const) and f"`{node.id}`" not in " ".join(parts):
                parts.append(f"`{node.id}` is {one_line(repr(value.value))}")
    return ", ".join(parts)


def _fixed_by_the_run(pf, test: ast.expr) -> bool:
    """`if __name__ == "__main__":` and `if TYPE_CHECKING:`: decided by how the file runs, not by
    a value the user could change."""
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
        return True
    return (pf.dotted(test) or "").endswith("TYPE_CHECKING")


def _own_calls(stmt: ast.stmt):
    """The calls in `stmt`'s own expressions (not in the statements nested in it)."""
    stack = [c for c in ast.iter_child_nodes(stmt) if not isinstance(c, (ast.stmt, ast.excepthandler))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            yield node
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _plain_callee(func: ast.expr) -> bool:
    """`helper`, `self.restore_model`, `utils.load`: a name or attributes of one, which naming
    evaluates without calling anything."""
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name)


def _statements_in(stmt: ast.stmt) -> list[ast.stmt]:
    """The statements nested in `stmt` (not itself), outside nested function and class bodies."""
    out: list[ast.stmt] = []
    stack = [c for c in ast.iter_child_nodes(stmt) if isinstance(c, (ast.stmt, ast.excepthandler))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            out.append(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
        stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, (ast.stmt, ast.excepthandler)))
    return out


def one_line(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# calls that end the program (SystemExit; `os._exit` without it)
EXITS = {"sys.exit", "exit", "quit", "os._exit", "builtins.exit", "builtins.quit"}


# what a module's load_state_dict raises when keys or shapes differ, and what catches it
_CATCHES_LOAD_ERRORS = {"RuntimeError", "Exception", "BaseException", "builtins.RuntimeError", "builtins.Exception",
                        "builtins.BaseException"}


def retry_loads(pf, stmt: ast.Try, handler: ast.ExceptHandler) -> dict[int, str]:
    """The loads an `except` block retries on a receiver the `try` body already loads into
    (SwAV's and DINO's `try: value.load_state_dict(ckpt[key], strict=False) except TypeError:
    value.load_state_dict(ckpt[key])`, there for optimizers): when the block does not catch
    RuntimeError, a module's failing load never gets there. Their ids, each with the reason
    the load is not judged."""
    caught = handler.type
    names = [caught] if caught is not None and not isinstance(caught, ast.Tuple) else \
        list(caught.elts) if caught is not None else []
    texts = [pf.dotted(n) or "" for n in names]
    if not texts or any(t in _CATCHES_LOAD_ERRORS or not t for t in texts):
        return {}
    tried = {pf.segment(n.func.value) for s in stmt.body for n in ast.walk(s)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "load_state_dict"}
    what = " or ".join(t.rsplit(".", 1)[-1] for t in texts)
    where = f"{posixpath.basename(pf.path)}:{handler.lineno}"
    return {id(n): f"Not checked: this load runs only if the `try` above raises {what} ({where}); a module's "
                   f"load_state_dict raises RuntimeError when keys or shapes differ, which this block does not catch"
            for s in handler.body for n in ast.walk(s)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "load_state_dict"
            and pf.segment(n.func.value) in tried}
