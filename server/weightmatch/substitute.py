"""Known values written into a recipe's text as literals (`Net(num_classes=args.num_classes)`
-> `Net(num_classes=10)`), so the recipe stands alone where the worker or static inference
replays it; and the assumptions behind them, for the message ("--arch at its default")."""

from __future__ import annotations

import ast
import os
import re
from collections import ChainMap
from typing import Any

from weightmatch import config_data, const_mutation, environment, library_calls, recipe_literals, recipe_steps
from weightmatch.argparse_values import ParserVal
from weightmatch.exits import one_line
from weightmatch.values import (
    At, ClassVal, Const, FuncVal, JsonFile, ModelAttr, ModelVal, ModVal, ObjVal, Remade, SeqVal, SourceVal, Substitutions, Unknown,
)


class SubstituteMixin:
    """Part of the Interpreter (interpret.py): needs `ev`, `pf`, `module_envs`, `concrete`,
    `object_attrs` and `registry_lookup`."""

    def substitutions(self, node: ast.AST, env: dict) -> Substitutions:
        """Known values of the names `node` reads, written in as literals. A name local to a
        function (or a value our interpreter computed, like `args.num_classes`) does not exist
        where the recipe is replayed; a module-level name whose value is not known is left
        for the replay, which defines the file's constants itself."""
        subs = Substitutions(argv=list(self.argv or []))
        stack = [node]
        self.substituting += 1
        try:
            self._substitute_all(stack, env, subs)
        finally:
            self.substituting -= 1
        return subs

    def _substitute_all(self, stack: list, env: dict, subs: Substitutions) -> None:
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Call):
                subs.spread.update(id(k.value) for k in n.keywords if k.arg is None)
                subs.arguments.update(id(a) for a in [*n.args, *(k.value for k in n.keywords)])
                subs.arguments.update(id(a.value) for a in n.args if isinstance(a, ast.Starred))  # `*layers`
            if self.loop_names and _reads_loop_names(n, self.loop_names):
                # a name the loop being replayed binds (model_changes.py) is its own, never written
                # in; what else the expression reads is still looked at
                done = isinstance(n, ast.Name)
            else:
                done = self._substitute(n, env, subs)
            if not done:
                stack.extend(reversed(list(ast.iter_child_nodes(n))))  # source order

    def _is_local(self, name: str, env: dict) -> bool:
        if isinstance(env, ChainMap):
            return any(name in m for m in env.maps[:-1])
        return env is not self.module_envs.get(self.pf.path) and name in env

    def _substitute(self, n: ast.AST, env: dict, subs: Substitutions) -> bool:
        """Write `n`'s value into `subs` when it is known; True when `n` needs no further look."""
        if self._substitute_registry(n, env, subs) or self._substitute_import(n, env, subs) or \
                self._substitute_environ(n, env, subs) or self._substitute_eval_attr(n, env, subs):
            return True
        if isinstance(n, ast.Call) and (self._substitute_config(n, env, subs) or self._substitute_method(n, env, subs) or
                                        self._substitute_class_ref(n, env, subs) or self._substitute_data_call(n, env, subs)):
            return True
        if isinstance(n, ast.Call) and not _tensor_fact(n):
            return False
        if isinstance(n, (ast.DictComp, ast.ListComp, ast.SetComp)):
            return self._substitute_comprehension(n, env, subs)
        root = n
        while isinstance(root, (ast.Attribute, ast.Subscript)) or _tensor_fact(root):
            root = (root.args[0] if isinstance(root.func, ast.Name) else root.func.value) if _tensor_fact(root) \
                else root.value  # `sd["w"].size()[0]`, `.size(0)`, `len(sd["w"])`
        if not (isinstance(n, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) and isinstance(root, ast.Name)
                and isinstance(getattr(n, "ctx", ast.Load()), ast.Load) and root.id in env):
            return False
        value = self._read(self.ev(n, env))
        if isinstance(value, (ClassVal, FuncVal)):
            # (a name imported in the `__main__` block or under an `if` is bound only when the script
            # runs: the replay, which runs definitions alone, imports it by its module instead)
            runtime = isinstance(n, ast.Name) and _bound_at_run_time(self._replay_file(), n.id)
            if isinstance(n, ast.Name) and not self._is_local(n.id, env) and self._replay_file() is self.pf and \
                    self.global_name_of(value) == n.id and not runtime:
                return True  # the class's own name, which the replay defines (not `cls` a loop picked)
            expr = self.class_expr(value, by_module=runtime)  # the script's name for it, else `__import__(…).Net`
            if expr is not None:
                subs.by_span[_span(n)] = expr
            return expr is not None
        inlined = self._substitute_modules(n, value, env, subs)
        if inlined is not None:
            return inlined
        value = _spread(n, value, subs)
        lit = self.literal(value)
        if lit is not None:
            subs.by_span[_span(n)] = lit
            _note(subs, value)
            return True
        if isinstance(n, ast.Name) and isinstance(value, Unknown) and not self._is_local(n.id, env) \
                and (n.id in self._replay_cannot_know() or (self._replay_file().path, n.id) in self.forgotten):
            # `gptconf = GPTConfig(**checkpoint["model_args"])` under an `if`: the replay would
            # not know it either; our reason is the user's (the checkpoint is not there)
            subs.error = subs.error or f"`{n.id}` is known only at run time ({value.reason})"
            return True
        base = self.ev(root, env)
        if (self._is_local(root.id, env) or isinstance(value, Unknown) and (
                isinstance(base, (ObjVal, ModVal, ParserVal)) or isinstance(base, Const) and isinstance(base.value, config_data.AttrDict))) \
                and not isinstance(value, (ModelVal, ModelAttr, SourceVal)) and not isinstance(base, (ModelVal, ModelAttr)):
            if not subs.error:
                seg = self.pf.segment(n)
                what = value.reason if isinstance(value, Unknown) else ""
                subs.error = what if what.startswith(f"`{seg}` ") else f"`{seg}` is known only at run time" + \
                    (f" ({what})" if what else "")
            return True
        return False

    def _substitute_eval_attr(self, n: ast.AST, env: dict, subs: Substitutions) -> bool:
        """LSTNet's `eval(args.model).Model`: the class of the module `eval` names, by its module."""
        if not (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Call) and self.pf.dotted(n.value.func) == "eval"):
            return False
        value = self.ev(n, env)
        expr = self.class_expr(value) if isinstance(value, ClassVal) else None
        if expr is not None:
            subs.by_span[_span(n)] = expr
        return expr is not None

    def _read(self, value: Any) -> Any:
        """A value read from the checkpoint (`GPT(ckpt["model_args"]["n_layer"])`) or a data file
        (`CLIP(**cfg)` of `cfg = json.load(f)`) as the data it holds; any other as it is."""
        if isinstance(value, SourceVal):
            data = self.concrete(value)
            if isinstance(data, Unknown):  # fairseq's `cls(args)` of the argparse namespace saved with it
                return self.saved_namespace(value) or data
            return data
        if isinstance(value, JsonFile):
            return config_data.read_data(self, value)
        return value

    def _substitute_import(self, n: ast.AST, env: dict, subs: Substitutions) -> bool:
        """In a step written in another file than the model's, a name that file imports
        (`prune.global_unstructured(...)` in a helper module) is written in as its import."""
        if not (isinstance(n, ast.Name) and self._replay_file() is not self.pf and n.id in self.pf.imports
                and not self._is_local(n.id, env)):
            return False
        imported = recipe_steps.import_expr(self.pf, n.id)
        if imported is not None:
            subs.by_span[_span(n)] = imported
        return imported is not None

    def _substitute_comprehension(self, n: ast.expr, env: dict, subs: Substitutions) -> bool:
        """`Net(**{k: config[k] for k in KEYS})`: its names are its own, so it is written in whole."""
        value = config_data.as_const(self.ev(n, env))
        lit = self.literal(value) if isinstance(value, Const) else None
        if lit is not None:
            subs.by_span[_span(n)] = lit
            _note(subs, value)
        return lit is not None

    def _substitute_modules(self, n: ast.AST, value: Any, env: dict, subs: Substitutions) -> bool | None:
        """A local name holding a module (or a list of modules) passed to a call, written in as
        its constructor(s); None when `value` is no such thing."""
        if isinstance(value, ModelVal) and value.id == getattr(self, "stepping", None):
            return True  # the model a step changes (interpret.step_subs names it)
        if isinstance(n, ast.Attribute) and id(n) in subs.arguments and isinstance(value, ModelVal) and \
                isinstance(self.ev(n.value, env), ObjVal):
            # `ModelEmaV2(self.model)` in a Trainer: the object is run-time state, its module is written in
            return self._inline_model(n, value, subs)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and isinstance(value, ModelAttr) and \
                not value.model.steps and value.model.id != getattr(self, "stepping", None) and \
                self._is_local(n.value.id, env) and self.ev(n.value, env) is value.model:
            # `StandardROIHeads(backbone.out_channels, ...)` after `backbone = Backbone(...)` in a
            # factory: read off the module made again by its constructor (nothing was done to it)
            return self._inline_model(n.value, value.model, subs)
        if isinstance(value, ModelAttr) and value.path and not value.model.wrappers and \
                value.model.id != getattr(self, "stepping", None) and \
                not [st for st in value.model.steps if not _reads_only(st)]:
            root = n
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(n, ast.Name):
                # `n_features = encoder.fc.in_features`, then `SimCLR(encoder, 64, n_features)`: read
                # off the module made again by its constructor (nothing was done to it since)
                made = self._constructor(n, value.model, subs)
                if made is False:
                    return None  # (made by a call not known to make modules: looked at as any other value)
                if made is None:
                    return True  # (it cannot be written: `subs.error` says why)
                subs.by_span[_span(n)] = ast.Attribute(_attributes(made, value.path[:-1]), value.path[-1], ast.Load())
                return True
            if isinstance(root, ast.Name) and self.ev(root, env) is value.model:
                return self._inline_model(root, value.model, subs)  # `SimCLR(encoder, 64, encoder.fc.in_features)`
        if not (isinstance(n, ast.Name) and id(n) in subs.arguments):
            return None
        if not self._is_local(n.id, env):
            # `model = Unet(...)` at the top of the script, then `GaussianDiffusion(model, ...)`:
            # the replay drops the call that binds it, so the module is written in as its constructor
            if isinstance(value, ModelVal) and all(map(_reads_only, value.steps)) and n.id in self._replay_drops():
                return self._inline_model(n, value, subs)
            return None
        if isinstance(value, ModelVal):
            return self._inline_model(n, value, subs)
        if isinstance(value, SeqVal) and const_mutation.holds_module(value):
            return self._inline_models(n, value, subs)
        return None

    def _inline_model(self, n: ast.Name | ast.Attribute, inner: ModelVal, subs: Substitutions) -> bool:
        """`enc = nn.Linear(4, 5); probe = Probe(enc)` in a function: the module the local name
        holds, written in as its own constructor (`Probe(nn.Linear(4, 5))`), when nothing was
        done to it since it was made; else the recipe cannot make it, and says why."""
        made = self._constructor(n, inner, subs)
        if made is False:
            return False
        if made is not None:
            subs.by_span[_span(n)] = made
        return True

    def _inline_models(self, n: ast.Name, seq: SeqVal, subs: Substitutions) -> bool:
        """`layers = []; for ...: layers.append(nn.Linear(a, b))` then `nn.Sequential(*layers)`:
        the list written in item by item, each module as its own constructor (`_inline_model`)."""
        made = self._items_expr(n, seq, subs)
        if made is None:
            subs.error = subs.error or f"`{n.id}` holds a value the recipe cannot write out"
            return True
        subs.by_span[_span(n)] = made
        subs.inlined[_span(n)] = list(seq.items)
        return True

    def _items_expr(self, n: ast.Name, seq: SeqVal, subs: Substitutions, depth: int = 0) -> ast.expr | None:
        """A list of modules as a list literal, each as its constructor; a pair in it as a tuple
        (`OrderedDict(layers)` of `("fc0", nn.Linear(4, 8))`); None when an item cannot be written."""
        items = []
        for item in seq.items:
            if isinstance(item, ModelVal):
                made = self._constructor(n, item, subs)
            elif isinstance(item, SeqVal) and depth < 2:
                made = self._items_expr(n, item, subs, depth + 1)
                made = ast.Tuple(made.elts, ast.Load()) if made is not None else None
            else:
                made = self.literal(item)
            if made is None or made is False:
                return None
            items.append(made)
        return ast.List(items, ast.Load())

    def _constructor(self, n: ast.Name | ast.Attribute, inner: ModelVal, subs: Substitutions) -> ast.expr | None | bool:
        """The expression that makes `inner` again, its notes added to `subs`; None when it cannot
        be written (the reason set in `subs.error`); False when `inner` was made by a call not known
        to make modules."""
        made_by = self.pf.dotted(inner.call.func) if isinstance(inner.call, ast.Call) else None
        inner_subs = inner.subs
        if isinstance(inner.call, ast.Call) and inner_subs is not None and _span(inner.call.func) in inner_subs.by_span:
            # `act()` of a parameter `act=nn.ReLU`: the layer class written in (`__import__('torch').nn.ReLU`)
            made_by = ast.unparse(inner_subs.by_span[_span(inner.call.func)]).replace("__import__('torch')", "torch")
        if inner.cls is None and not (made_by or "").startswith(("torch.nn.", "torchvision.models.", "timm.")):
            return False  # made by a call of a library not known to make modules (`make_config()`)
        if inner.file is not self._replay_file() and inner.portable is not None:
            inner_subs = inner.portable  # made by a factory in another file (DETR's build_backbone)
        elif inner.file is not self.pf:
            inner_subs = None  # (made in the script itself: its names mean nothing where this is replayed)
        changed = [st for st in inner.steps if not _reads_only(st)]
        module = self.workspace_module_name(inner.file)
        attrs = [recipe_steps.plain_attribute(st, inner, module) for st in changed]
        if changed and all(attrs) and not inner.wrappers and inner.pending_wrap is None and inner_subs is not None \
                and not inner_subs.error:
            changed = []  # `model.num_channels = 2048` only: set again after it is made (recipe_objects.with_attrs)
        else:
            attrs = []
        if changed or inner.wrappers or inner.pending_wrap is not None or inner_subs is None or inner_subs.error:
            subs.error = subs.error or (inner_subs.error if inner_subs is not None and inner_subs.error else
                                        f"`{self.pf.segment(n)}` is a module changed after it was made "
                                        f"(`{one_line(changed[0].text)}`): the model it goes into is not rebuilt "
                                        "statically" if changed else
                                        f"`{self.pf.segment(n)}` is a module the recipe cannot write where "
                                        "it is used: the model it goes into is not rebuilt statically")
            return None
        for note in inner_subs.notes:
            if note not in subs.notes:
                subs.notes.append(note)
        made = ast.parse(inner_subs.render(inner.call, inner.file), mode="eval").body
        if attrs:
            made = ast.Call(recipe_literals.helper("with_attrs"), [made], [ast.keyword(k, v) for k, v in attrs])
        return made

    def _substitute_config(self, n: ast.Call, env: dict, subs: Substitutions) -> bool:
        """`GPT(GPTConfig(n_layer=12))`: a plain config object made in place, written in."""
        cls = self.ev(n.func, env)
        if not isinstance(cls, ClassVal) or cls.is_module:
            return False
        lit = self.literal(self.ev(n, env))
        if lit is None:
            return False
        subs.by_span[_span(n)] = lit
        return True

    def _substitute_method(self, n: ast.Call, env: dict, subs: Substitutions) -> bool:
        """`cfg.model.get("params", {})`, `name.lower()`: a method of known plain data, written in."""
        root = n.func.value if isinstance(n.func, ast.Attribute) else None
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if not (isinstance(root, ast.Name) and root.id in env):
            return False
        owner = self.ev(n.func.value, env)
        if isinstance(owner, ParserVal) and n.func.attr in ("parse_args", "parse_known_args"):
            value = self.ev(n, env)  # `Net(parser.parse_args())`: the namespace, as the options give it
            lit = self.literal(value) if isinstance(value, ObjVal) else None
            if lit is not None:
                subs.by_span[_span(n)] = lit
                _note(subs, value)
            return lit is not None
        if isinstance(owner, JsonFile):
            owner = config_data.read_data(self, owner)  # `cfg.get("ffn_mult", 4)` of a JSON file's dict
        if isinstance(owner, (SourceVal, At)) and n.func.attr == "get":
            # `hparams.get("dropout", 0.1)` of the hyper-parameters a checkpoint holds
            return _write(n, config_data.data_of(self, self.ev(n, env)), subs)
        if not isinstance(owner, Const):
            return False
        return _write(n, _spread(n, self.ev(n, env), subs), subs)

    def _substitute_environ(self, n: ast.AST, env: dict, subs: Substitutions) -> bool:
        """`os.environ.get("DIM", "64")`, `os.environ["DIM"]`: the value this run's environment
        gives (set by the script, by a launch configuration, else the default), written in; the
        replay's own environment is not the user's."""
        if not (isinstance(n, ast.Call) and self.pf.dotted(n.func) in environment.READS
                or isinstance(n, ast.Subscript) and self.pf.dotted(n.value) == "os.environ"):
            return False
        value = self.ev(n, env)
        if isinstance(value, Unknown):
            subs.error = subs.error or value.reason
            return True
        return _write(n, value, subs)

    def _substitute_data_call(self, n: ast.Call, env: dict, subs: Substitutions) -> bool:
        """`asdict(cfg)`, `dict(base, depth=4)`: a call of plain data the interpreter computes
        itself (library_calls.py); `cfg.scaled(widths, 2)`: a workspace function that returns
        plain data or a plain object (`Config.from_name("tiny")`). Written in as its value."""
        root = n.func
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        own = isinstance(root, ast.Name) and root.id in env and isinstance(self.ev(n.func, env), FuncVal)
        if self.pf.dotted(n.func) not in library_calls.DATA_CALLS and not own or n in self.writing:
            return False
        self.writing.append(n)  # the call may be the model's own constructor: never evaluated from inside it
        try:
            value = self.ev(n, env)
        finally:
            self.writing.pop()
        if own and isinstance(value, ObjVal):  # `GPT(Config.from_name("tiny"))`: the config it returns
            lit = self.literal(value)
            if lit is not None:
                subs.by_span[_span(n)] = lit
                _note(subs, value)
                return True
        return _write(n, value, subs)

    def _substitute_class_ref(self, n: ast.Call, env: dict, subs: Substitutions) -> bool:
        """`getattr(importlib.import_module("net"), "Net")`, `get_obj_from_str("net.Net")`: the
        class (or function) a call gives, written in as `__import__('net', fromlist=['Net']).Net`
        (the replay imports the workspace module as the script's `importlib` would)."""
        if n in self.writing or not self.class_factory(n, env):
            return False
        self.writing.append(n)
        try:
            value = self.ev(n, env)
        finally:
            self.writing.pop()
        if not isinstance(value, (ClassVal, FuncVal)) or isinstance(value, FuncVal) and (
                value.closure is not None or value.self_value is not None):
            return False
        expr = self.class_expr(value)
        if expr is None:
            return False
        subs.by_span[_span(n)] = expr
        return True

    def class_expr(self, value: ClassVal | FuncVal, by_module: bool = False) -> ast.expr | None:
        """A workspace class or function as the recipe names it: the script's own name for it,
        else (or `by_module`) `__import__('net', fromlist=['Net']).Net`; None when it has no such name."""
        name = None if by_module else self.global_name_of(value)
        if name is not None:
            return ast.Name(name, ast.Load())
        module = self.workspace_module_name(value.file)
        if module is None or value.node not in value.file.tree.body:
            return None
        attr = value.node.name
        return ast.Attribute(ast.Call(
            ast.Name("__import__", ast.Load()), [ast.Constant(module)],
            [ast.keyword("fromlist", ast.List([ast.Constant(attr)], ast.Load()))]), attr, ast.Load())

    def literal(self, value: Any) -> ast.expr | None:
        return recipe_literals.literal(value, attrs_of=self.object_attrs, class_ref=self.class_expr)

    def workspace_module_name(self, pf) -> str | None:
        """The dotted name a workspace file is imported by from the root; None for the script
        itself (importing it would run it) and for files outside the root."""
        if pf is self._replay_file() or pf is self.entry or not pf.path.startswith(self.root.rstrip(os.sep) + os.sep):
            return None
        rel = os.path.relpath(pf.path, self.root)[:-3].split(os.sep)
        if rel[-1] == "__init__":
            rel = rel[:-1]
        return ".".join(rel) if rel and all(part.isidentifier() for part in rel) else None

    def _substitute_registry(self, n: ast.AST, env: dict, subs: Substitutions) -> bool:
        alias = self.registry_lookup(n, env) if isinstance(n, (ast.Subscript, ast.Call)) else None
        if alias is None:
            return False
        value = self.ev(alias, env)
        if isinstance(value, (ClassVal, FuncVal)):
            # the class itself, by a name the replay has (`getattr(module, cls_name)` of a module a
            # function imported, `globals()[name]` in another file)
            alias = self.class_expr(value) or alias
        subs.by_span[_span(n)] = alias  # `models.__dict__[args.arch]` -> `models.resnet18`
        _note(subs, self.ev(n.slice if isinstance(n, ast.Subscript) else n.args[1], env))
        return True

    def script_globals(self, cls: ClassVal | None, subs: Substitutions) -> dict[str, str]:
        """The module-level names this file's functions and classes read, with their values as
        the model is made, as literals: what a definitions-only replay cannot compute (dcgan's
        `nz = int(opt.nz)`, read by `Generator.__init__`; a name assigned again later). The
        assumptions behind the names the model's own class reads join the message's notes."""
        env = self.module_envs.get(self.pf.path)
        if not env:
            return {}
        reads = _identifiers(self.pf)
        mine = _class_reads(self.pf, cls.node) if cls is not None and getattr(cls, "file", None) is self.pf else set()
        out: dict[str, str] = {}
        for name in reads & env.keys():
            value = env.get(name)
            if not isinstance(value, Const) or isinstance(value.value, (list, tuple, dict, str)) and len(value.value) > 1000 \
                    or self._too_large(value.value):
                continue
            text = recipe_literals.literal_text(value.value)
            if text and len(text) <= 10_000:  # (a table of thousands of numbers stays the replay's)
                out[name] = text
                if name in mine:
                    _note(subs, value)
        return out

    def _too_large(self, value: Any) -> bool:
        """Data too large to write into a recipe (litgpt's table of configs: written as text, over
        the limit, for every model made): counted once per object and analysis."""
        cache = self.__dict__.setdefault("_sizes", {})
        hit = cache.get(id(value))
        if hit is None or hit[0] is not value:
            hit = cache[id(value)] = (value, _larger_than(value, 2_000))
        return hit[1]

    def _replay_cannot_know(self) -> set[str]:
        """Module-level names of this file that neither static inference (bound more than once
        or under if/for/try/with: static/sources.py) nor the worker's definitions-only replay
        (bound only by statements it drops: worker/precheck.py) can know. Once per parse:
        this is asked for every unknown name a constructor reads."""
        hit = self.pf.__dict__.get("_replay_cannot_know")
        if hit is None or hit[0] is not self.pf.tree:
            hit = self.pf.__dict__["_replay_cannot_know"] = (self.pf.tree, _replay_cannot_know(self.pf))
        return hit[1]

    def _replay_drops(self) -> set[str]:
        """Module-level names of this file bound only by statements the worker's replay drops."""
        from weightmatch.worker.precheck import facts_for

        facts = facts_for(self.pf.parsed_text, self.pf.path)
        return {n for n in facts.runtime if n not in facts.bound and n not in facts.declared}

    def _replay_file(self):
        """The file the recipe being written is replayed in: the one analysed, or the model's own
        file while a step written in another file is (model_changes.step_subs)."""
        return getattr(self, "foreign_step", None) or self.pf

    def global_name_of(self, value: ClassVal | FuncVal) -> str | None:
        env = self.module_envs.get(self._replay_file().path) or {}
        for name, v in env.items():
            if isinstance(v, (ClassVal, FuncVal)) and v.node is value.node:
                return name
        return None


