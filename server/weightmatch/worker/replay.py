"""Definitions-only replay of user code (runs in the worker child; no torch needed).

A script is replayed statement by statement, keeping only what defines things:

- `import` / `from ... import ...`;
- `def`, `async def`, `class` with their decorators (a class body runs as Python runs
  it: it is part of the definition);
- assignments (`=`, annotated, augmented) to plain names whose value is a *constant
  expression*: literals, names, attribute chains (`torch.float32`, `nn.ReLU`), arithmetic,
  comparisons, boolean and conditional expressions, subscripts, f-strings, lambdas,
  tuples/lists/dicts/sets and comprehensions of those, and calls of a fixed list of
  side-effect-free callables (`len`, `range`, `min`, `tuple`, `dict`, `functools.partial`,
  `torch.device`, `os.path.join`, `collections.namedtuple`, `logging.getLogger`, ... see
  SAFE_CALLS), and another name for a value (`Model = DetectionModel`). Any other
  call (a user class, `parser.parse_args()`, `torch.load`) makes the assignment run-time
  state, which is never executed;
- `try:` blocks (their `except ImportError:` fallbacks too) and `if` blocks, filtered by
  the same rule, when the `if` test is a constant expression that does not mention
  `__name__` (so `if sys.version_info >= (3, 9):` imports are kept, `if __name__ ==
  "__main__":` never runs); an `if TYPE_CHECKING:` body is skipped, its `else` kept;
- docstrings, `pass`, `global`.

Everything else (loops, `with`, bare calls, assignments to attributes or subscripts,
`del`, `raise`, `assert`) is dropped, and so is the assignment of a name the file changes in
place anywhere (`kw.setdefault(...)`, `CFG["depth"] = 4`: worker/mutated.py). A kept statement that fails (an import of a missing
package, a constant made from a run-time name) is skipped and remembered, so a later
NameError can say why the name is missing.

Workspace modules (files under the workspace root or next to the script, outside any
site-packages) are imported through `WorkspaceFinder` with the same filter; everything
else imports normally.

Nothing outside the recipe runs (issue 14): a module-level function whose decorators,
defaults or annotations would run when it is defined is defined when the recipe first
calls it instead; a kept assignment or `if` test that would operate on a workspace
object (call, compare, index, iterate or read an attribute of a workspace class,
instance or function, or of a workspace module with `__getattr__`) is not run; a plain
alias (`Model = Net`) is.
"""

from __future__ import annotations

import __future__
import ast
import os
import sys
import types
from typing import Any

from weightmatch.worker.mutated import binds_only, changed_in_place

MAIN_NAME = "__mp_main__"  # not "__main__": `if __name__ == "__main__"` guards stay shut

# Calls that only compute values, by their whole dotted name (`torch.device`,
# `os.path.join`, `partial`), and only where the file binds that name to what it says
# (see _SAFE_ORIGIN): `th.device(...)` is not recognised, nor `len(...)` after
# `from os import system as len`; such an assignment is left to run time.
SAFE_CALLS = frozenset(
    {
        "len", "range", "min", "max", "sum", "abs", "round", "int", "float", "str", "bool",
        "tuple", "list", "dict", "set", "frozenset", "sorted", "reversed", "zip", "enumerate",
        "divmod", "pow", "repr", "isinstance", "issubclass", "getattr", "hasattr", "type",
        "partial", "functools.partial", "namedtuple", "collections.namedtuple",
        "OrderedDict", "collections.OrderedDict", "defaultdict", "collections.defaultdict",
        "TypeVar", "typing.TypeVar", "NewType", "typing.NewType", "field", "dataclasses.field",
        "torch.device", "torch.Size", "torch.dtype", "device", "Size",
        "os.path.join", "os.path.dirname", "os.path.basename", "os.path.abspath",
        "os.path.realpath", "os.path.splitext", "os.path.expanduser", "os.fspath",
        "Path", "pathlib.Path", "PurePath", "pathlib.PurePath",
        "math.sqrt", "math.ceil", "math.floor", "math.log", "math.log2", "math.prod", "math.gcd",
        "logging.getLogger",  # yolov5's `LOGGER = logging.getLogger(LOGGING_NAME)`, read by model code
        # methods of a string literal: ", ".join(...), "{}".format(...)
        "str.join", "str.format", "str.upper", "str.lower", "str.split", "str.replace", "str.strip",
        "str.capitalize", "str.title",
    }
)

