"""Following a program across calls, classes and workspace modules, for the source
interpreter: a function called with known arguments is interpreted with them (per call
site), a Trainer/Solver instance keeps its attributes across its methods, an imported
workspace module's top level gives its names. Nothing here runs user code.

Bounded: call depth, calls per analysis and contexts per function; past a bound the call's
result is unknown and says which bound cut it short.
"""

from __future__ import annotations

import ast
import os
from collections import ChainMap
from typing import Any

from weightmatch import argparse_values, attribute_dicts, binding, cli_apps, config_data, hydra_main, plain, recipe_literals, type_tests, yacs_calls, yacs_values
from weightmatch.changed_arguments import forget_changed_arguments
from weightmatch.argparse_values import ParserVal, SubparsersVal
from weightmatch.pyfile import PyFile
from weightmatch.scopes import Scope
from weightmatch.checkpoint_values import CheckpointValuesMixin
from weightmatch.instances import InstancesMixin
from weightmatch.signals import ReturnSignal
from weightmatch.workspace_modules import ModulesMixin
from weightmatch.yacs_values import CfgNodeVal
from weightmatch.values import (
    CURRENT_GUARDS, At, ClassVal, Const, DictLit, FuncVal, JsonFile, LibRef, ModelVal, ModVal, ObjVal, PartialVal, SeqVal,
    SourceVal, SuperOf, Unknown, origins, unsure,
)

MAX_RECURSION = 4  # a config chain that includes its base files (`_update_config_from_file`)
MAX_DEPTH = 8
MAX_CALLS = 400
MAX_CONTEXTS = 32
MODULE_BASES = ("torch.nn.", "nn.Module", "pl.LightningModule", "pytorch_lightning.", "lightning.")
PLAIN_BASES = {"object", "typing.NamedTuple", "NamedTuple", "collections.namedtuple", "dict", "collections.OrderedDict",
               "abc.ABC",
               # a dataset object is plain Python (no __init__ of its own): minGPT's sizes come from its methods
               "torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset", "torch.utils.data.IterableDataset",
               "torch.utils.data.dataset.IterableDataset"}


