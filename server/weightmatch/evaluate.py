"""Expressions, for the source interpreter: what a right-hand side is (a model, a
loaded checkpoint, a derived state dict, a path string) without running anything.
Statements and program order are interpret.py's."""

from __future__ import annotations

import ast
import copy
import posixpath
from pathlib import PurePosixPath
from typing import Any

from weightmatch import (
    accelerate_calls, comprehension, config_data, environment, file_paths, fstrings, hub_cache, library_calls, method_calls, plain, yacs_calls, yacs_values,
)
from weightmatch.argparse_values import ParserVal, SubparsersVal
from weightmatch.hub_cache import HUB_LOADS
from weightmatch.operators import BINARY, TooLarge, binary
from weightmatch.pyfile import PyFile
from weightmatch.type_tests import PARALLEL, TypeTestsMixin
from weightmatch.values import (
    At, ClassVal, Const, DictLit, EmptyDict, FileHandle, FuncVal, JsonFile, LoadedFile, ModelAttr, ModelVal, ModVal,
    LibRef, ObjVal, Op, PartialVal, PathStr, SeqVal, SourceVal, Step, SuperOf, Unknown, frozen, model_state, origins,
)

WRAPPERS = {
    "torch.nn.DataParallel": "module", "torch.nn.parallel.DataParallel": "module",
    "torch.nn.parallel.DistributedDataParallel": "module", "torch.nn.DistributedDataParallel": "module",
    "torch.nn.parallel.data_parallel.DataParallel": "module",
    "torch.compile": "_orig_mod",
    # the averaged copy under `module.`, beside its own `n_averaged` buffer (models.wrapped_state)
    "torch.optim.swa_utils.AveragedModel": "module",
}
# methods that change the object they are called on (see Evaluator.changing_call)
CHANGING = {"pop", "popitem", "setdefault", "update", "clear", "append", "extend", "insert", "remove", "sort",
            "reverse", "add", "discard"}
AVERAGED = "AveragedModel"  # ModelVal.wrapped_by of torch.optim.swa_utils.AveragedModel(model)
IDENTITY_WRAPPERS = {"torch.nn.SyncBatchNorm.convert_sync_batchnorm"}
TORCH_LOAD = {"torch.load", "torch.serialization.load"}
ST_LOAD = {"safetensors.torch.load_file", "safetensors.torch.load", "safetensors.safe_open"}
STRIP_PREFIX = {"torch.nn.modules.utils.consume_prefix_in_state_dict_if_present"}
EMPTY_DICTS = {"collections.OrderedDict": True, "OrderedDict": True, "dict": False, "typing.OrderedDict": True}
# Calls that take a model or state dict and neither change nor keep it.
HARMLESS = {"print", "len", "str", "repr", "isinstance", "type", "id", "sum", "list", "sorted", "set",
            "logging.info", "logging.debug", "logging.warning", "logger.info", "logger.debug"}
NOT_MODEL_CALLS = ("torch.optim.", "torch.cuda.amp.GradScaler", "torch.amp.GradScaler", "transformers.get_",
                   "torch.utils.data.")
# Receivers known only by name: these words name optimizers, schedulers and scalers. The rule
# only keeps an unresolved hint off them; a value we know (a model, an optimizer) decides first.
NOT_MODEL_WORDS = {"optimizer", "optimizers", "optim", "opt", "scheduler", "schedulers", "sched", "lr_scheduler",
                   "scaler", "grad_scaler", "amp_scaler"}
def named_like_an_optimizer(text: str) -> bool:
    """`optimizer`, `self.lr_scheduler`, `grad_scaler`: a receiver whose name says it is no model."""
    name = text.lower().rsplit(".", 1)[-1]
    return name in NOT_MODEL_WORDS or name.endswith(("_optimizer", "_scheduler", "_scaler"))


def names_not_a_model(dotted: str) -> bool:
    """An optimizer, scheduler or scaler class (or a call that makes one), by its dotted name."""
    if dotted.endswith("swa_utils.AveragedModel"):
        return False  # a module: the model under `module.`, and its `n_averaged` buffer
    return dotted.startswith(NOT_MODEL_CALLS) or any(w in dotted for w in ("lr_scheduler", "GradScaler", "optim."))


PROGRAM_VALUES = (FuncVal, ClassVal, ObjVal, ModVal, ParserVal, SubparsersVal, PartialVal, SuperOf)