_CONST_NODES = (
    ast.Constant, ast.Name, ast.Load, ast.Store, ast.Tuple, ast.List, ast.Set, ast.Dict,
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice,
    ast.Attribute, ast.JoinedStr, ast.FormattedValue, ast.Starred, ast.keyword,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.Lambda, ast.arguments, ast.arg,
)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if parts and isinstance(node, (ast.Constant, ast.JoinedStr)):  # ", ".join(...)
        return "str." + ".".join(reversed(parts))
    return None


# A safe call is safe by what its name is bound to, not by how it is spelled: where the
# file binds one of these names, it must be bound to exactly this (`from functools import
# partial`, `import torch`); a builtin's name (`len`, `bool`) must not be bound at all.
# (`from os import system as len` then `len("…")`, or `len = os.system`, is not a call of len.)
_SAFE_ORIGIN = {
    "partial": "functools.partial", "namedtuple": "collections.namedtuple",
    "OrderedDict": "collections.OrderedDict", "defaultdict": "collections.defaultdict",
    "TypeVar": "typing.TypeVar", "NewType": "typing.NewType", "field": "dataclasses.field",
    "device": "torch.device", "Size": "torch.Size", "Path": "pathlib.Path", "PurePath": "pathlib.PurePath",
    **{m: m for m in ("functools", "collections", "typing", "dataclasses", "torch", "os", "pathlib", "math",
                      "logging")},
}
_OTHER = "<bound by the file>"
_ANY = "*"  # a star import from outside the standard library: any name may be rebound

Bindings = dict  # name -> set of origins ("os", "functools.partial", _OTHER)


def module_bindings(body: list[ast.stmt]) -> Bindings:
    """What each module-level name is bound to, as far as a safe call needs to know."""
    out: dict[str, set[str]] = {}

    def bind(name: str, origin: str) -> None:
        out.setdefault(name, set()).add(origin)

    def module_level(nodes: list[ast.AST]):
        """Nodes that bind module-level names: not inside a def, class or lambda (whose
        locals are their own), except `global` statements anywhere."""
        stack = list(nodes)
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                if isinstance(node.body, list):  # a lambda's body is an expression: no statements
                    stack.extend(g for g in _statements(node.body) if isinstance(g, ast.Global))
                stack.extend(node.decorator_list if hasattr(node, "decorator_list") else [])
                continue
            stack.extend(ast.iter_child_nodes(node))

    for node in module_level(list(body)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bind(a.asname, a.name)
                else:
                    bind(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name == "*":
                    if node.level or (node.module or "").split(".")[0] not in sys.stdlib_module_names:
                        bind(_ANY, _ANY)
                    continue
                origin = f"{node.module}.{a.name}" if node.module and not node.level else _OTHER
                bind(a.asname or a.name, origin)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bind(node.id, _OTHER)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name, _OTHER)
        elif isinstance(node, ast.Global):
            for name in node.names:
                bind(name, _OTHER)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name, _OTHER)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and getattr(node, "name", None):
            bind(node.name, _OTHER)
    return out


def _safe_call(name: str, bindings: Bindings) -> bool:
    if name not in SAFE_CALLS:
        return False
    if name.startswith("str."):  # a method of a string literal
        return True
    head = name.split(".")[0]
    origins = bindings.get(head)
    if head in _SAFE_ORIGIN:
        return not origins or origins == {_SAFE_ORIGIN[head]}
    return not origins and _ANY not in bindings  # a builtin, rebound nowhere


