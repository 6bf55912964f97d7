"""nn.Module semantics over abstract values: references to torch (`nn.Linear(...)`,
`nn.Parameter`, `torch.zeros`), instantiating a user's class, `nn.Module.__init__`, and
`__setattr__` / `register_*` / `__getattr__` on modules. Containers, methods and the
builtins are the mixins below (containers.py, methods.py, pybuiltins.py)."""

from __future__ import annotations

import ast
import math
from typing import Any

from ..load_overrides import dropped_keys
from . import copying, instances, layers, tensors
from .containers import Containers
from .methods import ModuleMethods
from .pybuiltins import Builtins
from .userdefs import Evaluator, UserClass, UserFunc, guard
from .values import (FLOAT_DTYPES, MODULE_ATTRS, BoundMethod, Dtype, Instance, MissingAttribute, Module, Namespace, Ref,
                     StaticUnsupported, Tensor, Unknown, int_like)

TORCHVISION = "torchvision models need the model worker"
_CHANGES_TORCH_DEFAULTS = {"torch.set_default_dtype", "torch.set_default_tensor_type", "torch.set_default_device"}
_CONTAINER_METHODS = {
    "sequential": {"append", "extend", "insert", "pop"}, "modulelist": {"append", "extend", "insert", "pop"},
    "moduledict": {"update", "keys", "values", "items", "pop"}, "parameterlist": {"append", "extend"},
    "parameterdict": {"update", "keys", "values", "items"},
}
_FORBIDDEN_OVERRIDES = {"__setattr__", "__getattr__", "__getattribute__", "__new__", "__delattr__", "state_dict",
                        "_save_to_state_dict", "register_buffer", "register_parameter", "add_module",
                        "register_module", "__init_subclass__", "named_modules", "_named_members"}


# LightningModule: an nn.Module that adds no parameter, buffer, submodule or state-dict hook
LIGHTNING_MODULES = {"pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule",
                     "pytorch_lightning.core.module.LightningModule", "lightning.LightningModule",
                     "lightning.pytorch.LightningModule", "lightning.pytorch.core.LightningModule",
                     "lightning.pytorch.core.module.LightningModule"}


def canon(name: str) -> str:
    if name in LIGHTNING_MODULES:
        return "lightning.LightningModule"
    parts = name.split(".")
    if name.startswith("torch.nn.modules.") and len(parts) >= 5:
        return "torch.nn." + parts[-1]
    if name in ("torch.nn.parameter.Parameter",):
        return "torch.nn.Parameter"
    if name.startswith("torch.nn.modules.") and len(parts) == 4 and parts[-1] in layers.KNOWN_LAYERS | {"Module"}:
        return "torch.nn." + parts[-1]
    return name



