"""`isinstance` and `hasattr` the interpreter can decide: a model's wrapper
(`isinstance(net, nn.DataParallel)`, `hasattr(net, "module")`) when its making is followed, and
what a checkpoint holds (`isinstance(ckpt, dict)`). Part of the Interpreter through Evaluator:
needs `ev`, `concrete`, `class_chain`, `in_file`, `module_env` and `pf`."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from weightmatch.types import Opaque, RuntimeValue, StateDict, TensorInfo
from weightmatch.values import At, ClassVal, Const, ModelVal, PathStr, SourceVal, Unknown, model_state

# the data-parallel wrappers by the class each name is (`isinstance(net, nn.DataParallel)`)
PARALLEL = {"torch.nn.DataParallel": "DataParallel", "torch.nn.parallel.DataParallel": "DataParallel",
            "torch.nn.parallel.data_parallel.DataParallel": "DataParallel",
            "torch.nn.parallel.DistributedDataParallel": "DistributedDataParallel",
            "torch.nn.parallel.distributed.DistributedDataParallel": "DistributedDataParallel"}


_SCALARS = (str, int, float, bool, type(None))
_PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath", "os.PathLike"}
_BUILTIN_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "dict": dict, "list": list, "tuple": tuple,
                  "bytes": bytes, "type": type}


class TypeTestsMixin:
    def isinstance_of_model(self, node: ast.Call, env: dict) -> Any:
        """`isinstance(net, (nn.DataParallel, DistributedDataParallel))` for a model whose making
        and wrapping are followed: its own workspace class, wrapped or not. None when not that."""
        model = self.ev(node.args[0], env)
        if not isinstance(model, ModelVal):
            return None
        spec = node.args[1]
        names = [self.pf.dotted(t) for t in (spec.elts if isinstance(spec, ast.Tuple) else [spec])]
        if any(n is None for n in names):
            return None
        if any(n in ("torch.nn.Module", "torch.nn.modules.module.Module") for n in names):
            return Const(True)
        if not all(n in PARALLEL for n in names):
            return None
        if model.wrappers and model.wrappers[-1] == "module" and model.wrapped_by:
            return Const(model.wrapped_by in {PARALLEL[n] for n in names})
        if not model.wrappers and model.cls is not None and self.plain_module_class(model.cls):
            return Const(False)  # the user's own nn.Module subclass, not wrapped
        if not model.wrappers and model.cls is None and _torch_layer(model):
            return Const(False)  # `nn.Sequential(...)` made by a helper (CycleGAN's define_G), not wrapped
        return None

    def isinstance_of_plain(self, node: ast.Call, env: dict) -> Any:
        """`isinstance(obj_type, str)` (mmcv's build_from_cfg) of a known number, string, bool or
        None, and `isinstance(v, dict)` (a config deep-merge) of plain data as JSON/YAML/literals
        make it, against builtin types; None for other containers (an OmegaConf mapping is no dict)."""
        value = self.ev(node.args[0], env)
        spec = node.args[1]
        names = [self.pf.dotted(t) for t in (spec.elts if isinstance(spec, ast.Tuple) else [spec])]
        plain = isinstance(value, Const) and (isinstance(value.value, _SCALARS) or type(value.value) in (dict, list, tuple))
        if not plain or not names or any(n not in _BUILTIN_TYPES and n not in _PATH_TYPES for n in names):
            return None
        if isinstance(value.value, PathStr):  # `isinstance(weights, (str, Path))` of a `Path(...)`
            return Const(any(n in _PATH_TYPES for n in names), value.origin)
        return Const(isinstance(value.value, tuple(_BUILTIN_TYPES[n] for n in names if n in _BUILTIN_TYPES)),
                     value.origin)

    def isinstance_of_data(self, node: ast.Call, env: dict) -> Any:
        """`isinstance(ckpt, dict)`: what the checkpoint holds there, as read (a mapping, a tensor,
        plain values); None for an object the reader did not rebuild (its class may be a dict)."""
        value = self.ev(node.args[0], env)
        spec = node.args[1]
        names = [self.pf.dotted(t) for t in (spec.elts if isinstance(spec, ast.Tuple) else [spec])]
        kinds = {"dict": dict, "collections.OrderedDict": "ordered", "collections.abc.Mapping": dict,
                 "typing.Mapping": dict, "torch.Tensor": TensorInfo, "list": list, "tuple": tuple}
        if not isinstance(value, (SourceVal, At)) or not names or any(n not in kinds for n in names):
            return None
        obj = self.concrete(value, raw=True)
        if isinstance(obj, (Unknown, Opaque, RuntimeValue)):
            return None
        for n in names:
            kind = kinds[n]
            if kind == "ordered" and isinstance(obj, StateDict) and obj.ordered or \
                    kind != "ordered" and isinstance(obj, kind):
                return Const(True)
        if any(kinds[n] == "ordered" for n in names) and isinstance(obj, dict) and not isinstance(obj, StateDict):
            return None  # a mapping not read as a StateDict: whether it was an OrderedDict is not kept
        return Const(False)

    def issubclass_of(self, node: ast.Call, env: dict) -> Any:
        """`issubclass(cls, BaseModel)` of a workspace class (pix2pix's `find_model_using_name`):
        against workspace classes by its method order, against `nn.Module` by whether it is one;
        None for other bases (a library class its chain may hold)."""
        cls = self.ev(node.args[0], env)
        spec = node.args[1]
        bases = [self.ev(t, env) for t in (spec.elts if isinstance(spec, ast.Tuple) else [spec])]
        if not isinstance(cls, ClassVal):
            return None
        chain = [c.node for c in self.class_chain(cls)]
        answer = False
        for base, base_node in zip(bases, spec.elts if isinstance(spec, ast.Tuple) else [spec]):
            if isinstance(base, ClassVal):
                answer = answer or base.node in chain
            elif self.pf.dotted(base_node) in ("torch.nn.Module", "torch.nn.modules.module.Module") and \
                    (not cls.is_module or self.plain_module_class(cls)):
                answer = answer or cls.is_module  # (a library base in its chain: not decided here)
            else:
                return None
        return Const(answer)

    def plain_module_class(self, cls: ClassVal) -> bool:
        """Every class of its chain is the user's, down to `nn.Module` itself (no library base that
        could be a DataParallel or hold a `module`)."""
        chain = self.class_chain(cls)
        for c in chain:
            for base in c.node.bases:
                dotted = c.file.dotted(base) or ""
                if dotted in ("torch.nn.Module", "torch.nn.modules.module.Module"):
                    continue
                value = self.in_file(c.file, lambda b=base, c=c: self.ev(b, self.module_env(c.file)))
                if not (isinstance(value, ClassVal) and value in chain):
                    return False
        return True

    def model_has_wrapper_attr(self, node: ast.Call, env: dict) -> Any:
        """`hasattr(model, "module")`: true of a model wrapped in DataParallel; false of the user's
        own module class, unwrapped, that never sets an attribute of that name."""
        model, name = self.ev(node.args[0], env), self.ev(node.args[1], env)
        if isinstance(model, At) and isinstance(model.value, ModelVal):
            model = model.value  # (a model as a collection held it: `for name, obj in loadables.items()`)
        if not (isinstance(model, ModelVal) and isinstance(name, Const) and isinstance(name.value, str)):
            return None
        if name.value not in ("module", "_orig_mod"):
            return self.model_has_own_attr(model, name.value)
        if model.wrappers:
            return Const(True) if model.wrappers[-1] == name.value else None
        if any(st.target.split(".")[0] == name.value for st in model.steps if st.target):
            return None
        if model.cls is None:  # a torch layer (`nn.Sequential(...)`): only a child of that name has it
            named = any(isinstance(n, ast.Constant) and n.value == name.value for n in ast.walk(model.call))
            return Const(False) if _torch_layer(model) and not named else None
        if not self.plain_module_class(model.cls):
            return None
        return None if self.class_mentions(model.cls, name.value) else Const(False)

    def class_mentions(self, cls: ClassVal, name: str) -> bool:
        """Whether the class's chain may set an attribute `name` (`self.module = ...`,
        `setattr(self, "module", m)`, a method of that name)."""
        chain = self.class_chain(cls)
        labels = set()  # `base_model_prefix = "bert"`: a class attribute's text, which names nothing by itself
        computed = False  # `setattr(self, self.base_model_prefix, ...)`: a name computed at run time
        for c in chain:
            labels.update(id(st.value) for st in c.node.body if isinstance(st, ast.Assign)
                          and isinstance(st.value, ast.Constant))
            for sub in ast.walk(c.node):
                if isinstance(sub, ast.Attribute) and sub.attr == name or \
                        isinstance(sub, (ast.FunctionDef, ast.Name)) and getattr(sub, "name", getattr(sub, "id", "")) \
                        == name or isinstance(sub, ast.Constant) and sub.value == name and id(sub) not in labels:
                    return True
                if isinstance(sub, ast.Call) and (getattr(sub.func, "attr", None) or getattr(sub.func, "id", None)) in \
                        _SETTERS and len(sub.args) >= 2 - isinstance(sub.func, ast.Attribute) and \
                        not isinstance(sub.args[1 - isinstance(sub.func, ast.Attribute)], ast.Constant):
                    computed = True
        return computed

    def model_has_own_attr(self, model: ModelVal, name: str) -> Any:
        """`hasattr(model, "bert")` (a Hugging Face-style loader's base-model test): true when the
        model's state dict has a key under that name, or when nn.Module itself has it; false of the
        user's own module class, unwrapped and unchanged, that never mentions it; else None."""
        if name in _MODULE_NAMES:
            return Const(True)
        if not model.wrappers and isinstance(model.cls, ClassVal) and self.class_attr(model.cls, name) is not None:
            return Const(True)  # SpeechBrain's `hasattr(obj, "_load")` of a class that defines `_load`
        if name.startswith("_") or model.wrappers or model.steps or model.cls is None:
            return None
        keys = self.concrete(model_state(model), raw=True)
        if isinstance(keys, Mapping) and any(k == name or k.startswith(name + ".") for k in keys if isinstance(k, str)):
            return Const(True)
        if not self.plain_module_class(model.cls) or self.class_mentions(model.cls, name):
            return None
        return Const(False)


# calls that set an attribute by a name given as their first argument (after the object, for setattr)
_SETTERS = {"setattr", "add_module", "register_module", "register_buffer", "register_parameter", "__setattr__"}

# the public attributes every nn.Module has (dir(torch.nn.Module) and an instance's own, torch 2.13)
_MODULE_NAMES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad",
})


def _torch_layer(model: ModelVal) -> bool:
    """Made by a class of `torch.nn` that is no wrapper (`nn.Sequential(...)`, `nn.Linear(...)`)."""
    made = (model.file.dotted(model.call.func) or "") if isinstance(model.call, ast.Call) else ""
    return made.startswith("torch.nn.") and made not in PARALLEL and made != "torch.nn.Module"


def is_enum(ev, cls: ClassVal, depth: int = 0) -> bool:
    """A class of the `enum` module's kinds, through workspace bases (its members are not their
    values: `Size.SMALL == "small"` is False for a plain Enum)."""
    for base in cls.node.bases:
        if (cls.file.dotted(base) or "").startswith("enum."):
            return True
        value = ev.in_file(cls.file, lambda b=base: ev.ev(b, ev.module_env(cls.file))) if depth < 8 else None
        if isinstance(value, ClassVal) and is_enum(ev, value, depth + 1):
            return True
    return False