def _is_constant(node: ast.AST, user_names: frozenset[str] = frozenset(), bindings: Bindings | None = None) -> bool:
    """True when evaluating `node` cannot run user code beyond SAFE_CALLS (see module doc).

    `user_names` are the file's own functions and classes: an expression that mentions one
    could call it (`sorted(xs, key=f)`) or one of its dunder methods (`Registry[20]`,
    `Point() + 1`), so it is not constant. `bindings` (module_bindings) decide which calls
    are SAFE_CALLS; without them no name counts as rebound.
    """
    bindings = bindings or {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in user_names:
            return False
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if name is None or not _safe_call(name, bindings):
                return False
            continue
        if isinstance(sub, ast.expr) and not isinstance(sub, _CONST_NODES):
            return False  # await, yield, walrus, ...
    return True


def _mentions_dunder_name(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(node))


def _plain_targets(targets: list[ast.expr]) -> bool:
    def ok(t: ast.expr) -> bool:
        if isinstance(t, ast.Name):
            return True
        if isinstance(t, (ast.Tuple, ast.List)):
            return all(ok(e) for e in t.elts)
        if isinstance(t, ast.Starred):
            return ok(t.value)
        return False

    return all(ok(t) for t in targets)


def _user_names(body: list[ast.stmt]) -> frozenset[str]:
    return frozenset(n.name for n in _statements(body)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _statements(body: list[ast.stmt]):
    """Every statement in `body` at any depth (in defs and classes too), without visiting
    expressions: where definitions and `global` can be (much faster than ast.walk)."""
    stack: list = list(body)
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            sub = getattr(node, name, None)
            if isinstance(sub, list):
                stack.extend(sub)


def filter_statements(body: list[ast.stmt], user_names: frozenset[str] | None = None,
                      bindings: Bindings | None = None, changed: frozenset[str] | None = None,
                      dropped: list[ast.stmt] | None = None) -> list[ast.stmt]:
    """The statements of `body` a definitions-only replay keeps (see the module docstring).
    A name a left-out statement binds again (`n = 3` then `while n % 4: n += 1`, or
    `W = int(os.environ["W"])`) is not bound by the replay at all: its first value would be
    stale where the model is made (a false size-mismatch); the recipe's script globals, or the
    interpreter's reason for not knowing it, stand for it."""
    if user_names is None:
        user_names = _user_names(body)
    if bindings is None:
        bindings = module_bindings(body)
    if changed is None:
        changed = changed_in_place(body)
    if dropped is None:  # the top level
        left_out: list[ast.stmt] = []
        kept = _filter(body, user_names, bindings, changed, left_out)
        rebound = frozenset(bound_names(ast.Module(body=left_out, type_ignores=[])))
        if not rebound - changed:
            return kept
        return _filter(body, user_names, bindings, changed | rebound, [])

    def is_constant_expr(node: ast.AST) -> bool:
        return _is_constant(node, user_names, bindings)

    def filter_statements(inner: list[ast.stmt]) -> list[ast.stmt]:
        return _filter(inner, user_names, bindings, changed, dropped)

    def keep(stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef, ast.Pass, ast.Global)):
            return [stmt]
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return [stmt]  # docstring
        elif isinstance(stmt, ast.Assign):
            if _plain_targets(stmt.targets) and (is_constant_expr(stmt.value) or isinstance(stmt.value, ast.Name)):
                return [stmt]  # (`Model = DetectionModel`, yolov5's alias: naming a value runs nothing)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name) and is_constant_expr(stmt.value):
                return [stmt]
        elif isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Name) and is_constant_expr(stmt.value):
                return [stmt]
        elif isinstance(stmt, ast.If):
            if _dotted(stmt.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                return filter_statements(stmt.orelse)  # annotations-only imports: skipped
            elif not _mentions_dunder_name(stmt.test) and is_constant_expr(stmt.test):
                new = ast.If(test=stmt.test, body=filter_statements(stmt.body) or [ast.Pass()],
                             orelse=filter_statements(stmt.orelse))
                return [ast.copy_location(new, stmt)]
        elif isinstance(stmt, ast.Try):
            handlers = []
            for h in stmt.handlers:
                nh = ast.ExceptHandler(type=h.type, name=h.name, body=filter_statements(h.body) or [ast.Pass()])
                if h.type is not None and not is_constant_expr(h.type):
                    continue
                handlers.append(ast.copy_location(nh, h))
            body_kept = filter_statements(stmt.body)
            if not body_kept:
                return []
            if not handlers and not stmt.finalbody:
                return body_kept
            new = ast.Try(body=body_kept, handlers=handlers, orelse=filter_statements(stmt.orelse),
                          finalbody=filter_statements(stmt.finalbody))
            return [ast.copy_location(new, stmt)]
        return []

    kept: list[ast.stmt] = []
    for stmt in body:
        out = keep(stmt)
        kept.extend(out)
        if not out:
            dropped.append(stmt)
    if changed:
        kept = [stmt for stmt in kept if not binds_only(stmt, changed)]
    for stmt in kept:
        if isinstance(stmt, (ast.If, ast.Try)):  # made here (their `pass`); the others are the parser's
            ast.fix_missing_locations(stmt)
    return kept


def bound_names(tree: ast.Module) -> dict[str, int]:
    """Every name bound anywhere at module level (any depth of if/for/with/try), with its
    first line (1-based): a NameError for one of these means run-time state."""
    names: dict[str, int] = {}

    def targets(node: ast.AST, line: int) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.setdefault(n.id, line)

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.setdefault(stmt.name, stmt.lineno)
                continue
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for t in getattr(stmt, "targets", None) or [stmt.target]:
                    targets(t, stmt.lineno)
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                targets(stmt.target, stmt.lineno)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars, stmt.lineno)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for a in stmt.names:
                    names.setdefault((a.asname or a.name).split(".")[0], stmt.lineno)
            for n in ast.walk(stmt) if not isinstance(stmt, (ast.Import, ast.ImportFrom)) else ():
                if isinstance(n, ast.NamedExpr):
                    targets(n.target, stmt.lineno)
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(stmt, field, None)
                if isinstance(sub, list):
                    visit([s for s in sub if isinstance(s, ast.stmt)] +
                          [s for h in sub if isinstance(h, ast.ExceptHandler) for s in h.body])
            if isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    visit(case.body)

    visit(tree.body)
    return names