class NotModel:
    """An optimizer, scheduler or scaler: it has a load_state_dict that is not a model's."""



class Evaluator(TypeTestsMixin):
    """Evaluates expressions in an environment of tracked values (values.py)."""

    pf: PyFile
    saved: dict[str, Any]

    def ev(self, node: ast.expr | None, env: dict) -> Any:
        if node is None:
            return Unknown("missing")
        if isinstance(node, ast.Constant):
            return Const(node.value)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return _layer_class(self.pf.dotted(node)) or self.global_value(node.id)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.ev(e, env) for e in node.elts if not isinstance(e, ast.Starred)]
            if len(items) != len(node.elts):
                return Unknown("a sequence with `*` items")
            if all(isinstance(i, Const) for i in items):
                seq = [i.value for i in items]
                return Const(tuple(seq) if isinstance(node, ast.Tuple) else seq, origins(items))
            return SeqVal(items)
        if isinstance(node, ast.Slice):  # `params[:n]`
            parts = [Const(None) if p is None else self.ev(p, env) for p in (node.lower, node.upper, node.step)]
            if all(isinstance(p, Const) and (p.value is None or type(p.value) is int) for p in parts):
                return Const(slice(*(p.value for p in parts)), origins(parts))
            return Unknown(f"`{self.pf.segment(node)}` is not known")
        if isinstance(node, ast.Set):
            items = [self.ev(e, env) for e in node.elts if not isinstance(e, ast.Starred)]
            try:  # a set is never walked by a `for` here: its order may change from run to run
                if len(items) == len(node.elts) and all(isinstance(i, Const) for i in items):
                    return Const({i.value for i in items}, origins(items))
            except TypeError:
                pass
            return Unknown("a set not known statically")
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.IfExp)):
            return plain.operator(self, node, env)
        if isinstance(node, ast.JoinedStr):
            return fstrings.formatted(self, node, env)
        if isinstance(node, ast.BinOp):
            left, right = self.ev(node.left, env), self.ev(node.right, env)
            # `["<pad>", "<unk>"] + json.load(f)`: the data the file holds
            left, right = [config_data.read_data(self, v) if isinstance(v, JsonFile) else v for v in (left, right)]
            if isinstance(left, Const) and isinstance(right, Const):
                out = _binop(node.op, left.value, right.value)
                if isinstance(out, Const):
                    out.origin = origins([left, right])
                return out
            return Unknown(f"`{self.pf.segment(node)}` is not known")
        if isinstance(node, ast.Subscript):
            if self.pf.dotted(node.value) == "os.environ":
                return environment.item(self, node, env)
            base = self.ev(node.value, env)
            item = plain.subscript(self, base, node, env)
            if item is not None:
                return item
            if isinstance(base, SourceVal):
                return base.derive(Op("subscript", self.ev(node.slice, env), node))
            if isinstance(base, (ModelVal, ModelAttr)):
                key = self.ev(node.slice, env)
                if isinstance(key, Const) and type(key.value) in (int, str):  # `model.classifier[-1]`
                    path = [*(base.path if isinstance(base, ModelAttr) else []), str(key.value)]
                    return ModelAttr(base.model if isinstance(base, ModelAttr) else base, path)
                return Unknown("an item of a model")
            if isinstance(base, Unknown):
                return Unknown(base.reason)
            return Unknown(f"`{self.pf.segment(node)}` is not known")
        if isinstance(node, ast.Attribute):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id not in env:
                dotted = self.pf.dotted(node)
                if dotted == "sys.argv":
                    return self.script_argv()
                ref = _layer_class(dotted)
                if ref is not None:
                    return ref  # `norm_layer=nn.LayerNorm`: the class itself, as a value
            base = self.ev(node.value, env)
            made = accelerate_calls.attribute(base, node.attr)
            if made is not None:
                return made  # `accelerator.is_main_process`: True in the one-process run checked
            if isinstance(base, ModelVal):
                return base.attribute(node.attr)
            if node.attr == "__dict__" and isinstance(base, ObjVal) and base.cls is None:
                made = library_calls.vars_of(self, base)  # whisper's `parser.parse_args().__dict__`
                if made is not None:
                    return made
            if node.attr == "__dict__" and isinstance(base, ModVal):
                return self.module_dict(base.file, f"`{self.pf.segment(node)}`")
            if isinstance(base, ModelAttr) and node.attr in ("shape", "ndim"):
                return self.tensor_fact(self.model_tensor(base, node), node.attr, [])  # `model.head.bias.shape`
            if isinstance(base, ModelAttr):
                return ModelAttr(base.model, [*base.path, node.attr])
            if isinstance(base, Const) and isinstance(base.value, str):
                return _path_attr(base.value, node.attr)
            if isinstance(base, Const) and isinstance(base.value, config_data.AttrDict):
                return config_data.config_item(base, node.attr, self.pf.segment(node))  # `cfg.model.width`
            if isinstance(base, PROGRAM_VALUES):
                return self.attribute(base, node.attr, node)
            if isinstance(base, (SourceVal, At)) and node.attr in ("shape", "ndim"):
                return self.tensor_fact(base, node.attr, [])
            if isinstance(base, (SourceVal, At)):
                saved = self.saved_namespace(base)  # `ckpt["args"].hidden`: an argparse namespace saved with it
                if saved is not None:
                    return self.attribute(saved, node.attr, node)
            if isinstance(base, Unknown):
                return Unknown(base.reason)
            return Unknown(f"`{self.pf.segment(node)}` is not known")
        if isinstance(node, ast.Dict):
            entries: dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values):
                if k is None:  # `{**vars(args), "depth": 4}`
                    spread = plain.spread(self, v, env)
                    if spread is None:
                        return Unknown(f"`**{self.pf.segment(v)}` in a dict literal is not known statically")
                    entries.update(spread)
                    continue
                key = self.ev(k, env)
                if not isinstance(key, Const):
                    return Unknown("a dict literal with computed keys")
                entries[key.value] = frozen(self.ev(v, env))
            made = SourceVal(DictLit(entries))
            # a config literal of known values is plain data: an item set through a nested
            # subscript or another name for the inner dict (`cfg["enc"]["dim"] = 4`) is seen by
            # every holder; an empty one may become a state dict, item by item
            return config_data.as_const(made) if entries else made
        if isinstance(node, ast.DictComp):
            gen = node.generators[0] if len(node.generators) == 1 else None
            it = gen.iter if gen is not None else None
            while isinstance(it, ast.Call) and self.pf.dotted(it.func) in ("list", "tuple", "sorted") and \
                    len(it.args) == 1 and not it.keywords:
                it = it.args[0]  # TSM's `for k, v in list(checkpoint.items())` (the order changes no key)
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "items" \
                    and not it.args:
                source = self.ev(it.func.value, env)
                if isinstance(source, SourceVal):
                    return source.derive(Op("comprehension", None, node, self.free_env(node, env)))
            keyed = self.keys_source(gen, env) if gen is not None else None
            if keyed is not None:  # `{k[7:]: sd[k] for k in keys}` (state_dict_loops.py)
                return keyed[1].derive(Op("comprehension", (keyed[0], keyed[2]), node, self.free_env(node, env)))
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)) and \
                comprehension.pure(node, self.pf.dotted):
            return comprehension.run(self, node, env)  # `{k: v for k, v in d.items() if k in names}`
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)) and not self.substituting and \
                self.recording and comprehension.calls_workspace(node, env):
            return comprehension.follow(self, node, env)  # `[predict(cfg) for cfg in CFGS]`
        if isinstance(node, ast.DictComp):
            return Unknown("a dict comprehension over something not known")
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in CHANGING:
                return self.changing_call(node, env)
            made = self.call(node, env)
            if self.pf.dotted(node.func) != "next":  # (`next(f)` moves the file on by one line itself)
                _read_from(node, env)
            return made
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, env)
            env[node.target.id] = value
            return value
        return Unknown(f"`{self.pf.segment(node)}` is not known")

    def model_tensor(self, attr: ModelAttr, node: ast.AST) -> SourceVal:
        """`model.head.bias` read for its shape: the model's own state dict at that key, as
        `model.state_dict()["head.bias"]` gives it (a submodule or a tensor kept out of the state
        dict is no key there, so its shape stays unknown)."""
        return model_state(attr.model).derive(Op("subscript", Const(".".join(attr.path)), node))

    def changing_call(self, node: ast.Call, env: dict) -> Any:
        """`opt_net.pop("type")` changes what it is called on: run once, where the program runs it.
        A recipe being written (substitute.py) reads the value it gave then, never runs it again
        (a second `pop` raised KeyError: BasicSR's `getattr(archs, opt_net.pop("type"))(**opt_net)`)."""
        if self.substituting:
            made = self.changed.get(id(node))
            return made if made is not None else Unknown(f"`{self.pf.segment(node)}` changes what it is called on")
        made = self.changed[id(node)] = self.call(node, env)
        return made

    def call(self, node: ast.Call, env: dict) -> Any:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "load_from_checkpoint":
            made = self.lightning_load(node, env)  # Lightning's `Model.load_from_checkpoint(path)`
            if made is not None:
                return made[0]
        func = self.registry_lookup(node.func, env) or node.func  # `models.__dict__[args.arch](...)`
        root = func
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if not isinstance(root, ast.Name) or root.id in env or not self.pf.dotted(func):
            # `solver.restore_model(...)`, `MODELS[name](...)`, `get_args()`: a value we track
            # (`{"SRModel": SRModel}[opt["model_type"]](opt)`: a display's item)
            callee = self.ev(func, env) if isinstance(root, (ast.Name, ast.Dict, ast.List, ast.Tuple)) or func is root and \
                isinstance(root, ast.Call) and (self.class_factory(root, env) or self.pf.dotted(root.func) == "eval") \
                or isinstance(root, ast.Call) and self.pf.dotted(root.func) == "eval" \
                or isinstance(root, ast.Call) and \
                self.pf.dotted(root.func) == "super" and isinstance(env.get("self"), ObjVal) else None
            if isinstance(callee, (*PROGRAM_VALUES, plain.BoundMethod)):
                return self.call_value(callee, node, env)
            if isinstance(root, ast.Call) and isinstance(func, ast.Attribute) and func.value is root \
                    and (self._plain_instance(root, env) or func.attr in ("parse_args", "parse_known_args")
                         and self.class_factory(root, env)):
                # `Predictor(5).load("w.pt")`: a method of an object made in place (made once);
                # `get_parser().parse_args()`: of what a workspace function returns
                callee = self.ev(func, env)
                if isinstance(callee, (*PROGRAM_VALUES, plain.BoundMethod)):
                    return self.call_value(callee, node, env)
                return Unknown(f"`{self.pf.segment(node)}` returns something not known statically")
        dotted = self.pf.dotted(func) or ""
        args = node.args
        if dotted == "functools.partial" and args and not any(isinstance(a, ast.Starred) for a in args) \
                and all(k.arg is not None for k in node.keywords):
            inner = self.ev(args[0], env)
            if isinstance(inner, (ClassVal, FuncVal, LibRef, PartialVal)):
                return PartialVal(inner, [frozen(self.ev(a, env)) for a in args[1:]],
                                  {k.arg: frozen(self.ev(k.value, env)) for k in node.keywords})
        if dotted == "super" and "super" not in env:
            me = env.get("self")  # `super().load_state_dict(...)` in a model's override: nn.Module's, on self
            if isinstance(me, ModelVal):
                return me
            made = self.super_of(me, node, env) if isinstance(me, ObjVal) and me.cls is not None else None
            if made is not None:
                return made  # BasicSR's `super(SRModel, self).__init__(opt)` in a plain class
            return Unknown(me.reason if isinstance(me, Unknown) else "`super()` of an object not known here")
        if dotted == "isinstance" and len(args) == 2:
            made = self.isinstance_of_model(node, env)
            if made is None:
                made = self.isinstance_of_data(node, env)
            if made is None:
                made = self.isinstance_of_plain(node, env)
            if made is not None:
                return made
        if dotted == "issubclass" and len(args) == 2 and not node.keywords:
            made = self.issubclass_of(node, env)
            if made is not None:
                return made
        if dotted == "hasattr" and len(args) == 2:
            made = self.model_has_wrapper_attr(node, env)
            if made is not None:
                return made
        if dotted == "getattr" and len(args) == 3 and not node.keywords:
            has = self.model_has_wrapper_attr(node, env)  # `getattr(model, "module", model)` (accelerate's unwrap)
            if isinstance(has, Const) and isinstance(args[1], ast.Constant):
                attr = ast.copy_location(ast.Attribute(args[0], args[1].value, ast.Load()), node)
                return self.ev(attr if has.value else args[2], env)
        if dotted == "importlib.import_module":
            return self.dynamic_import(node, env)
        if dotted == "runpy.run_path":
            return self.run_path(node, env)
        if dotted in yacs_values.CFG_CLASSES or dotted in yacs_values.LOAD_CFG:
            return yacs_calls.make(self, dotted, node, env)
        if dotted in ("list", "tuple", "sorted"):
            made = self.key_snapshot(node, env)  # `keys = list(sd.keys())` (state_dict_loops.py)
            if made is None:
                made = self.key_list(node, env)
            if made is not None:
                return made
        made = library_calls.library_call(self, dotted, node, env)
        if made is not None:
            return made
        if dotted in TORCH_LOAD | ST_LOAD:
            target = args[0] if args else _kw(node, "f") or _kw(node, "filename")
            path = self.ev(target, env)
            if isinstance(path, FileHandle):
                path = path.path
            loader = "torch" if dotted in TORCH_LOAD else "safetensors"
            wo = _kw(node, "weights_only")
            weights_only = None
            if wo is not None:
                w = self.ev(wo, env)
                weights_only = bool(w.value) if isinstance(w, Const) else None
            loaded = LoadedFile(path, node, self.pf, loader, weights_only)
            if isinstance(path, Const) and path.value in self.saved:
                loaded.virtual = self.saved[path.value]
            elif getattr(self, "unknown_saves", None):
                loaded.virtual = self.unknown_saves[-1]
            return SourceVal(loaded)
        if dotted in HUB_LOADS:
            return self.hub_load(node, env)
        if dotted == "torch.hub.load":
            return self.local_hub_load(node, env)
        made = file_paths.call(self, dotted, node, env)
        if made is not None:
            return made
        if dotted in EMPTY_DICTS and not args and not node.keywords:
            return SourceVal(EmptyDict(EMPTY_DICTS[dotted]))
        if dotted in EMPTY_DICTS and len(args) == 1:
            inner = self.ev(comprehension.pairs_as_dict_comp(args[0]), env)
            if isinstance(inner, SourceVal):
                return inner.derive(Op("copy", EMPTY_DICTS[dotted], node))
        if dotted in ("copy.deepcopy", "copy.copy") and len(args) == 1:
            inner = self.ev(args[0], env)
            if isinstance(inner, Const):  # a copy is another object: a change to one is not seen in the other
                fn = copy.deepcopy if dotted == "copy.deepcopy" else copy.copy
                return Const(fn(inner.value), inner.origin)
            if isinstance(inner, SourceVal):
                return inner.derive(Op("copy", "keep-metadata" if dotted == "copy.deepcopy" else "shallow", node))
            return inner
        if dotted in WRAPPERS or dotted in IDENTITY_WRAPPERS:
            first = args[0] if args else _kw(node, "module") or _kw(node, "model")  # `DataParallel(module=backbone)`
            inner = self.ev(first, env) if first is not None else Unknown("no model")
            if isinstance(inner, ModelVal):
                return self.wrap(inner, node, WRAPPERS.get(dotted))
            return Unknown(f"`{self.pf.segment(node)}` wraps something not known")
        if isinstance(func, ast.Attribute):
            made = method_calls.call(self, func, node, env)
            if made is not None:
                return made
        if names_not_a_model(dotted):
            return NotModel()
        if dotted.startswith(("torch.", "os.", "sys.", "numpy.", "np.", "math.", "random.", "json.",
                              "argparse.", "logging.")) and not _looks_like_module_class(dotted) or \
                dotted in comprehension.BUILTINS:
            for arg in args:  # `sum(predict(cfg) for cfg in CFGS)`: the calls in it run all the same
                if isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
                    self.ev(arg, env)
            return Unknown(f"`{self.pf.segment(node)}` is not known statically")
        if not dotted:
            key = self.ev(func.slice, env) if isinstance(func, ast.Subscript) else None
            why = f" ({key.reason})" if isinstance(key, Unknown) and key.reason else ""  # `MODELS[cfg["name"]]`
            return Unknown(f"`{self.pf.segment(node)}` is not known statically{why}")
        if isinstance(func, ast.Attribute):
            owner = self.ev(func.value, env)
            if isinstance(owner, (ModelVal, ModelAttr, SourceVal, At, ObjVal, Const, SeqVal, ParserVal, SubparsersVal)) or \
                    isinstance(owner, Unknown) and _root(func) in env:
                # a method of a value we track (`model.configure_optimizers()`, `trainer.fit()`):
                # what it returns is not known, and it is not a model being made
                return Unknown(f"`{self.pf.segment(node)}` returns something not known statically")
        # Anything else callable may build a model: a class, a builder (torchvision), a factory.
        return self.new_model(node, env)

    def _plain_instance(self, call: ast.Call, env: dict) -> bool:
        """`call` makes an instance of a workspace class that is not a module (a Predictor)."""
        cls = self.ev(call.func, env) if isinstance(call.func, ast.Name) and call.func.id in env else None
        return isinstance(cls, ClassVal) and not cls.is_module

    def hub_load(self, node: ast.Call, env: dict) -> Any:
        """`torch.hub.load_state_dict_from_url(url)`: the hub cache's copy of the file when it is
        there (what PyTorch loads without downloading), else unknown, naming the URL."""
        def arg(i: int, name: str) -> ast.expr | None:
            return node.args[i] if len(node.args) > i else _kw(node, name)

        what = f"`{self.pf.segment(node.func)}(…)`"
        values = {name: self.ev(arg(i, name), env) if arg(i, name) is not None else Const(None)
                  for i, name in ((0, "url"), (1, "model_dir"), (5, "file_name"), (6, "weights_only"))}
        if not all(isinstance(v, Const) for v in values.values()) or not isinstance(values["url"].value, str):
            return Unknown(f"{what} is not known statically")
        if "set_dir" in self.pf.parsed_text:
            return Unknown(f"{what} reads the hub folder that `torch.hub.set_dir(...)` sets at run time")
        url, model_dir, file_name = values["url"].value, values["model_dir"].value, values["file_name"].value
        path = hub_cache.cached_file(url, model_dir, file_name)
        if path is None:
            return Unknown(f"{what}: the hub folder is not known ($TORCH_HUB is set)")
        found = self.data_path(path)  # (a relative `model_dir`: from where the script runs)
        if found is None:
            return Unknown(f"{what} downloads {url} when the script runs (it is not in the hub cache: {path})")
        if hub_cache.legacy_zip(found):
            return Unknown(f"{what} unpacks {found} (an old zipped hub file) when the script runs")
        return SourceVal(LoadedFile(Const(found, f"the hub cache's copy of {url}"), node, self.pf, "torch",
                                     bool(values["weights_only"].value)))

    def registry_lookup(self, func: ast.expr, env: dict) -> ast.expr | None:
        """`models.__dict__[name]` / `getattr(models, name)` / `globals()[name]` with a known name:
        the attribute `models.<name>` (the name) it reads, so a registry of a module is followed
        like a direct call."""
        if isinstance(func, ast.Subscript) and isinstance(func.value, ast.Call) and not func.value.args \
                and self.pf.dotted(func.value.func) in ("globals", "vars"):
            name = self.ev(func.slice, env)  # `globals()[name]`: a name of this module
            if isinstance(name, Const) and isinstance(name.value, str) and name.value.isidentifier():
                return ast.copy_location(ast.Name(name.value, ast.Load()), func)
            return None
        if isinstance(func, ast.Subscript) and isinstance(func.value, ast.Attribute) and func.value.attr == "__dict__":
            base, key = func.value.value, func.slice
        elif isinstance(func, ast.Call) and self.pf.dotted(func.func) == "getattr" and len(func.args) == 2 \
                and not func.keywords:
            base, key = func.args
        else:
            return None
        name = self.ev(key, env)
        if not (isinstance(name, Const) and isinstance(name.value, str) and name.value.isidentifier()):
            return None
        if not isinstance(base, (ast.Name, ast.Attribute)):
            return None
        return ast.copy_location(ast.Attribute(base, name.value, ast.Load()), func)

    # Hooks the interpreter fills in (calls.py, workspace_modules.py, checkpoint_values.py); the
    # evaluator alone knows no program.
    def global_value(self, name: str) -> Any:
        return Unknown(f"`{name}` is not known here")

    def attribute(self, base: Any, name: str, node: ast.AST) -> Any:
        return Unknown(f"`{self.pf.segment(node)}` is not known")

    def call_value(self, callee: Any, node: ast.Call, env: dict) -> Any:
        return Unknown(f"`{self.pf.segment(node)}` is not known statically")

    def class_factory(self, call: ast.Call, env: dict) -> bool:
        return False

    def script_argv(self) -> Any:
        return Unknown("`sys.argv` is known only at run time")

    def run_path(self, node: ast.Call, env: dict) -> Any:
        return Unknown(f"`{self.pf.segment(node)}` is not known here")

    def dynamic_import(self, node: ast.Call, env: dict) -> Any:
        return Unknown(f"`{self.pf.segment(node)}` is not known statically")

    def local_hub_load(self, node: ast.Call, env: dict) -> Any:
        return Unknown(f"`{self.pf.segment(node)}` is not known statically")

    def new_model(self, node: ast.Call, env: dict, cls: ClassVal | None = None) -> ModelVal:
        return ModelVal(self.pf, "", node, cls=cls)

    def wrap(self, inner: ModelVal, node: ast.Call, prefix: str | None) -> ModelVal:
        """`nn.DataParallel(m)` / `torch.compile(m)`: replayed for real; the static path peels it."""
        wrappers = [*inner.wrappers, *([prefix] if prefix else [])]
        dotted = self.pf.dotted(node.func) or ""
        by = (AVERAGED if dotted.endswith(".AveragedModel") else PARALLEL.get(dotted, "")) if prefix else inner.wrapped_by
        if not inner.var and (node.args and node.args[0] is inner.call or not prefix):
            # `nn.DataParallel(Net(args))`: the whole call constructs the model, the values the inner
            # call reads written in as for the inner call alone (Substitutions go by source span)
            return ModelVal(self.pf, "", node, inner.steps, wrappers, bindings=inner.bindings, cls=inner.cls,
                            subs=inner.subs, wrapped_by=by, portable=inner.portable)
        # the constructor stays with its file: a model made in a function of another module
        # (`model = build_model(cfg)`, then `DistributedDataParallel(model)` here)
        wrapped = ModelVal(inner.file, inner.var, inner.call, list(inner.steps), wrappers,
                           bindings=inner.bindings, cls=inner.cls, subs=inner.subs, wrapped_by=by,
                           portable=inner.portable)
        if inner.var:
            wrapped.pending_wrap = node
        else:
            # `self.net = nn.DataParallel(self.net)`: the model made before, under no name; the
            # recipe wraps it by torch's own name (the file it is replayed in may name it otherwise)
            dotted = self.pf.dotted(node.func) or ""
            wrapped.steps.append(Step(f"model = __import__('torch').{dotted.removeprefix('torch.')}(model)",
                                      node, wrap=prefix))
        return wrapped

    def free_env(self, node: ast.AST, env: dict) -> dict[str, Any]:
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        out = {}
        for n in names:
            if n in env:
                v = env[n]
                out[n] = frozen(v)
        return out


