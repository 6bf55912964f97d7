"""Exits that surely run: `sys.exit()` or `parser.error()` outside any undecided `if`, loop
or `try` (fast_neural_style exits when no subcommand is given). Nothing after one runs: the
run stops there, and a load it does not reach says so instead of being judged on values the
run never has. Part of the Interpreter (interpret.py)."""

from __future__ import annotations

import ast
import posixpath

from weightmatch.argparse_values import ParserVal
from weightmatch.calls import ExitSignal
from weightmatch.values import CURRENT_GUARDS, Const, LoadSite, Unknown


class ExitsMixin:
    """Needs `ev`, `pf`, `recording`, `try_depth`, `argv`, `sites`, `statement` and `load_calls`."""

    def exit_signal(self, stmt: ast.stmt, env: dict) -> ExitSignal | None:
        if isinstance(stmt, ast.Expr) and self.exits(stmt.value, env):
            for arg in [*stmt.value.args, *(k.value for k in stmt.value.keywords)]:
                self.ev(arg, env)  # `sys.exit(main(args))`: main runs first
            return ExitSignal(f"`{_one_line(self.pf.segment(stmt.value))}` at {posixpath.basename(self.pf.path)}:{stmt.lineno}",
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


def _one_line(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# calls that end the program (SystemExit; `os._exit` without it)
EXITS = {"sys.exit", "exit", "quit", "os._exit", "builtins.exit", "builtins.quit"}