class Replay:
    """One build's replay state: which workspace files were read, which statements failed."""

    def __init__(self, root: str, script: str) -> None:
        self.root = os.path.realpath(root) if root else ""
        self.script_dir = os.path.dirname(os.path.realpath(script))
        self.files: list[str] = []  # workspace files loaded through the finder
        self.failed: dict[str, str] = {}  # name -> "file:line: ExcType: message"
        self.module_names: list[str] = []  # sys.modules entries to drop after the build
        self.user_files: set[str] = {os.path.realpath(script)}
        # (real path, line) of the classes to define without their decorators (Recipe.undecorated)
        self.undecorated: set[tuple[str, int]] = set()
        self.import_dirs: list[str] = []  # Recipe.import_dirs: where `sys.path` additions let imports look

    # -- running definitions ---------------------------------------------------------
    def exec_definitions(self, source: str, filename: str, namespace: dict[str, Any]) -> None:
        for item in _prepared(source, filename):
            if item.lazy and item.error is None:
                # Its decorators, defaults or annotations would run now, whether or not the
                # recipe ever calls it: define it when it is first called instead.
                self._define_lazily(item.lazy, item.code, namespace)
                continue
            if item.check is not None:
                used = self._workspace_object_operated_on(item.check, namespace)
                if used is not None:  # `E == 1`, `E[3]`, `helpers.anything`: a workspace dunder would run
                    reason = f"{item.where}: not run: it operates on {used}, a workspace object, outside the recipe"
                    for name in item.names:
                        self.failed.setdefault(name, reason)
                    continue
            if item.error is not None:
                raise item.error.with_traceback(None)
            code = item.code
            if item.bare is not None and (os.path.realpath(filename), item.line) in self.undecorated:
                code = item.bare  # its decorators only register it, the analysis found: not run
            try:
                exec(code, namespace)
            except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code
                reason = f"{item.where}: {type(exc).__name__}: {exc}"
                for name in item.names:
                    self.failed.setdefault(name, reason)

    def _define_lazily(self, name: str, code: Any, namespace: dict[str, Any]) -> None:
        def stub(*args: Any, **kwargs: Any) -> Any:
            real = namespace.get(name)
            if real is stub:
                exec(code, namespace)  # the recipe calls it: now its decorators and defaults run
                real = namespace[name]
            return real(*args, **kwargs)

        stub.__name__ = stub.__qualname__ = name
        stub.__module__ = namespace.get("__name__", MAIN_NAME)
        namespace[name] = stub

    # -- values of the workspace ---------------------------------------------------------
    def _user_value(self, value: Any, depth: int = 0) -> bool:
        """Whether operating on `value` could run code of the workspace (its class, its
        metaclass, a workspace function, a workspace module with `__getattr__`)."""
        kind = type(value)
        if kind in _PLAIN:
            return False
        if kind in (tuple, list, set, frozenset) and depth < 3:
            return any(self._user_value(v, depth + 1) for v in list(value)[:1000])
        if kind is dict and depth < 3:
            return any(self._user_value(k, depth + 1) or self._user_value(v, depth + 1)
                       for k, v in list(value.items())[:1000])
        if isinstance(value, types.ModuleType):
            if "__getattr__" in vars(value) and self.in_workspace(getattr(value, "__file__", None) or ""):
                return True
        if isinstance(value, (types.FunctionType, types.MethodType)):
            code = getattr(value, "__code__", None) or getattr(getattr(value, "__func__", None), "__code__", None)
            return code is not None and self.in_workspace(code.co_filename)
        classes = [*(value.__mro__ if isinstance(value, type) else ()), *kind.__mro__]
        for klass in classes:
            module = sys.modules.get(getattr(klass, "__module__", "") or "")
            path = getattr(module, "__file__", None)
            if path and self.in_workspace(path):
                return True
        return False

    def _workspace_object_operated_on(self, stmt: ast.stmt, namespace: dict[str, Any]) -> str | None:
        """The name of a workspace object that `stmt` would call, compare, index, iterate,
        test or read an attribute of; None if there is none (a bare alias `X = Net` is fine)."""
        inert: set[int] = set()
        values = [stmt.value] if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None else []
        while values:  # `A = Net`, `A, B = Net, Block`: names moved, not operated on
            v = values.pop()
            if isinstance(v, ast.Name):
                inert.add(id(v))
            elif isinstance(v, (ast.Tuple, ast.List)):
                values.extend(v.elts)
            elif isinstance(v, ast.Starred):
                values.append(v.value)
        builtins_ns = namespace.get("__builtins__", {})
        builtins_ns = builtins_ns if isinstance(builtins_ns, dict) else vars(builtins_ns)
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in inert:
                value = namespace.get(node.id, builtins_ns.get(node.id, _MISSING))
                if value is not _MISSING and self._user_value(value):
                    return node.id
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                chain, root = [], node
                while isinstance(root, ast.Attribute):
                    chain.append(root.attr)
                    root = root.value
                if isinstance(root, ast.Name):
                    value = namespace.get(root.id, _MISSING)
                    for attr in reversed(chain):  # follow plain module attributes only
                        if not isinstance(value, types.ModuleType):
                            break
                        if self._user_value(value):
                            return root.id
                        value = vars(value).get(attr, _MISSING)
                    if value is not _MISSING and self._user_value(value):
                        return ".".join([root.id, *reversed(chain)])
        return None

    def run_script(self, source: str, filename: str) -> dict[str, Any]:
        module = types.ModuleType(MAIN_NAME)
        module.__file__ = filename
        # a file of a package (Swin's `models/build.py`: `from .swin import ...`) is replayed as
        # part of its package, as the program imports it; a script beside no __init__.py has none
        module.__package__ = _package_of(filename)
        module.__builtins__ = __builtins__  # type: ignore[attr-defined]
        sys.modules[MAIN_NAME] = module
        self.module_names.append(MAIN_NAME)
        self.exec_definitions(source, filename, module.__dict__)
        return module.__dict__

    # -- import hook -------------------------------------------------------------------
    def in_workspace(self, path: str) -> bool:
        real = os.path.realpath(path)
        if any(part in ("site-packages", "dist-packages") for part in real.split(os.sep)):
            return False
        for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
            if real.startswith(os.path.realpath(prefix) + os.sep):
                return False
        return any(base and (real == base or real.startswith(base + os.sep))
                   for base in (self.root, self.script_dir))

    def cleanup(self) -> None:
        for name in self.module_names:
            sys.modules.pop(name, None)