def _read_from(node: ast.Call, env: dict) -> None:
    """An open file handed to a call (`next(f)`, `csv.reader(f)`): where it stands afterwards is
    not followed, so its lines are not walked again from the start (comprehension.items_of)."""
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        if isinstance(arg, ast.Name) and isinstance(env.get(arg.id), FileHandle):
            env[arg.id].used = True


def _layer_class(dotted: str | None) -> LibRef | None:
    """`torch.nn.LayerNorm`, `torch.nn.GELU`: a torch layer class named directly under torch.nn."""
    if dotted and dotted.startswith("torch.nn.") and dotted.count(".") == 2 and dotted[9:10].isupper() \
            and dotted[9:].isidentifier():
        return LibRef(dotted)
    return None


def _binop(op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(op, ast.Div) and isinstance(a, str) and isinstance(b, str):
        return Const(PathStr(posixpath.join(a, b)))  # pathlib's `/`
    if type(op) not in BINARY:
        return Unknown("an operator that is not followed")
    try:
        return Const(binary(type(op), a, b))
    except TooLarge as e:
        return Unknown(str(e))
    except Exception as e:  # noqa: BLE001 - user code that raises leaves the value unknown
        return Unknown(f"this expression raises {type(e).__name__}: {e}")


def _path_attr(path: str, attr: str) -> Any:
    if attr == "parent":
        return Const(PathStr(posixpath.dirname(path.rstrip("/")) or "."))
    if attr == "name":
        return Const(posixpath.basename(path))
    if attr == "stem":
        return Const(posixpath.splitext(posixpath.basename(path))[0])
    if attr == "parents":  # yolov5's `ROOT = FILE.parents[0]`
        return Const(tuple(PathStr(str(p)) for p in PurePosixPath(path).parents))
    return Unknown(f"`.{attr}` of a path")


def _looks_like_module_class(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.startswith("torch.nn.") and last[:1].isupper()


def _root(node: ast.AST) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None

