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
  `torch.device`, `os.path.join`, `collections.namedtuple`, ... see SAFE_CALLS). Any other
  call (a user class, `parser.parse_args()`, `torch.load`) makes the assignment run-time
  state, which is never executed;
- `try:` blocks (their `except ImportError:` fallbacks too) and `if` blocks, filtered by
  the same rule, when the `if` test is a constant expression that does not mention
  `__name__` (so `if sys.version_info >= (3, 9):` imports are kept, `if __name__ ==
  "__main__":` never runs); an `if TYPE_CHECKING:` body is skipped, its `else` kept;
- docstrings, `pass`, `global`.

Everything else (loops, `with`, bare calls, assignments to attributes or subscripts,
`del`, `raise`, `assert`) is dropped. A kept statement that fails (an import of a missing
package, a constant made from a run-time name) is skipped and remembered, so a later
NameError can say why the name is missing.

Workspace modules (files under the workspace root or next to the script, outside any
site-packages) are imported through `WorkspaceFinder` with the same filter; everything
else imports normally.
"""

from __future__ import annotations

import __future__
import ast
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

from weightmatch.sourcefile import read_source

MAIN_NAME = "__mp_main__"  # not "__main__": `if __name__ == "__main__"` guards stay shut

# Calls that only compute values, by the dotted name written in the source (the whole
# name or its last two parts: `torch.device`, `os.path.join`, `partial`). Aliases are not
# followed: `th.device(...)` is not recognised, and the assignment is left to run time.
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
        # methods of a string literal: ", ".join(...), "{}".format(...)
        "str.join", "str.format", "str.upper", "str.lower", "str.split", "str.replace", "str.strip",
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


def _is_constant(node: ast.AST, user_names: frozenset[str] = frozenset()) -> bool:
    """True when evaluating `node` cannot run user code beyond SAFE_CALLS (see module doc).

    `user_names` are the file's own functions and classes: an expression that mentions one
    could call it (`sorted(xs, key=f)`) or one of its dunder methods (`Registry[20]`,
    `Point() + 1`), so it is not constant.
    """
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in user_names:
            return False
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if name is None:
                return False
            if name not in SAFE_CALLS and ".".join(name.split(".")[-2:]) not in SAFE_CALLS:
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
    return frozenset(n.name for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def filter_statements(body: list[ast.stmt], user_names: frozenset[str] | None = None) -> list[ast.stmt]:
    """The statements of `body` a definitions-only replay keeps (see the module docstring)."""
    if user_names is None:
        user_names = _user_names(body)

    def is_constant_expr(node: ast.AST) -> bool:
        return _is_constant(node, user_names)

    def filter_statements(inner: list[ast.stmt]) -> list[ast.stmt]:
        return _filter(inner, user_names)

    kept: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef, ast.Pass, ast.Global)):
            kept.append(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            kept.append(stmt)  # docstring
        elif isinstance(stmt, ast.Assign):
            if _plain_targets(stmt.targets) and is_constant_expr(stmt.value):
                kept.append(stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name) and is_constant_expr(stmt.value):
                kept.append(stmt)
        elif isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Name) and is_constant_expr(stmt.value):
                kept.append(stmt)
        elif isinstance(stmt, ast.If):
            if _dotted(stmt.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                kept.extend(filter_statements(stmt.orelse))  # annotations-only imports: skipped
            elif not _mentions_dunder_name(stmt.test) and is_constant_expr(stmt.test):
                new = ast.If(test=stmt.test, body=filter_statements(stmt.body) or [ast.Pass()],
                             orelse=filter_statements(stmt.orelse))
                kept.append(ast.copy_location(new, stmt))
        elif isinstance(stmt, ast.Try):
            handlers = []
            for h in stmt.handlers:
                nh = ast.ExceptHandler(type=h.type, name=h.name, body=filter_statements(h.body) or [ast.Pass()])
                if h.type is not None and not is_constant_expr(h.type):
                    continue
                handlers.append(ast.copy_location(nh, h))
            body_kept = filter_statements(stmt.body)
            if not body_kept:
                continue
            if not handlers and not stmt.finalbody:
                kept.extend(body_kept)
                continue
            new = ast.Try(body=body_kept, handlers=handlers, orelse=filter_statements(stmt.orelse),
                          finalbody=filter_statements(stmt.finalbody))
            kept.append(ast.copy_location(new, stmt))
    for stmt in kept:
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

    # -- running definitions ---------------------------------------------------------
    def exec_definitions(self, source: str, filename: str, namespace: dict[str, Any]) -> None:
        tree = ast.parse(source, filename)
        flags = 0  # `from __future__ import annotations` must reach every later statement
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                for alias in stmt.names:
                    feature = getattr(__future__, alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
        for stmt in filter_statements(tree.body):
            code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
            try:
                exec(code, namespace)
            except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code
                where = f"{os.path.basename(filename)}:{stmt.lineno}"
                reason = f"{where}: {type(exc).__name__}: {exc}"
                for name in _defined_by(stmt):
                    self.failed.setdefault(name, reason)

    def run_script(self, source: str, filename: str) -> dict[str, Any]:
        module = types.ModuleType(MAIN_NAME)
        module.__file__ = filename
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


class WorkspaceFinder(importlib.abc.MetaPathFinder):
    """Finds workspace modules first (next to the script, then the root, as `python
    script.py` would), and any module the normal path finder locates inside the
    workspace; loads them with the definitions-only filter."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        replay = self.replay
        if path is None:
            bases = [b for b in (replay.script_dir, replay.root) if b]
            spec = importlib.machinery.PathFinder.find_spec(name, list(dict.fromkeys(bases)))
            if spec is None:
                spec = importlib.machinery.PathFinder.find_spec(name)
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return None
        origin = spec.origin if spec.has_location else None
        locations = list(spec.submodule_search_locations or [])
        if origin and origin.endswith(".py") and replay.in_workspace(origin):
            loader = DefinitionsLoader(replay, origin)
            new = importlib.machinery.ModuleSpec(name, loader, origin=origin, is_package=bool(locations))
            new.has_location = True
            if locations:
                new.submodule_search_locations = locations
            return new
        if origin is None and locations and all(replay.in_workspace(p) for p in locations):
            return spec  # a namespace package folder: nothing runs
        return None  # not ours: let the normal machinery import it


class DefinitionsLoader(importlib.abc.Loader):
    def __init__(self, replay: Replay, path: str) -> None:
        self.replay = replay
        self.path = path

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        replay = self.replay
        replay.module_names.append(module.__name__)
        replay.files.append(self.path)
        replay.user_files.add(os.path.realpath(self.path))
        source = read_source(self.path)  # a regular file within the size limit only
        module.__file__ = self.path
        replay.exec_definitions(source, self.path, module.__dict__)


is_constant_expr = _is_constant
_filter = filter_statements