def _package_of(filename: str) -> str | None:
    """The dotted package a file sits in (`models` for models/build.py beside models/__init__.py)."""
    parts: list[str] = []
    folder = os.path.dirname(os.path.abspath(filename))
    while os.path.isfile(os.path.join(folder, "__init__.py")) and os.path.basename(folder).isidentifier():
        parts.append(os.path.basename(folder))
        folder = os.path.dirname(folder)
    return ".".join(reversed(parts)) or None


_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None), range, slice})
_MISSING = object()


def _runs_at_definition(stmt: ast.stmt) -> bool:
    """A def whose decorators, defaults or annotations are evaluated when it is defined."""
    args = stmt.args  # type: ignore[attr-defined]
    annotations = [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                           *(x for x in (args.vararg, args.kwarg) if x)) if a.annotation]
    exprs = [*stmt.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None),  # type: ignore[attr-defined]
             *annotations, *([stmt.returns] if stmt.returns else [])]  # type: ignore[attr-defined]
    return any(not isinstance(e, ast.Constant) for e in exprs)


class _Statement:
    """A kept statement, compiled: what exec_definitions runs (or defines lazily)."""

    __slots__ = ("code", "where", "names", "lazy", "check", "error", "line", "bare")

    def __init__(self, stmt: ast.stmt, filename: str, flags: int) -> None:
        self.where = f"{os.path.basename(filename)}:{stmt.lineno}"
        self.code: Any = None
        self.error: BaseException | None = None
        try:
            self.code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            self.error = exc  # raised when its turn comes, as before
        self.line = stmt.lineno
        self.bare: Any = None  # a decorated class without its decorators (Replay.undecorated)
        if isinstance(stmt, ast.ClassDef) and stmt.decorator_list and self.error is None:
            bare = ast.ClassDef(stmt.name, stmt.bases, stmt.keywords, stmt.body, [], **_type_params(stmt))
            self.bare = compile(ast.Module(body=[ast.copy_location(bare, stmt)], type_ignores=[]), filename, "exec",
                                flags=flags, dont_inherit=True)
        lazy = isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and _runs_at_definition(stmt)
        self.lazy = stmt.name if lazy else None  # type: ignore[attr-defined]
        plain = isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        self.check = None if plain else stmt  # tested against the namespace before it runs
        self.names = _defined_by(stmt)


