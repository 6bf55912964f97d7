"""What the client knows about a recipe before asking the worker (no torch, nothing runs).

Two things, both from the script's AST, computed once per source text:

- the keys builds are cached by. A build reads the statements the replay keeps
  (`replay.filter_statements`), the recipe's constructor and steps, and the workspace
  files it imports (their mtimes are checked on every hit). A success does not depend on
  where those statements are, so it is keyed by their AST without positions; a failure's
  message names lines (the kept statement that failed, the constructor's line, the line
  that binds a run-time name), so it is also keyed by where they are (each kept
  statement's first line and text), the constructor's line and the module's bound names
  with their lines. A comment or an edit
  to code the replay drops (the training loop, the `__main__` block) keeps both.
- whether the recipe can succeed at all. The worker evaluates the constructor in the
  script's module namespace, after the replay: a name the constructor always evaluates
  that no kept statement can bind (a parameter, `self`, a local of the function the load
  sits in) raises NameError whatever the worker does. Such a recipe is answered here with
  the failure the worker would report (the first such name in evaluation order), and the
  worker is not asked. Anything that could bind names out of sight (a star import, a
  `global` statement naming it, `globals()`, `sys.modules`, ...) keeps the recipe for the worker.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import os
import re
import threading
from dataclasses import dataclass

from weightmatch import parsing
from weightmatch.worker.replay import bound_names, filter_statements

# What can bind module names no statement shows (searched in the whole text, comments and
# strings included: a false match only sends the recipe to the worker): the namespace itself
# (`globals()`, `vars()`, `exec`), or the module object, which `setattr` or `__dict__` would
# need first (`sys.modules[__name__]`, `importlib.import_module`, a function's `__globals__`).
_OPAQUE = re.compile(r"(?<![\w.])(?:globals|vars|locals|exec|eval|__import__)\s*\("
                     r"|\bbuiltins\b|__globals__|\bimport_module\b|\bgetmodule\b"
                     r"|\.\s*modules\b(?!\s*\()|\bimport\b[^\n]*\bmodules\b"
                     r"|\bimport\s*\*|\bimport\s*\(\s*\*")


def opaque(text: str) -> bool:
    """Whether `text` holds what makes names bindable out of sight (see _OPAQUE)."""
    return _OPAQUE.search(text) is not None


_GLOBAL = re.compile(r"^[ \t]*global[ \t]+([\w \t,]+)", re.MULTILINE)
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class SourceFacts:
    definitions: str  # the kept statements' AST without positions ("" when it does not parse)
    failure_part: str  # digest of what a failure's message can name besides the definitions
    bound: frozenset[str]  # names the kept statements bind at module level
    runtime: dict[str, int]  # names any module-level statement binds, first line (replay.bound_names)
    opaque: bool  # names may be bound in ways not visible here
    declared: frozenset[str] = frozenset()  # names a `global` statement anywhere declares


_FACTS: dict[str, SourceFacts] = {}  # sha256 of (file, source) -> its facts; the newest 64
_FACTS_LOCK = threading.Lock()


def facts_for(source: str, file: str) -> SourceFacts:
    """source_facts, computed once per text (an editor asks for every model of a file)."""
    key = hashlib.sha256(f"{file}\0{source}".encode("utf-8", "surrogatepass")).hexdigest()
    with _FACTS_LOCK:
        facts = _FACTS.get(key)
    if facts is None:
        facts = source_facts(source, file)
        with _FACTS_LOCK:
            if len(_FACTS) >= 64:
                _FACTS.pop(next(iter(_FACTS)))
            _FACTS[key] = facts
    return facts


def doomed(recipe) -> tuple[str, str] | None:
    """cannot_succeed for a Recipe."""
    return cannot_succeed(facts_for(recipe.source, recipe.file), recipe.file, recipe.var,
                          recipe.constructor, recipe.constructor_line, set(recipe.script_globals))


def source_facts(source: str, file: str) -> SourceFacts:
    try:
        tree = parsing.parse(source, file)
        kept = filter_statements(tree.body)
        definitions = "\n".join(ast.dump(stmt) for stmt in kept)
        runtime = bound_names(tree)
        bound = frozenset(bound_names(ast.Module(body=kept, type_ignores=[])))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return SourceFacts("", "", frozenset(), {}, True)
    # Where the kept statements are: each one's first line and the text of its lines. The same
    # text at the same line has the same positions inside, so a traceback names the same lines
    # (cheaper than dumping the AST with positions, and a comment inside a kept class only
    # makes a miss).
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as the parser counts lines
    digest = hashlib.sha256()
    for stmt in kept:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        last = getattr(stmt, "end_lineno", None) or stmt.lineno
        digest.update(f"{first}\0".encode())
        digest.update("\n".join(lines[first - 1:last]).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(repr(sorted(runtime.items())).encode())
    declared = frozenset(name.strip() for m in _GLOBAL.finditer(source) for name in m.group(1).split(","))
    return SourceFacts(definitions, digest.hexdigest(), bound, runtime, bool(_OPAQUE.search(source)), declared)


def cannot_succeed(facts: SourceFacts, file: str, var: str, constructor: str, constructor_line: int,
                   given: set[str] = frozenset()) -> tuple[str, str] | None:
    """(kind, message) of the failure the worker would report for a constructor that names
    what nothing at module level binds; None when the worker may succeed (or fail otherwise)."""
    if facts.opaque or not facts.definitions:
        return None
    try:
        stmt = parsing.parse(f"{var} = {constructor}", file).body[0]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(stmt, ast.Assign):
        return None
    names: list[ast.Name] = []
    try:
        for node in _always_evaluated(stmt.value):
            names.append(node)
    except _Stop:
        pass  # what is evaluated after an undecided branch is left to the worker
    for node in names:
        name = node.id
        if name in facts.bound or name in given or name in _BUILTINS or (name.startswith("__") and name.endswith("__")):
            continue
        if name in facts.declared:
            return None  # a function may bind it: the worker decides
        at = f" ({os.path.basename(file)}:{constructor_line + node.lineno})"
        if name in facts.runtime:
            return ("unresolved", f"'{name}' is only set when the script runs (line {facts.runtime[name]}); "
                                  f"its value is unknown before{at}")
        return ("user-code", f"NameError: name '{name}' is not defined{at} while building `{constructor}`")
    return None


def _always_evaluated(node: ast.AST):
    """The Name loads evaluating `node` always performs, in evaluation order. Branches that may
    not run (`a if c else b`, `x or y`, `a < b < c`), lambdas and comprehensions are left out; an
    assignment expression ends the walk (it binds a name as it goes)."""
    if isinstance(node, ast.NamedExpr):
        raise _Stop
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load):
            yield node
        return
    if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return
    if isinstance(node, ast.IfExp):
        yield from _always_evaluated(node.test)
        raise _Stop  # which branch runs is not known here
    if isinstance(node, ast.BoolOp):
        yield from _always_evaluated(node.values[0])
        raise _Stop
    if isinstance(node, ast.Compare) and len(node.comparators) > 1:  # `a < b < c` stops early
        yield from _always_evaluated(node.left)
        yield from _always_evaluated(node.comparators[0])
        raise _Stop
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if key is not None:
                yield from _always_evaluated(key)
            yield from _always_evaluated(value)
        return
    for child in ast.iter_child_nodes(node):
        yield from _always_evaluated(child)


class _Stop(Exception):
    pass