def _reads_only(step) -> bool:
    """A step that changes nothing of the module: another name for it (`model_without_ddp =
    model`), a value read off it (`num_ftrs = model.fc.in_features`)."""
    node = step.node
    return not step.target and step.wrap is None and isinstance(node, ast.Assign) and \
        all(isinstance(t, ast.Name) for t in node.targets)


def _tensor_fact(n: ast.AST) -> bool:
    """`x.size()`, `x.size(0)`, `x.dim()`, `len(x)`: a fact of a tensor's shape (of a checkpoint's tensor, read)."""
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "len":  # (of an item: `len(sd["w"])`)
        return len(n.args) == 1 and not n.keywords and isinstance(n.args[0], ast.Subscript)
    return isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("size", "dim") \
        and not n.keywords and len(n.args) <= 1


def _bound_at_run_time(pf, name: str) -> bool:
    """Whether the replay of `pf`'s definitions leaves `name` unbound while the script binds it
    (`from nerf.network import NeRFNetwork` in the `__main__` block or under an `if`)."""
    from weightmatch.worker.precheck import facts_for

    facts = facts_for(pf.parsed_text, pf.path)
    return name in facts.runtime and name not in facts.bound and name not in facts.declared


def _replay_cannot_know(pf) -> set[str]:
    from weightmatch.static import sources
    from weightmatch.worker.precheck import facts_for

    try:
        ambiguous = sources.parse(pf.path, pf.parsed_text, "__main__").ambiguous
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    if "*" in ambiguous:
        return set()  # a star import the replay runs may bind it
    facts = facts_for(pf.parsed_text, pf.path)
    return {n for n in ambiguous if n in facts.runtime and n not in facts.bound and n not in facts.declared}