# Preparing a file's definitions (parse, filter, compile) was most of a build importing a large
# workspace package (timm: ~200 files). It depends only on the text and name: kept; runs stay per build.
_PREPARED: dict[tuple[str, str], list[_Statement]] = {}
_PREPARED_CHARS = 24_000_000  # the texts kept, at most, oldest dropped first (≈4 bytes a character: ≈100 MB)


def _prepared(source: str, filename: str) -> list[_Statement]:
    key = (filename, source)
    hit = _PREPARED.get(key)
    if hit is not None:
        return hit
    tree = ast.parse(source, filename)
    flags = 0  # `from __future__ import annotations` must reach every later statement
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            for alias in stmt.names:
                feature = getattr(__future__, alias.name, None)
                flags |= getattr(feature, "compiler_flag", 0)
    kept = filter_statements(tree.body, _user_names(tree.body), module_bindings(tree.body))
    out = [_Statement(stmt, filename, flags) for stmt in kept]
    while _PREPARED and sum(len(text) for _, text in _PREPARED) + len(source) > _PREPARED_CHARS:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = out
    return out


def _type_params(stmt: ast.ClassDef) -> dict[str, Any]:
    return {"type_params": stmt.type_params} if hasattr(stmt, "type_params") else {}


def _defined_by(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    out = []
    for n in ast.walk(stmt):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.append(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.extend((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)):
            out.append(n.name)
    return out


is_constant_expr = _is_constant
_filter = filter_statements