class CallsMixin(ModulesMixin, CheckpointValuesMixin, InstancesMixin):
    """Program-level evaluation; mixed into the Interpreter (which provides ev/block/pf)."""

    def setup_program(self, root: str, load, entry: PyFile, argv: list[str] | None, argv_source: str,
                      read_value=None) -> None:
        self.read_value = read_value  # SourceVal -> what the checkpoint holds there (materialize)
        self.cwd: str | None = None  # the folder the script runs in, when a run configuration says
        self.root = root
        self.load = load  # path -> PyFile | None (the editor's text, else the file on disk)
        self.entry = entry
        self.argv = argv
        self.argv_source = argv_source
        self.writing: list[ast.AST] = []  # calls being written into a recipe as values (substitute.py)
        self.substituting = 0  # > 0 while a recipe is written: a changing call is not run again
        self.changed: dict[int, Any] = {}  # id(call node) -> what a changing call gave (changing_call)
        self.module_envs: dict[str, dict] = {}
        # module environments of imported files, shared by the analyses of one project: a big
        # package imported by every file is walked once, not once per file (only environments of
        # definitions and constants, which no analysis changes; see _shareable)
        self.shared_envs: dict | None = None
        self.computing: set[str] = set()
        self.imports_seen: dict[tuple, tuple | None] = {}
        self.import_dirs: list[str] = []  # folders `sys.path.insert/append` added (workspace_modules.dynamic_import)
        self.cyclic: set[str] = set()
        self.recording = True
        self.contexts: list[str] = []
        self.uncalled_runs = 0  # > 0 while a function nothing calls is run (run_uncalled)
        self.forgotten: set[tuple[str, str]] = set()  # module-level names changed_arguments.py made unknown
        self.decided: list[str] = []  # LoadSite.decided
        self.returns: list[list[Any]] = []
        self.return_tests: list[list[str]] = []  # per call: why its returns differ (the first test one depends on)
        self.loops: list[int | None] = []  # per loop entered: the guard depth of one being unrolled
        self.try_depth = 0  # inside the body of a `try` with handlers: an exit there may be caught
        self.guard_depth: list[int] = []
        self.called: dict[int, int] = {}  # id(def node) -> contexts followed
        self.skipped_calls: dict[int, str] = {}  # id(def node) -> why a call of it did not run (exits.py)
        self.called_in_run: dict[int, int] = {}  # the same, since the entry point being run began
        self.call_memo: list[dict] = []  # per statement being run: (call node, env) -> (env, result)
        self.stack: list[int] = []
        self.calls = 0
        self.read_files: set[str] = set()
        self.constructing: set[int] = set()  # ids of models whose own __init__ is being followed
        self.replaying: set[int] = set()  # ids of models a loop being followed changes as one step
        self.loop_names: set[str] = set()  # names that loop binds: never written into its step
        self.saved_namespaces: dict[tuple, tuple] = {}  # place in a checkpoint -> its namespace (evaluate.py)

    def script_argv(self) -> Any:
        """`sys.argv` of the run analysed (no arguments, or the configured ones); its first item,
        the script's path as typed, is not known."""
        where = self.argv_source or ("with the configured arguments" if self.argv else "with no arguments")
        first = Unknown("`sys.argv[0]`, the script's path as it is run, is known only at run time")
        return SeqVal([first, *(Const(a, f"sys.argv {where}") for a in self.argv or [])])

    def class_factory(self, call: ast.Call, env: dict) -> bool:
        """`getattr(importlib.import_module(m), name)(...)`, `get_obj_from_str(target)(...)`: a
        call that gives the class (or function) called next; it is evaluated to see which."""
        dotted = self.pf.dotted(call.func)
        if dotted == "getattr":
            return True
        root = call.func
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and root.id in env and isinstance(self.ev(call.func, env), FuncVal)

    # ------------------------------------------------------------------ values
    def define(self, stmt: ast.stmt, env: dict) -> None:
        """Bind a def or class statement's name to its value, through the decorators the
        workspace defines (`@register_model` filling a registry, as Python runs them)."""
        if isinstance(stmt, ast.ClassDef):
            value: Any = ClassVal(self.pf, stmt, self.is_module_class(stmt, env), _is_dataclass(stmt, self.pf))
        else:
            closure = env if isinstance(env, ChainMap) else None
            value = FuncVal(self.pf, stmt, closure=closure)
        env[stmt.name] = self.decorate(value, stmt, env)

    def decorate(self, value: Any, stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, env: dict) -> Any:
        """The value the decorators make of a definition, innermost first, when each is a function
        of the workspace (`@register_model`, `@MODELS.register_module()`, a wrapper); else the
        definition itself, as before (its calls are then not followed)."""
        decorators = [self.ev(d, env) for d in reversed(stmt.decorator_list)] \
            if stmt.decorator_list and not (isinstance(stmt, ast.ClassDef) and _is_dataclass(stmt, self.pf)) else []
        if not decorators or not all(isinstance(d, FuncVal) for d in decorators):
            return value
        made = value
        for decorator in decorators:
            made = self.call_function(decorator, [made], {}, stmt)
            if not isinstance(made, (FuncVal, ClassVal)):
                return value
        if isinstance(value, FuncVal):
            value.decorated = True  # its decorators ran: a call of it (through a wrapper too) is followed
        elif made is value and all(map(_leaves_alone, decorators)):
            value.undecorated = True  # a registry's `register_module()`: the class, unchanged
        return made

    def is_module_class(self, node: ast.ClassDef, env: dict) -> bool:
        """True unless every base is surely not an nn.Module (no base, `object`, a plain workspace class)."""
        if not node.bases:
            return False
        for base in node.bases:
            dotted = self.pf.dotted(base) or ""
            value = self.ev(base, env) if isinstance(base, ast.Name) and base.id in env else None
            if isinstance(value, ClassVal):
                if value.is_module:
                    return True
                continue
            if dotted in PLAIN_BASES:
                continue
            return True
        return False

    def global_value(self, name: str) -> Any:
        return Unknown(f"`{name}` is not known here")

    def attribute(self, base: Any, name: str, node: ast.AST) -> Any:
        if isinstance(base, CfgNodeVal):
            return yacs_values.attribute(base, name, plain.BoundMethod)
        if isinstance(base, ObjVal):
            if name in base.attrs:
                return base.attrs[name]
            if base.unsure:
                return unsure(base)
            if base.cls is not None:
                value = self.class_attr(base.cls, name)
                if isinstance(value, FuncVal):
                    return _bound(value, base, base.cls)
                if value is not None:
                    return value
                return Unknown(f"`{name}` is not set on this {base.cls.node.name} object")
            if base.name == "the argparse namespace":
                return Unknown(f"the script has no option that sets `args.{name}`")
            return Unknown(f"`{name}` is not set on {base.name}")
        if isinstance(base, SuperOf):
            return self.super_attribute(base, name)
        if isinstance(base, ModVal):
            return self.module_attr(base.file, name)
        if isinstance(base, (ClassVal, FuncVal)) and name in ("__name__", "__qualname__"):
            return Const(base.node.name)
        if isinstance(base, ClassVal):
            value = self.class_attr(base, name)
            if isinstance(value, FuncVal) and _method_kind(value) == "classmethod":
                return FuncVal(value.file, value.node, value.owner, base)  # `Config.from_yaml(path)`: cls bound
            return value if value is not None else Unknown(f"`{base.node.name}.{name}` is not known")
        if isinstance(base, (ParserVal, SubparsersVal)):
            return plain.BoundMethod(base, name)
        return Unknown(f"`{self.pf.segment(node)}` is not known")

    def super_attribute(self, base: SuperOf, name: str) -> Any:
        """`super().name`: looked up in the classes after the method's own, bound to the object."""
        for cls in base.classes:
            value = self.class_attr(cls, name, depth=8)  # (its own body: the chain is walked here)
            if isinstance(value, FuncVal):
                return _bound(value, base.obj, cls)
            if value is not None:
                return value
        return Unknown(f"`super().{name}` is not a method of the workspace's classes")

    def class_attr(self, cls: ClassVal, name: str, depth: int = 0) -> Any:
        """A class attribute or method, through workspace base classes; None when not there."""
        for stmt in cls.node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                return FuncVal(cls.file, stmt, cls.node.name + ".")
            targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                if type_tests.is_enum(self, cls):  # a member: neither its value nor a string (`Size.SMALL == "small"`)
                    return Unknown(f"`{cls.node.name}.{name}` is a member of an Enum, not followed")
                return self.in_file(cls.file, lambda v=stmt.value: self.ev(v, self.module_env(cls.file)))
        if depth < 8:
            env = self.module_env(cls.file)
            for base in cls.node.bases:
                value = self.in_file(cls.file, lambda b=base: self.ev(b, env))
                if isinstance(value, ClassVal):
                    found = self.class_attr(value, name, depth + 1)
                    if found is not None:
                        return found
        return None

    def object_attrs(self, obj: ObjVal) -> dict[str, Any]:
        """An object's attributes with those of its class (a `class Config:` of constants)."""
        if obj.cls is None:
            return {k: self.concrete(v) if isinstance(v, SourceVal) else v for k, v in obj.attrs.items()}
        out: dict[str, Any] = {}
        for cls in self.class_chain(obj.cls):
            for stmt in cls.node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                    [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else []
                for t in targets:
                    if isinstance(t, ast.Name) and t.id not in out:
                        out[t.id] = self.class_attr(cls, t.id)
        out.update(obj.attrs)
        return {k: self.concrete(v) if isinstance(v, SourceVal) else v for k, v in out.items()}

    def class_chain(self, cls: ClassVal) -> list[ClassVal]:
        out = [cls]
        while len(out) < 8:
            env = self.module_env(out[-1].file)
            bases = [self.in_file(out[-1].file, lambda b=b, e=env: self.ev(b, e)) for b in out[-1].node.bases]
            nxt = [b for b in bases if isinstance(b, ClassVal)]
            if not nxt or nxt[0] in out:
                break
            out.append(nxt[0])
        return out

    def in_file(self, pf: PyFile, fn):
        saved = self.pf
        self.pf = pf
        try:
            return fn()
        finally:
            self.pf = saved

    # ------------------------------------------------------------------ calls
    def call_value(self, callee: Any, node: ast.Call, env: dict) -> Any:
        if isinstance(callee, plain.BoundMethod):
            if isinstance(callee.owner, CfgNodeVal):
                return yacs_calls.method(self, callee, node, env)
            return self.parser_method(callee, node, env)
        bound: tuple[list, dict] = ([], {})
        while isinstance(callee, PartialVal):  # its arguments go in front, its keywords under the call's
            bound = ([*callee.args, *bound[0]], {**callee.kwargs, **bound[1]})
            callee = callee.func
        if isinstance(callee, LibRef):
            return self.new_model(node, env)  # `MODELS["ln"](8)` of `partial(nn.LayerNorm, eps=1e-6)`
        if isinstance(callee, ClassVal) and callee.is_module:
            args, kwargs, why = self.arguments(node, env)
            model = self.new_model(node, env, cls=callee)
            if not why:
                self.follow_init_loads(model, callee, [*bound[0], *args], {**bound[1], **kwargs}, node)
            return model
        if not isinstance(callee, (FuncVal, ClassVal)):
            return Unknown(f"`{self.pf.segment(node)}` is not known statically")
        memo = self.call_memo[-1] if self.call_memo else {}
        hit = memo.get((id(node), id(env)))
        if hit is not None and hit[0] is env:
            return hit[1]  # (this statement made this call already: its side effects ran once)
        args, kwargs, why = self.arguments(node, env)
        args, kwargs = [*bound[0], *args], {**bound[1], **kwargs}
        if isinstance(callee, FuncVal):
            result = self.not_followed([callee.self_value, *args], f"`{self.pf.segment(node.func)}()` is called with {why}") \
                if why else self.call_function(callee, args, kwargs, node)
        elif not why and attribute_dicts.attribute_dict(callee):
            # `AttrDict(CONFIGS[name])`: EasyDict's way (nested dicts read by attribute too), or
            # HiFi-GAN's `self.__dict__ = self` (the top level only)
            args = [config_data.read_data(self, a) if isinstance(a, JsonFile) else a for a in args]
            result = attribute_dicts.data(args, kwargs, callee if attribute_dicts.dict_is_its_dict(callee) else None,
                                          callee)
        else:
            result = Unknown(f"`{callee.node.name}(...)` is called with {why}") if why else \
                self.instantiate(callee, args, kwargs, node)
        memo[(id(node), id(env))] = (env, result)
        return result

    def arguments(self, node: ast.Call, env: dict) -> tuple[list[Any], dict[str, Any], str]:
        args: list[Any] = []
        why = ""
        for a in node.args:
            if isinstance(a, ast.Starred):
                value = self.ev(a.value, env) if not why else None
                if isinstance(value, SeqVal):
                    args.extend(value.items)
                elif isinstance(value, Const) and isinstance(value.value, (list, tuple)):
                    args.extend(Const(v, value.origin) for v in value.value)
                else:
                    why = why or f"`*{self.pf.segment(a.value)}`, not known statically"
            else:
                args.append(self.ev(a, env))  # (after a `*` not known too: a call not followed gets them)
        if why:
            return args, {}, why
        kwargs = plain.keywords(self, node, env)
        if kwargs is None:
            return args, {}, self._unknown_spread(node, env)
        return args, kwargs, ""

    def _unknown_spread(self, node: ast.Call, env: dict) -> str:
        """Which `**value` of a call is not known, and why (`**checkpoint["model_args"]` of a
        checkpoint that is not there)."""
        for k in node.keywords:
            if k.arg is None and plain.spread(self, k.value, env) is None:
                value = self.ev(k.value, env)
                if isinstance(value, (SourceVal, At)):
                    value = self.concrete(value)
                why = value.reason if isinstance(value, Unknown) else ""
                return f"`**{self.pf.segment(k.value)}`, not known statically" + (f" ({why})" if why else "")
        return "`**` arguments not known statically"

    def call_function(self, fn: FuncVal, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        name = f"{fn.owner}{fn.node.name}()"
        key = id(fn.node)
        why = ""
        bare = not args and not kwargs and not fn.owner
        hydra = hydra_main.hydra_decorator(fn) if bare else None
        if hydra is not None:
            args = [hydra_main.task_config(self, fn, hydra)]  # `main()` of a Hydra app: the config it composes
        click = cli_apps.click_command(fn) if bare and hydra is None else None
        if click is not None:  # `main()` of a click command: the options click parses
            kwargs = cli_apps.click_arguments(self, fn, click)
            if isinstance(kwargs, Unknown):
                return self.not_followed([fn], kwargs.reason)
        if isinstance(fn.node, ast.AsyncFunctionDef) or hydra is None and click is None and not _harmless_decorator(fn):
            why = f"{name} is decorated or async: not followed"
        elif self.stack.count(key) >= MAX_RECURSION:
            why = f"{name} calls itself more than {MAX_RECURSION} deep: not followed"
        elif len(self.stack) >= MAX_DEPTH:
            why = f"{name} is more than {MAX_DEPTH} calls deep: not followed"
        elif self.calls >= MAX_CALLS or self.called_in_run.get(key, 0) >= MAX_CONTEXTS and not _trivial(fn.node):
            why = f"{name} is called too often to follow every call"
        if why:
            return self.not_followed([fn, fn.self_value, *args, *kwargs.values()], why)
        self.calls += 1
        self.called[key] = self.called.get(key, 0) + 1
        self.called_in_run[key] = self.called_in_run.get(key, 0) + 1
        outer = self.module_env(fn.file)
        local = self.in_file(fn.file, lambda: self.bind(fn, args, kwargs, ChainMap({}, fn.closure or outer)))
        env = Scope(local, fn.closure if fn.closure is not None else outer)
        env.declared(fn.node, outer, fn.closure)
        caller = os.path.relpath(self.pf.path, self.root) if self.pf.path.startswith(self.root) else self.pf.path
        self.contexts.append(f"{name} as called from {caller}:{getattr(node, 'lineno', 0)}")
        self.stack.append(key)
        self.returns.append([])
        self.return_tests.append([])
        self.guard_depth.append(len(CURRENT_GUARDS.get()))
        saved = self.pf
        self.pf = fn.file
        try:
            self.block(fn.node.body, env, [])
        except ReturnSignal:
            pass
        finally:
            self.pf = saved
            self.contexts.pop()
            self.stack.pop()
            returned = self.returns.pop()
            tests = self.return_tests.pop()
            self.guard_depth.pop()
        return _one_value(returned, name, tests[0] if tests else "")

    def bind(self, fn: FuncVal, args: list[Any], kwargs: dict[str, Any], defaults_env) -> dict:
        name = f"{fn.owner}{fn.node.name}()"

        def problem(message: str, param: str | None) -> Any:
            # a call Python would refuse raises before anything it leads to: what the
            # function is left without is unknown, and the rest is bound as given
            return Unknown(f"`{param}` is not passed to {name}") if param else None

        policy = binding.Policy(default=lambda node: self.ev(node, defaults_env), problem=problem,
                                pack_args=lambda extra: SeqVal(extra), pack_kwargs=_dict_value)
        if fn.self_value is not None:
            args = [fn.self_value, *args]
        return binding.bind(fn.node.args, name, args, kwargs, policy)

    def parser_method(self, bound: plain.BoundMethod, node: ast.Call, env: dict) -> Any:
        if isinstance(bound.owner, SubparsersVal):
            child = bound.owner.add_parser([self.ev(a, env) for a in node.args], plain.keywords(self, node, env) or {}) \
                if bound.name == "add_parser" else None
            return child if child is not None else Unknown(f"`{self.pf.segment(node)}` is not followed")
        parser: ParserVal = bound.owner
        if bound.name == "add_subparsers":
            made = parser.add_subparsers(plain.keywords(self, node, env) or {})
            return made if made is not None else Unknown(f"`{self.pf.segment(node)}` is not followed")
        if bound.name == "add_argument":
            parser.add_argument([self.ev(a, env) for a in node.args], self.argument_keywords(node, env))
            return Const(None)
        if bound.name in ("add_argument_group", "add_mutually_exclusive_group"):
            return parser
        if bound.name == "get_default" and len(node.args) == 1 and not node.keywords:
            return parser.get_default(self.ev(node.args[0], env))  # pix2pix's TestOptions
        if bound.name == "set_defaults":
            return self.set_defaults(parser, node, env)
        if bound.name in ("parse_args", "parse_known_args"):
            given = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
            argv, source = self.argv, self.argv_source
            value = self.ev(given, env) if given is not None else Const(None)
            if isinstance(value, SeqVal) and all(isinstance(i, Const) for i in value.items):
                value = Const([i.value for i in value.items])  # `sys.argv[1:]`
            if not (isinstance(value, Const) and value.value is None):  # `parse_args(None)`: sys.argv, as bare
                if not (isinstance(value, Const) and isinstance(value.value, (list, tuple))):
                    return Unknown(f"`{self.pf.segment(node)}` parses arguments known only at run time")
                argv, source = [str(v) for v in value.value], f"(from {self.pf.segment(given)})"
            if parser.unknown:
                return Unknown(f"the argument parser has {parser.unknown}")
            def convert(fn, text: str):  # `type=str2bool`: the workspace's function, run here
                return self.call_function(fn, [Const(text)], {}, node)

            if bound.name == "parse_args":
                return parser.parse(argv, source, convert)
            return parser.parse_known(argv, source, convert)
        if bound.name not in ("print_help", "print_usage", "format_help", "format_usage", "error", "exit"):
            parser.unknown = parser.unknown or f"`{bound.name}(...)` (subcommands or options made at run time)"
        return Unknown(f"`{self.pf.segment(node)}` is not known statically")

    def argument_keywords(self, node: ast.Call, env: dict) -> dict[str, Any]:
        """`add_argument`'s keywords: `type=int` by its name, `nargs=argparse.REMAINDER` as argparse's value."""
        kwargs = {}
        for k in node.keywords:
            if k.arg == "type" and self.pf.dotted(k.value) in argparse_values.PATH_TYPES:
                kwargs["type"] = Const("pathlib.Path")  # `type=Path`: a path, as the tracker holds one (a str)
            elif k.arg == "type" and isinstance(k.value, ast.Name) and k.value.id not in env:
                kwargs["type"] = Const(k.value.id)
            elif k.arg == "type" and isinstance(made := self.ev(k.value, env), Const) and made.value in (int, float, str):
                kwargs["type"] = Const(made.value.__name__)  # `type=type(v)` of a known default
            elif k.arg is not None and self.pf.dotted(k.value) in argparse_values.CONSTANTS:
                kwargs[k.arg] = Const(argparse_values.CONSTANTS[self.pf.dotted(k.value)])
            elif k.arg is not None:
                kwargs[k.arg] = self.ev(k.value, env)
        return kwargs

    # ------------------------------------------------------------------ models
    def set_defaults(self, parser: ParserVal, node: ast.Call, env: dict) -> Const:
        given = plain.keywords(self, node, env)
        if given is None:  # `parser.set_defaults(**load_config(path))`: any option's default may change
            parser.unknown = parser.unknown or f"defaults set by `{self.pf.segment(node)}`, not known statically"
        parser.defaults.update(given or {})
        return Const(None)

    def new_model(self, node: ast.Call, env: dict, cls: ClassVal | None = None) -> ModelVal:
        subs = self.substitutions(node, env)
        subs.globals = self.script_globals(cls, subs)
        subs.undecorated = self.undecorated_classes()
        subs.registries = self.registry_objects() if subs.undecorated else {}
        subs.import_dirs = self.added_import_dirs()
        made = ModelVal(self.pf, "", node, cls=cls, subs=subs, portable=self.portable_subs(node, env))
        forget_changed_arguments(self, node, env, cls)  # (after its own arguments were written down)
        return made

    def portable_subs(self, node: ast.Call, env: dict):
        """ModelVal.portable: for a module made in a module the script imports, its call written
        as a file that imports the workspace's classes would write it."""
        if self.pf is self.entry:
            return None
        self.foreign_step = self.entry
        try:
            return self.substitutions(node, env)
        finally:
            self.foreign_step = None

    def undecorated_classes(self) -> list[str]:
        """Recipe.undecorated: the classes of the modules imported so far whose decorators only
        register them (`@MODELS.register_module()`; a model's blocks are often registered too)."""
        return sorted({f"{v.file.path}:{v.node.lineno}" for env in self.module_envs.values() for v in env.values()
                       if isinstance(v, ClassVal) and v.undecorated})

    def registry_objects(self) -> dict[str, dict[str, str]]:
        """Recipe.registries: the objects of imported workspace modules that hold a dict a decorator
        filled with classes or functions, each written as its class's object with those entries
        (its other attributes, when not plain data, left out as not known)."""
        out: dict[str, dict[str, str]] = {}
        for path, env in self.module_envs.items():
            if path == self.entry.path:
                continue
            for name, value in env.items():
                text = self._registry_text(value) if isinstance(value, ObjVal) and value.cls is not None else None
                if text is not None:
                    out.setdefault(path, {})[name] = text
        return out

    def _registry_text(self, obj: ObjVal) -> str | None:
        cls = self.class_expr(obj.cls)
        if cls is None:
            return None
        keywords, unknown, entries_found = [], {}, False
        for attr, value in obj.attrs.items():
            entries = plain.program_dict_entries(value)
            if entries and all(isinstance(v, (ClassVal, FuncVal)) for v in entries.values()):
                refs = [self.class_expr(v) for v in entries.values()]
                if any(r is None for r in refs) or not all(isinstance(k, str) for k in entries):
                    return None
                lit: Any = ast.Dict([ast.Constant(k) for k in entries], refs)
                entries_found = True
            elif isinstance(value, (ClassVal, FuncVal)):
                lit = self.class_expr(value)  # mmcv's `self.build_func = build_func or build_from_cfg`
            else:
                lit = self.literal(value)
            if lit is not None and attr.isidentifier():
                keywords.append(ast.keyword(attr, lit))
            else:
                unknown[attr] = "its value is not plain data"
        if not entries_found:
            return None
        why = ast.Dict([ast.Constant(k) for k in unknown], [ast.Constant(v) for v in unknown.values()])
        return ast.unparse(ast.Call(recipe_literals.helper("made"), [cls, why], keywords))


def _one_value(values: list[Any], name: str, why: str = "") -> Any:
    if not values:
        return Const(None)
    first = values[0]
    if all(v is first for v in values):
        return first
    if all(isinstance(v, Const) and v.value == first.value for v in values if isinstance(first, Const)) \
            and isinstance(first, Const):
        return first
    if all(isinstance(v, ModelVal) and v.id == getattr(first, "id", None) for v in values):
        return first
    return Unknown(f"{name} returns different values on different paths" + (f" ({why})" if why else ""))


def _dict_value(entries: dict[str, Any]) -> Any:
    if all(isinstance(v, Const) for v in entries.values()):
        return Const({k: v.value for k, v in entries.items()}, origins(list(entries.values())))
    return SourceVal(DictLit(dict(entries)))


def _is_dataclass(node: ast.ClassDef, pf: PyFile) -> bool:
    """A dataclass (its generated `__init__` sets the fields) or a `typing.NamedTuple` class."""
    if any((pf.dotted(b) or "") in ("typing.NamedTuple", "NamedTuple") for b in node.bases):
        return True
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if (pf.dotted(target) or "") in ("dataclass", "dataclasses.dataclass"):
            return not (isinstance(d, ast.Call) and any(k.arg == "init" for k in d.keywords))
    return False


def _leaves_alone(decorator: FuncVal) -> bool:
    """Whether a decorator neither sets attributes on what it is given nor calls `setattr`: it may
    store the class (a registry) but gives it back as it was."""
    args = decorator.node.args
    params = [a.arg for a in (*args.posonlyargs, *args.args)]
    if not params:
        return False
    for n in ast.walk(decorator.node):
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, (ast.Store, ast.Del)) and \
                isinstance(n.value, ast.Name) and n.value.id == params[0]:
            return False
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("setattr", "delattr"):
            return False
    return True


def _harmless_decorator(fn: FuncVal) -> bool:
    if fn.decorated:
        return True
    names = {(fn.file.dotted(d.func if isinstance(d, ast.Call) else d) or "") for d in fn.node.decorator_list}
    return names <= {"torch.no_grad", "torch.inference_mode", "staticmethod", "classmethod", "torch.enable_grad",
                     "functools.wraps", "property", "functools.lru_cache", "functools.cache"}


def _method_kind(fn: FuncVal) -> str:
    for d in fn.node.decorator_list:
        if isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod"):
            return d.id
    return ""


def _bound(fn: FuncVal, obj: Any, cls: ClassVal) -> FuncVal:
    """A method read from an instance: bound to it; a classmethod to its class, a staticmethod to nothing."""
    kind = _method_kind(fn)
    if kind == "staticmethod":
        return fn
    return FuncVal(fn.file, fn.node, fn.owner, cls if kind == "classmethod" else obj)


_TRIVIAL_CALLS = {"setattr", "getattr", "hasattr", "isinstance", "len", "int", "float", "str", "bool"}


def _trivial(fn: ast.AST) -> bool:
    """A short function that calls nothing but builtins and has no loop (Tacotron2's
    `HParams.add_hparam(name, value)`: `setattr(self, name, value)`, called once per
    hyper-parameter): cheap to follow at every call, so the bound on contexts does not cut it."""
    hit = fn.__dict__.get("_trivial")
    if hit is None:
        body = getattr(fn, "body", [])
        hit = fn.__dict__["_trivial"] = isinstance(body, list) and len(body) <= 5 and not any(
            isinstance(n, (ast.For, ast.While, ast.AsyncFor, ast.Lambda, ast.FunctionDef, ast.ClassDef))
            or isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and n.func.id in _TRIVIAL_CALLS)
            for s in body for n in ast.walk(s))
    return hit