def _larger_than(value: Any, budget: int) -> bool:
    """Whether plain data holds more than `budget` items and leaves, counted only up to it."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _spread(n: ast.AST, value: Any, subs: Substitutions) -> Any:
    """`**cfg.model` of OmegaConf data: its items, as the plain dict the call receives."""
    if id(n) in subs.spread and isinstance(value, Const) and isinstance(value.value, config_data.AttrDict):
        return config_data.resolved_const(value, config_data.plain_data(value.value))
    return value


def _write(n: ast.AST, value: Any, subs: Substitutions) -> bool:
    """Write known plain data in place of `n`; False when `value` is not that."""
    lit = recipe_literals.literal(value) if isinstance(value, Const) else None
    if lit is None:
        return False
    subs.by_span[_span(n)] = lit
    _note(subs, value)
    return True


def _note(subs: Substitutions, value: Any) -> None:
    """The assumptions behind a value written into a recipe ("--arch at its default, 'resnet18'")."""
    for note in (value.origin.split("; ") if isinstance(value, (Const, Remade)) and value.origin else []):
        if note not in subs.notes:
            subs.notes.append(note)


def _identifiers(pf) -> set[str]:
    """Every identifier in the file's text, once per text: a superset of the globals its
    functions and classes read (a regex, not a walk of every definition: this runs for every
    model made, and a name read nowhere only costs an unused literal in the recipe)."""
    hit = pf.__dict__.get("_identifiers")
    if hit is None or hit[0] is not pf.text:
        hit = pf.__dict__["_identifiers"] = (pf.text, set(_IDENT.findall(pf.text)))
    return hit[1]


def _class_reads(pf, node: ast.AST) -> set[str]:
    """The names a class's own code reads (for the notes: the assumptions the model rests on)."""
    cache = pf.__dict__.setdefault("_class_reads", {})
    hit = cache.get(id(node))
    if hit is None or hit[0] is not node:
        cache[id(node)] = hit = (node, _loads_in(node))
    return hit[1]


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _loads_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _span(n: ast.AST) -> tuple[int, int, int, int]:
    return (n.lineno, n.col_offset, n.end_lineno, n.end_col_offset)


def _reads_loop_names(n: ast.AST, names: set[str]) -> bool:
    return any(isinstance(x, ast.Name) and x.id in names for x in ast.walk(n))


def _attributes(base: ast.expr, path: list[str]) -> ast.expr:
    for part in path:
        base = ast.Attribute(base, part, ast.Load())
    return base