class ModuleOps(Builtins, Containers, ModuleMethods):
    def __init__(self, interp: Evaluator) -> None:
        self.interp = interp

    # ---- references to torch and friends -------------------------------------------

    def ref_attr(self, ref: Ref, name: str) -> Any:
        if ref.name == "torch" and name in tensors.DTYPES:
            return Dtype(tensors.DTYPES[name])
        if ref.name == "math" and name in ("pi", "e", "inf", "tau"):
            return getattr(math, name)
        return Ref(canon(f"{ref.name}.{name}"))

    def call_ref(self, ref: Ref, args: list, kwargs: dict, frame: Any = None) -> Any:
        name = ref.name
        top = name.split(".")[0]
        if top in ("torchvision", "timm", "transformers"):
            raise StaticUnsupported(TORCHVISION if top == "torchvision" else f"{top} models need the model worker")
        if name.startswith("builtins."):
            return self.builtin(name[9:], args, kwargs, frame)
        if name.startswith("math.") or name.startswith("numpy.") and name.count(".") == 1:
            return self.pure(name, args, kwargs)
        if name in ("copy.deepcopy", "copy.copy"):
            if len(args) != 1 or kwargs:
                raise StaticUnsupported(f"`{name}` with a memo is not followed statically")
            return copying.deepcopy(args[0]) if name == "copy.deepcopy" else copying.shallow(args[0])
        if name == "weightmatch.recipe_objects.made":
            return instances.made(args, kwargs)
        if name == "weightmatch.recipe_objects.with_attrs" and len(args) == 1 and isinstance(args[0], Module):
            for attr, value in kwargs.items():
                self.setattr(args[0], attr, value)
            return args[0]
        if name == "weightmatch.recipe_objects.namespace" and len(args) == 1 and isinstance(args[0], dict):
            return Namespace(dict(kwargs), {str(k): str(v) for k, v in args[0].items()})
        if name == "weightmatch.recipe_objects.cfg_node" and len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            return Namespace(dict(args[0]), mapping=True)  # a yacs CfgNode: read by key too
        if name in ("types.SimpleNamespace", "argparse.Namespace"):
            if args:
                raise StaticUnsupported(f"`{name}` takes keyword arguments only")
            return Namespace(dict(kwargs), argparse=name == "argparse.Namespace")
        if name == "collections.OrderedDict":
            if not all(isinstance(a, (dict, list, tuple)) for a in args):
                return Unknown("an OrderedDict built from values not known statically")
            return dict(*[a if isinstance(a, dict) else self._pairs(a) for a in args], **kwargs)
        if name.startswith("torch.nn.") and name[9:] in layers.KNOWN_LAYERS:
            short = name[9:]
            if short in layers.CONTAINERS:
                m = layers.new_module(short)
                self.fill_container(m, args, kwargs)
                return m
            return layers.build_layer(short, args, kwargs)
        if name == "torch.nn.Module":
            if args or kwargs:
                raise StaticUnsupported("`nn.Module()` takes no arguments")
            return Module("torch.nn.modules.module.Module", "Module")
        if name == "torch.nn.Module.__init__":
            if not args or not isinstance(args[0], Module):
                raise StaticUnsupported("`nn.Module.__init__` without a module")
            self.torch_init(args[0], Ref("torch.nn.Module"), list(args[1:]), kwargs)
            return None
        if name == "torch.nn.Parameter":
            data = args[0] if args else kwargs.get("data")
            if data is None:
                return Tensor((0,), "float32", True)
            if not isinstance(data, Tensor):
                raise StaticUnsupported("`nn.Parameter` of a value not known statically"
                                        + (f": {data.reason}" if isinstance(data, Unknown) else ""))
            if data.dtype not in FLOAT_DTYPES and not data.dtype.startswith("complex"):
                raise StaticUnsupported(f"`nn.Parameter` of a {data.dtype} tensor (PyTorch raises: only floating point can require gradients)")
            return Tensor(data.shape, data.dtype, True)
        if name.startswith("torch.nn.init."):
            return args[0] if args else None
        if name in ("torch.no_grad", "torch.enable_grad"):
            return Ref(name + "()")
        if name == "torch.device":
            return Ref("torch.device()")
        if name in _CHANGES_TORCH_DEFAULTS:
            raise StaticUnsupported(f"`{name}` changes the dtype or device of the layers made after it")
        if name.startswith("torch.") and name.count(".") == 1:
            made = tensors.factory(name[6:], args, kwargs)
            if made is not None:
                return made
        guard(f"`{name}`", args, kwargs)
        return Unknown(f"`{name}` is not modeled statically")

    @staticmethod
    def _pairs(items: Any) -> list:
        out = []
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise StaticUnsupported("expects (name, module) pairs")
            out.append(tuple(item))
        return out
    # ---- modules ---------------------------------------------------------------------

    def instantiate(self, cls: UserClass, args: list, kwargs: dict) -> Module | Instance:
        if cls.root() is None or not cls.root().name.startswith("torch.nn."):
            return instances.instantiate(self.interp, cls, args, kwargs)
        if cls.dataclass_options() is not None:
            raise StaticUnsupported(f"module class `{cls.name}` is a dataclass")
        chain = cls.mro()
        base = cls.torch_base()
        version, custom, extra, saves, overrides = None, False, False, False, False
        drops: tuple[str, ...] | None = None
        for c in chain:
            body = c.body()
            bad = _FORBIDDEN_OVERRIDES & body.keys()
            if bad:
                raise StaticUnsupported(f"class `{c.name}` overrides `{sorted(bad)[0]}`")
            if base.name != "torch.nn.Module" and {"reset_parameters", "_reset_parameters"} & body.keys():
                raise StaticUnsupported(f"class `{c.name}` overrides `reset_parameters` of a torch layer")
            if version is None and "_version" in body:
                version = body["_version"]
                if not int_like(version):
                    raise StaticUnsupported(f"`{c.name}._version` is not a known integer")
            if "_load_from_state_dict" in body and not custom and drops is None:
                own = body["_load_from_state_dict"]  # FrozenBatchNorm2d's: known (load_overrides.py)
                drops = dropped_keys(own.node) if isinstance(own, UserFunc) and isinstance(own.node, ast.FunctionDef) \
                    else None
                custom = drops is None
            # its own load_state_dict matters only when called on it (not through super(), and
            # never for a submodule: loading recurses through _load_from_state_dict)
            overrides = overrides or "load_state_dict" in body
            extra = extra or "set_extra_state" in body  # what loading consults
            saves = saves or "get_extra_state" in body  # what state_dict() writes
        if extra != saves:  # the model's own state_dict() would not load back: the worker says how
            raise StaticUnsupported(f"class `{cls.name}` overrides only one of get_extra_state and set_extra_state")
        m = Module(cls.qualname, cls.name, cls=cls, initialized=False, custom_load=custom, extra_state=extra,
                   drops=drops or ())
        m.overrides_load = overrides
        init = cls.lookup("__init__")
        if isinstance(init, UserFunc):
            if init.decorator() is not None:
                raise StaticUnsupported(f"`{cls.name}.__init__` is decorated")
            self.interp.call_function(init, [m, *args], kwargs)
        elif init is None:
            self.torch_init(m, base, args, kwargs)
        else:
            raise StaticUnsupported(f"`{cls.name}.__init__` is not a plain method")
        if not m.initialized:
            raise StaticUnsupported(f"`{cls.name}.__init__` does not call `super().__init__()`")
        if version is not None:
            m.version = version
        return m

    def torch_init(self, m: Module, base: Ref, args: list, kwargs: dict) -> None:
        if m.initialized:
            raise StaticUnsupported("`nn.Module.__init__` runs twice (it would reset the module)")
        short = base.name[9:]
        if short == "Module":
            if args or kwargs:
                raise StaticUnsupported("`nn.Module.__init__()` takes no arguments")
        elif short in layers.CONTAINERS:
            m.kind = layers.CONTAINERS[short]
            m.initialized = True
            self.fill_container(m, args, kwargs)
        elif short in layers.KNOWN_LAYERS:
            built = layers.build_layer(short, args, kwargs)
            m.params, m.buffers, m.modules = built.params, built.buffers, built.modules
            m.attrs.update(built.attrs)
            m.version, m.norm_fixup = built.version, built.norm_fixup
        else:
            raise StaticUnsupported(f"subclassing `{base.name}` is not supported statically")
        m.initialized = True

    def fill_container(self, m: Module, args: list, kwargs: dict) -> None:
        if kwargs:
            raise StaticUnsupported(f"`nn.{m.name}` with keyword arguments is not followed statically")
        if m.kind == "sequential":
            if len(args) == 1 and isinstance(args[0], dict):
                for key, mod in args[0].items():
                    self.add_module(m, key, mod)
            else:
                for i, mod in enumerate(args):
                    self.add_module(m, str(i), mod)
            return
        if len(args) > 1:
            raise StaticUnsupported(f"`nn.{m.name}` takes one argument")
        if not args or args[0] is None:
            return
        if m.kind == "modulelist":
            self.call_method(m, "extend", [args[0]], {})
        elif m.kind in ("moduledict", "parameterdict"):
            self.call_method(m, "update", [args[0]], {})
        elif m.kind == "parameterlist":
            self.call_method(m, "extend", [args[0]], {})

    def add_module(self, m: Module, name: Any, mod: Any) -> None:
        if not isinstance(name, str):
            raise StaticUnsupported("a module name not known statically" + (f": {name.reason}" if isinstance(name, Unknown) else ""))
        if not (mod is None or isinstance(mod, Module)):
            what = mod.reason if isinstance(mod, Unknown) else f"a `{type(mod).__name__}` is not a module"
            raise StaticUnsupported(f"adds a module not known statically as `{name}`: {what}")
        if not m.initialized:
            raise StaticUnsupported("assigns a module before `super().__init__()`")
        if "." in name or name == "":
            raise StaticUnsupported(f"module name {name!r} is invalid (PyTorch raises)")
        if m.has_attr(name) and name not in m.modules:
            raise StaticUnsupported(f"attribute `{name}` already exists (PyTorch raises)")
        m.modules[name] = mod

    def setattr(self, m: Module, name: str, value: Any) -> None:
        if isinstance(value, Tensor) and value.param:
            if not m.initialized:
                raise StaticUnsupported("assigns a parameter before `super().__init__()`")
            for d in (m.attrs, m.buffers, m.modules):
                d.pop(name, None)
            m.non_persistent.discard(name)
            self.register_parameter(m, name, value)
        elif name in m.params:
            if value is not None:
                raise StaticUnsupported(f"assigns a non-parameter to parameter `{name}` (PyTorch raises)")
            m.params[name] = None
        elif isinstance(value, Module):
            if not m.initialized:
                raise StaticUnsupported("assigns a module before `super().__init__()`")
            for d in (m.attrs, m.params, m.buffers):
                d.pop(name, None)
            m.non_persistent.discard(name)
            m.modules[name] = value
        elif name in m.modules:
            if value is not None:
                raise StaticUnsupported(f"assigns a non-module to submodule `{name}` (PyTorch raises)")
            m.modules[name] = None
        elif name in m.buffers:
            if value is not None and not isinstance(value, Tensor):
                raise StaticUnsupported(f"assigns a non-tensor to buffer `{name}` (PyTorch raises)")
            m.buffers[name] = value
        else:
            if isinstance(value, Unknown) and not value.plain:
                raise StaticUnsupported(f"`{name}` gets a value that may be a module: {value.reason}")
            m.attrs[name] = value

    def register_parameter(self, m: Module, name: Any, value: Any) -> None:
        if not isinstance(name, str) or "." in name or not name:
            raise StaticUnsupported("a parameter name not known statically or invalid")
        if not m.initialized:
            raise StaticUnsupported("registers a parameter before `super().__init__()`")
        if m.has_attr(name) and name not in m.params:
            raise StaticUnsupported(f"attribute `{name}` already exists (PyTorch raises)")
        if value is not None and not (isinstance(value, Tensor) and value.param):
            raise StaticUnsupported(f"`{name}` is not known to be an nn.Parameter")
        m.params[name] = value

    def register_buffer(self, m: Module, name: Any, tensor: Any, persistent: Any = True) -> None:
        if not isinstance(name, str) or "." in name or not name:
            raise StaticUnsupported("a buffer name not known statically or invalid")
        if not m.initialized:
            raise StaticUnsupported("registers a buffer before `super().__init__()`")
        if m.has_attr(name) and name not in m.buffers:
            raise StaticUnsupported(f"attribute `{name}` already exists (PyTorch raises)")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise StaticUnsupported(f"buffer `{name}` is not a tensor known statically"
                                    + (f": {tensor.reason}" if isinstance(tensor, Unknown) else ""))
        if not isinstance(persistent, bool):
            raise StaticUnsupported(f"buffer `{name}`: `persistent` is not known statically")
        m.buffers[name] = None if tensor is None else Tensor(tensor.shape, tensor.dtype)
        if persistent:
            m.non_persistent.discard(name)
        else:
            m.non_persistent.add(name)

    def delattr(self, m: Module, name: str) -> None:
        for d in (m.params, m.buffers, m.modules, m.attrs):
            if name in d:
                del d[name]
                m.non_persistent.discard(name)
                return
        raise StaticUnsupported(f"`del` of a missing attribute `{name}`")

    def getattr(self, m: Module, name: str, skip_user: bool = False) -> Any:
        if name in m.attrs:
            return m.attrs[name]
        if m.cls is not None and not skip_user:
            value = m.cls.lookup(name)
            if value is not None:
                return instances.bind(self.interp, value, m, m.cls, name)
        for d in (m.params, m.buffers, m.modules):
            if name in d:
                return d[name]
        if name == "training":
            return True
        if name == "__class__":  # `m.__class__.__name__` (dcgan's weights_init): the class's name only
            return Namespace({"__name__": m.name})
        if name == "_version":
            return m.version
        if name in MODULE_ATTRS or (m.kind and name in _CONTAINER_METHODS.get(m.kind, ())):
            return BoundMethod(m, name)
        if name == "save_hyperparameters" and m.cls is not None and any(c.lightning for c in m.cls.mro()):
            return BoundMethod(m, name)  # (called with the caller's frame: calling.py)
        if m.cls is None and m.kind == "":
            return Unknown(f"`{m.name}.{name}` is not known statically", plain=True)
        raise MissingAttribute(f"`{m.name}` has no attribute `{name}` (PyTorch raises)")

    # containers
