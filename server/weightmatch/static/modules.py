"""nn.Module semantics over abstract values: __setattr__, containers, the Module
methods an `__init__` calls, torch tensor factories, and the builtins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import layers
from .values import (FLOAT_DTYPES, MODULE_ATTRS, BoundMethod, Dtype, Module, Namespace, Ref, StaticUnsupported, Tensor,
                     Unknown, clone_module, is_plain)

if TYPE_CHECKING:
    from .expressions import Interp, UserClass

TORCHVISION = "torchvision models need the model worker (execution is off)"

DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32",
    "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
    "complex64": "complex64", "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
}
_FACTORIES = {"zeros", "ones", "empty", "randn", "rand"}
_LIKE = {"zeros_like", "ones_like", "empty_like", "randn_like", "rand_like"}
# abstract torch bases users test with isinstance
_ABSTRACT = {
    "_ConvNd": {n for n in layers.SIGNATURES if n.startswith("Conv")},
    "_ConvTransposeNd": {n for n in layers.SIGNATURES if n.startswith("ConvTranspose")},
    "_BatchNorm": {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"},
    "_InstanceNorm": {"InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"},
    "_NormBase": {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"},
    "RNNBase": {"LSTM", "GRU", "RNN"},
    "RNNCellBase": {"LSTMCell", "GRUCell", "RNNCell"},
    "Linear": {"Linear", "NonDynamicallyQuantizableLinear"},
}
# methods that never change what a module holds
_NO_OP_METHODS = {"eval", "train", "requires_grad_", "zero_grad", "cuda", "cpu", "share_memory", "xpu", "mtia", "ipu"}
_HOOKS = {"register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
          "register_full_backward_pre_hook", "register_backward_hook"}
_CHANGES_TORCH_DEFAULTS = {"torch.set_default_dtype", "torch.set_default_tensor_type", "torch.set_default_device"}
_LOAD_HOOKS = {"register_load_state_dict_pre_hook", "register_load_state_dict_post_hook",
               "_register_load_state_dict_pre_hook"}
_CONTAINER_METHODS = {
    "sequential": {"append", "extend", "insert", "pop"}, "modulelist": {"append", "extend", "insert", "pop"},
    "moduledict": {"update", "keys", "values", "items", "pop"}, "parameterlist": {"append", "extend"},
    "parameterdict": {"update", "keys", "values", "items"},
}
_FORBIDDEN_OVERRIDES = {"__setattr__", "__getattr__", "__getattribute__", "__new__", "__delattr__", "state_dict",
                        "_save_to_state_dict", "register_buffer", "register_parameter", "add_module",
                        "register_module", "__init_subclass__", "named_modules", "_named_members"}


def canon(name: str) -> str:
    parts = name.split(".")
    if name.startswith("torch.nn.modules.") and len(parts) >= 5:
        return "torch.nn." + parts[-1]
    if name in ("torch.nn.parameter.Parameter",):
        return "torch.nn.Parameter"
    if name.startswith("torch.nn.modules.") and len(parts) == 4 and parts[-1] in layers.KNOWN_LAYERS | {"Module"}:
        return "torch.nn." + parts[-1]
    return name


def _int_like(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class ModuleOps:
    def __init__(self, interp: "Interp") -> None:
        self.interp = interp

    # ---- references to torch and friends -------------------------------------------

    def ref_attr(self, ref: Ref, name: str) -> Any:
        if ref.name == "torch" and name in DTYPES:
            return Dtype(DTYPES[name])
        if ref.name == "math" and name in ("pi", "e", "inf", "tau"):
            return getattr(math, name)
        return Ref(canon(f"{ref.name}.{name}"))

    def call_ref(self, ref: Ref, args: list, kwargs: dict, frame: Any = None) -> Any:
        name = ref.name
        top = name.split(".")[0]
        if top in ("torchvision", "timm", "transformers"):
            raise StaticUnsupported(TORCHVISION if top == "torchvision" else f"{top} models need the model worker (execution is off)")
        if name.startswith("builtins."):
            return self.builtin(name[9:], args, kwargs, frame)
        if name.startswith("math."):
            return self.math(name[5:], args)
        if name in ("types.SimpleNamespace", "argparse.Namespace"):
            if args:
                raise StaticUnsupported(f"`{name}` takes keyword arguments only")
            return Namespace(dict(kwargs))
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
            made = self.torch_factory(name[6:], args, kwargs)
            if made is not None:
                return made
        self.interp._guard(f"`{name}`", args, kwargs)
        return Unknown(f"`{name}` is not modeled statically")

    @staticmethod
    def _pairs(items: Any) -> list:
        out = []
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise StaticUnsupported("expects (name, module) pairs")
            out.append(tuple(item))
        return out

    # ---- tensors ---------------------------------------------------------------------

    def _dtype_kw(self, kwargs: dict, default: str) -> str:
        d = kwargs.get("dtype")
        if d is None:
            return default
        if isinstance(d, Dtype):
            return d.name
        raise StaticUnsupported("a tensor's `dtype` is not known statically")

    def _size(self, args: list, what: str) -> tuple[int, ...]:
        if len(args) == 1 and isinstance(args[0], (tuple, list)):
            args = list(args[0])
        for a in args:
            if not _int_like(a) or a < 0:
                reason = f": {a.reason}" if isinstance(a, Unknown) else ""
                raise StaticUnsupported(f"the size of `{what}` is not known statically{reason}")
        return tuple(args)

    def torch_factory(self, fn: str, args: list, kwargs: dict) -> Any:
        if fn in _FACTORIES:
            if "size" in kwargs:
                args = [kwargs["size"]]
            return Tensor(self._size(args, "torch." + fn), self._dtype_kw(kwargs, "float32"))
        if fn in _LIKE:
            src = args[0] if args else kwargs.get("input")
            if not isinstance(src, Tensor):
                raise StaticUnsupported(f"`torch.{fn}` of a value not known statically")
            return Tensor(src.shape, self._dtype_kw(kwargs, src.dtype))
        if fn == "full":
            size = args[0] if args else kwargs.get("size")
            fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
            default = "bool" if isinstance(fill, bool) else "int64" if _int_like(fill) else "float32" if isinstance(fill, float) else None
            if default is None and "dtype" not in kwargs:
                raise StaticUnsupported("the dtype of `torch.full` is not known statically")
            return Tensor(self._size([size], "torch.full"), self._dtype_kw(kwargs, default or "float32"))
        if fn == "tensor":
            data = args[0] if args else kwargs.get("data")
            shape, kinds = self._literal_shape(data)
            default = "float32" if "float" in kinds else "int64" if "int" in kinds else "bool" if "bool" in kinds else "float32"
            return Tensor(shape, self._dtype_kw(kwargs, default))
        if fn == "arange":
            nums = list(args)
            if not nums or len(nums) > 3 or not all(isinstance(n, (int, float)) for n in nums):
                raise StaticUnsupported("`torch.arange` with arguments not known statically")
            start, end, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) == 3 else 1)
            length = max(0, math.ceil((end - start) / step))
            default = "int64" if all(_int_like(n) for n in nums) else "float32"
            return Tensor((length,), self._dtype_kw(kwargs, default))
        if fn == "eye":
            n = args[0]
            m = args[1] if len(args) > 1 else kwargs.get("m", n)
            return Tensor(self._size([n, m], "torch.eye"), self._dtype_kw(kwargs, "float32"))
        if fn in ("linspace", "logspace"):
            steps = args[2] if len(args) > 2 else kwargs.get("steps")
            return Tensor(self._size([steps], "torch." + fn), self._dtype_kw(kwargs, "float32"))
        if fn == "randint":
            size = kwargs.get("size", args[-1] if args else None)
            return Tensor(self._size([size], "torch.randint"), self._dtype_kw(kwargs, "int64"))
        return None

    def _literal_shape(self, data: Any) -> tuple[tuple[int, ...], set[str]]:
        if isinstance(data, bool):
            return (), {"bool"}
        if _int_like(data):
            return (), {"int"}
        if isinstance(data, float):
            return (), {"float"}
        if isinstance(data, (list, tuple)):
            if not data:
                return (0,), set()
            shapes, kinds = set(), set()
            for item in data:
                s, k = self._literal_shape(item)
                shapes.add(s)
                kinds |= k
            if len(shapes) != 1:
                raise StaticUnsupported("`torch.tensor` of a ragged list")
            return (len(data), *shapes.pop()), kinds
        raise StaticUnsupported("`torch.tensor` of data not known statically")

    def tensor_attr(self, t: Tensor, name: str) -> Any:
        if name == "data":
            return t
        if name == "shape":
            return t.shape if t.shape is not None else Unknown("the shape of a lazy parameter")
        if name == "T" and t.shape is not None:
            return Tensor(tuple(reversed(t.shape)), t.dtype)
        if name == "dtype":
            return Dtype(t.dtype)
        if name == "ndim" and t.shape is not None:
            return len(t.shape)
        if name == "device":
            return Ref("torch.device()")
        if name == "requires_grad":
            return Unknown("requires_grad", plain=True)
        return BoundMethod(t, name)

    def tensor_method(self, t: Tensor, name: str, args: list, kwargs: dict) -> Any:
        if name in ("resize_", "set_", "unsqueeze_", "squeeze_", "t_", "transpose_", "as_strided_", "resize_as_",
                    "swapdims_", "swapaxes_"):
            raise StaticUnsupported(f"`.{name}()` changes a tensor's shape")
        if name.endswith("_") and not name.startswith("_"):
            return t
        if name in ("clone", "detach", "contiguous", "cpu", "cuda", "requires_grad_"):
            return Tensor(t.shape, t.dtype)
        if name in ("float", "double", "half", "bfloat16", "long", "int", "bool", "short"):
            return Tensor(t.shape, DTYPES[name])
        if name == "to":
            for a in [*args, kwargs.get("dtype")]:
                if isinstance(a, Dtype):
                    return Tensor(t.shape, a.name)
                if isinstance(a, Unknown):
                    raise StaticUnsupported("`.to(...)` with an argument not known statically")
            return Tensor(t.shape, t.dtype)
        if t.shape is None:
            return Unknown("a lazy parameter's shape")
        numel = math.prod(t.shape)
        if name in ("view", "reshape"):
            shape = list(self._size([a if a != -1 else 0 for a in (args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)], "view"))
            raw = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else list(args)
            if raw.count(-1) == 1:
                known = math.prod(d for d, r in zip(shape, raw) if r != -1)
                if known == 0 or numel % known:
                    raise StaticUnsupported("`.view(...)` raises for this shape")
                shape[raw.index(-1)] = numel // known
            if math.prod(shape) != numel:
                raise StaticUnsupported("`.view(...)` raises for this shape")
            return Tensor(tuple(shape), t.dtype)
        if name == "unsqueeze" and args and _int_like(args[0]):
            d = args[0] if args[0] >= 0 else args[0] + len(t.shape) + 1
            return Tensor((*t.shape[:d], 1, *t.shape[d:]), t.dtype)
        if name == "flatten" and not args:
            return Tensor((numel,), t.dtype)
        if name == "t" and len(t.shape) <= 2:
            return Tensor(tuple(reversed(t.shape)), t.dtype)
        if name == "size":
            return t.shape if not args else t.shape[args[0]]
        if name == "dim":
            return len(t.shape)
        if name == "numel":
            return numel
        return Unknown(f"`.{name}()` of a tensor is not followed statically")

    def tensor_binop(self, left: Any, right: Any) -> Any:
        tensors = [v for v in (left, right) if isinstance(v, Tensor)]
        others = [v for v in (left, right) if not isinstance(v, Tensor)]
        t = tensors[0]
        if t.dtype not in FLOAT_DTYPES or t.shape is None:
            return Unknown("arithmetic on this tensor is not followed statically")
        if len(tensors) == 2 and (tensors[1].shape != t.shape or tensors[1].dtype != t.dtype):
            return Unknown("arithmetic on tensors of different shapes is not followed statically")
        if others and not isinstance(others[0], (int, float)):
            return Unknown("arithmetic on a tensor is not followed statically")
        return Tensor(t.shape, t.dtype)

    # ---- builtins --------------------------------------------------------------------

    def math(self, fn: str, args: list) -> Any:
        if not all(isinstance(a, (int, float)) for a in args) or fn not in (
                "sqrt", "ceil", "floor", "log", "log2", "log10", "prod", "gcd", "pow", "exp", "isqrt", "lcm", "fabs"):
            if fn == "prod" and len(args) == 1 and isinstance(args[0], (list, tuple)) and all(isinstance(a, (int, float)) for a in args[0]):
                return math.prod(args[0])
            return Unknown(f"`math.{fn}` of values not known statically", plain=True)
        try:
            return getattr(math, fn)(*args)
        except (ValueError, OverflowError, TypeError) as e:
            raise StaticUnsupported(f"`math.{fn}` raises: {e}") from None

    def builtin(self, fn: str, args: list, kwargs: dict, frame: Any) -> Any:
        interp = self.interp
        if fn == "super":
            return self._super(args, frame)
        if fn == "print":
            return None
        if fn == "__import__" and len(args) == 1 and args[0] in ("types", "argparse") and not kwargs:
            return Ref(args[0])  # the recipe's own `__import__('types').SimpleNamespace(...)`
        if fn == "isinstance":
            return self.isinstance(args[0], args[1])
        if fn == "setattr":
            obj, name, value = args
            if not isinstance(name, str):
                raise StaticUnsupported("`setattr` with a name not known statically")
            if isinstance(obj, Module):
                self.setattr(obj, name, value)
                return None
            if isinstance(obj, Namespace):
                obj.attrs[name] = value
                return None
            raise StaticUnsupported("`setattr` on a value that is not a known module")
        if fn in ("getattr", "hasattr"):
            obj, name = args[0], args[1]
            if not isinstance(name, str):
                return Unknown("`getattr` with a name not known statically")
            try:
                value = interp.getattr(obj, name)
                found = not (isinstance(obj, Module) and obj.cls is None and isinstance(value, Unknown))
            except StaticUnsupported:
                value, found = None, False
            if isinstance(obj, Unknown):
                return Unknown(obj.reason, plain=fn == "hasattr")
            if fn == "hasattr":
                return found
            if not found:
                if len(args) > 2:
                    return args[2]
                raise StaticUnsupported(f"`getattr` of a missing attribute `{name}`")
            return value
        if fn == "map":
            func, *iterables = args
            return [interp.call(func, list(items), {}) for items in zip(*[interp.iterate(i) for i in iterables])]
        if fn in ("list", "tuple", "sorted", "reversed", "enumerate", "zip"):
            if fn in ("list", "tuple") and not args:
                return [] if fn == "list" else ()
            seqs = [interp.iterate(a) for a in args[: (2 if fn == "zip" and len(args) > 2 else len(args))]] if fn == "zip" else [interp.iterate(args[0])]
            if fn == "zip":
                seqs = [interp.iterate(a) for a in args]
                return list(zip(*seqs))
            items = seqs[0]
            if fn == "list":
                return list(items)
            if fn == "tuple":
                return tuple(items)
            if fn == "reversed":
                return list(reversed(items))
            if fn == "enumerate":
                start = args[1] if len(args) > 1 else kwargs.get("start", 0)
                return list(enumerate(items, start))
            if not all(is_plain(i) for i in items):
                return Unknown("sorting values not known statically")
            return sorted(items, reverse=bool(kwargs.get("reverse", False)))
        if fn == "len":
            obj = args[0]
            if isinstance(obj, Module):
                return len(self.iterate(obj))
            if isinstance(obj, (list, tuple, str, dict, range)):
                return len(obj)
            return Unknown("the length of a value not known statically", plain=True)
        if fn == "dict":
            try:
                base = args[0] if args and isinstance(args[0], dict) else self._pairs(args[0]) if args else []
                return dict(base, **kwargs)
            except StaticUnsupported:
                return Unknown("a dict not known statically")
        if fn == "range":
            if not all(_int_like(a) for a in args):
                bad = next((a for a in args if isinstance(a, Unknown)), None)
                return Unknown(bad.reason if bad else "range of values not known statically", plain=True)
            return range(*args)
        if fn in ("int", "float", "bool", "str", "abs", "round", "max", "min", "sum", "divmod", "any", "all", "repr"):
            flat = list(args)
            if len(args) == 1 and isinstance(args[0], (list, tuple, range)):
                flat = list(args[0])
            if not all(is_plain(a) for a in flat) or not all(is_plain(v) for v in kwargs.values()):
                return Unknown(f"`{fn}()` of values not known statically", plain=True)
            try:
                return {"int": int, "float": float, "bool": bool, "str": str, "abs": abs, "round": round, "max": max,
                        "min": min, "sum": sum, "divmod": divmod, "any": any, "all": all, "repr": repr}[fn](*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - what Python would raise
                raise StaticUnsupported(f"`{fn}()` raises {type(e).__name__}: {e}") from None
        interp._guard(f"`{fn}`", args, kwargs)
        return Unknown(f"`{fn}()` is not modeled statically", plain=fn in ("callable", "id", "issubclass", "type"))

    def _super(self, args: list, frame: Any) -> Any:
        from .expressions import SuperProxy, UserClass

        if args:
            if len(args) != 2 or not isinstance(args[0], UserClass) or not isinstance(args[1], Module):
                raise StaticUnsupported("`super(...)` with arguments not known statically")
            return SuperProxy(args[0], args[1])
        f = frame
        while f is not None and (f.func is None or f.func.owner is None):
            f = f.parent
        if f is None or not isinstance(f.self_obj, Module):
            raise StaticUnsupported("`super()` outside a method")
        return SuperProxy(f.func.owner, f.self_obj)

    def super_attr(self, proxy: Any, name: str) -> Any:
        from .expressions import BoundFunc, UserFunc

        chain = proxy.obj.cls.chain() if proxy.obj.cls is not None else []
        if proxy.cls not in chain:
            raise StaticUnsupported("`super()` of a class the object does not derive from")
        for cls in chain[chain.index(proxy.cls) + 1:]:
            value = cls.body().get(name)
            if isinstance(value, UserFunc):
                return BoundFunc(value, proxy.obj)
            if value is not None:
                return value
        if name == "__init__":
            return BoundMethod(proxy.obj, "__torch_init__")
        return self.getattr(proxy.obj, name, skip_user=True)

    def isinstance(self, obj: Any, classinfo: Any) -> Any:
        from .expressions import UserClass

        infos = list(classinfo) if isinstance(classinfo, (tuple, list)) else [classinfo]
        unknown = False
        for c in infos:
            if isinstance(c, Ref) and c.name.startswith("builtins."):
                py = {"int": int, "float": float, "str": str, "list": list, "tuple": tuple, "dict": dict, "bool": bool}.get(c.name[9:])
                if py is None or isinstance(obj, (Unknown, Module, Tensor)):
                    unknown = unknown or isinstance(obj, Unknown) or py is None
                    continue
                if isinstance(obj, py):
                    return True
                continue
            if isinstance(obj, Unknown):
                unknown = True
                continue
            if isinstance(obj, Tensor):
                if isinstance(c, Ref) and (c.name == "torch.Tensor" or (c.name == "torch.nn.Parameter" and obj.param)):
                    return True
                continue
            if not isinstance(obj, Module):
                if isinstance(c, (Ref, UserClass)):
                    continue
                unknown = True
                continue
            if isinstance(c, UserClass):
                if obj.cls is not None and c in obj.cls.chain():
                    return True
                continue
            if not isinstance(c, Ref) or not c.name.startswith("torch.nn."):
                unknown = True
                continue
            short = c.name[9:]
            if short == "Module":
                return True
            torch_name = obj.name if obj.cls is None else obj.cls.torch_base().name[9:]
            if torch_name == short or torch_name in _ABSTRACT.get(short, ()):
                return True
            if short not in layers.KNOWN_LAYERS and short not in _ABSTRACT:
                unknown = True
        return Unknown("an isinstance check not known statically", plain=True) if unknown else False

    # ---- modules ---------------------------------------------------------------------

    def instantiate(self, cls: "UserClass", args: list, kwargs: dict) -> Module:
        from .expressions import UserFunc

        chain = cls.chain()
        base = cls.torch_base()
        version, custom, extra, saves, overrides = None, False, False, False, False
        for c in chain:
            body = c.body()
            bad = _FORBIDDEN_OVERRIDES & body.keys()
            if bad:
                raise StaticUnsupported(f"class `{c.name}` overrides `{sorted(bad)[0]}`")
            if base.name != "torch.nn.Module" and {"reset_parameters", "_reset_parameters"} & body.keys():
                raise StaticUnsupported(f"class `{c.name}` overrides `reset_parameters` of a torch layer")
            if version is None and "_version" in body:
                version = body["_version"]
                if not _int_like(version):
                    raise StaticUnsupported(f"`{c.name}._version` is not a known integer")
            custom = custom or "_load_from_state_dict" in body
            # its own load_state_dict matters only when called on it (not through super(), and
            # never for a submodule: loading recurses through _load_from_state_dict)
            overrides = overrides or "load_state_dict" in body
            extra = extra or "set_extra_state" in body  # what loading consults
            saves = saves or "get_extra_state" in body  # what state_dict() writes
        if extra != saves:  # the model's own state_dict() would not load back: the worker says how
            raise StaticUnsupported(f"class `{cls.name}` overrides only one of get_extra_state and set_extra_state")
        m = Module(cls.qualname, cls.name, cls=cls, initialized=False, custom_load=custom, extra_state=extra)
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
        from .expressions import BoundFunc, UserFunc

        if name in m.attrs:
            return m.attrs[name]
        if m.cls is not None and not skip_user:
            value = m.cls.lookup(name)
            if isinstance(value, UserFunc):
                deco = value.decorator()
                if deco is None:
                    return BoundFunc(value, m)
                if deco == "staticmethod":
                    return value
                if deco == "property":
                    return self.interp.call_function(value, [m], {})
                return Unknown(f"`{name}` is a decorated method")
            if value is not None:
                return value
        for d in (m.params, m.buffers, m.modules):
            if name in d:
                return d[name]
        if name == "training":
            return True
        if name == "_version":
            return m.version
        if name in MODULE_ATTRS or (m.kind and name in _CONTAINER_METHODS.get(m.kind, ())):
            return BoundMethod(m, name)
        if m.cls is None and m.kind == "":
            return Unknown(f"`{m.name}.{name}` is not known statically", plain=True)
        raise StaticUnsupported(f"`{m.name}` has no attribute `{name}` (PyTorch raises)")

    # containers

    def _index(self, m: Module, idx: Any) -> int:
        n = len(m.params) if m.kind == "parameterlist" else len(m.modules)
        if not _int_like(idx):
            raise StaticUnsupported("an index not known statically")
        if not -n <= idx < n:
            raise StaticUnsupported(f"index {idx} is out of range (PyTorch raises)")
        return idx + n if idx < 0 else idx

    def getitem(self, m: Module, key: Any) -> Any:
        if m.kind in ("sequential", "modulelist"):
            items = list(m.modules.items())
            if isinstance(key, slice):
                new = layers.new_module(m.name if m.cls is None else "Sequential" if m.kind == "sequential" else "ModuleList")
                if m.cls is not None:
                    raise StaticUnsupported("slicing a subclassed container is not followed statically")
                picked = items[key]
                for i, (k, v) in enumerate(picked):
                    new.modules[k if m.kind == "sequential" else str(i)] = v
                return new
            return items[self._index(m, key)][1]
        if m.kind in ("moduledict", "parameterdict"):
            d = m.modules if m.kind == "moduledict" else m.params
            if key not in d:
                raise StaticUnsupported(f"key {key!r} is not in the {m.name} (PyTorch raises)")
            return d[key]
        if m.kind == "parameterlist":
            return self.getattr(m, str(self._index(m, key)))
        if m.cls is not None and m.cls.lookup("__getitem__") is not None:
            return self.interp.call(self.getattr(m, "__getitem__"), [key], {})
        raise StaticUnsupported(f"`{m.name}` is not subscriptable statically")

    def setitem(self, m: Module, key: Any, value: Any) -> None:
        if m.kind == "sequential":
            self.setattr(m, list(m.modules)[self._index(m, key)], value)
        elif m.kind == "modulelist":
            self.setattr(m, str(self._index(m, key)), value)
        elif m.kind == "moduledict":
            self.add_module(m, key, value)
        elif m.kind in ("parameterlist", "parameterdict"):
            name = str(self._index(m, key)) if m.kind == "parameterlist" else key
            self._set_param_item(m, name, value)
        else:
            raise StaticUnsupported(f"item assignment on `{m.name}` is not followed statically")

    def _set_param_item(self, m: Module, name: Any, value: Any) -> None:
        if not isinstance(name, str):
            raise StaticUnsupported("a parameter key not known statically")
        if isinstance(value, Tensor):
            value = Tensor(value.shape, value.dtype, True)  # ParameterList/Dict wrap plain tensors
        elif isinstance(value, Unknown):
            raise StaticUnsupported(f"a parameter not known statically: {value.reason}")
        self.setattr(m, name, value)

    def delitem(self, m: Module, key: Any) -> None:
        if m.kind == "sequential" and _int_like(key):
            self.delattr(m, list(m.modules)[self._index(m, key)])
        elif m.kind == "modulelist" and _int_like(key):
            del m.modules[str(self._index(m, key))]
            m.modules = {str(i): v for i, v in enumerate(m.modules.values())}
        else:
            raise StaticUnsupported(f"`del` of an item of `{m.name}` is not followed statically")

    def iterate(self, m: Module) -> list:
        if m.kind in ("sequential", "modulelist"):
            return list(m.modules.values())
        if m.kind == "moduledict":
            return list(m.modules)
        if m.kind == "parameterlist":
            return [v for k, v in m.params.items()]
        if m.kind == "parameterdict":
            return list(m.params)
        raise StaticUnsupported(f"iterating over `{m.name}` is not followed statically")

    def truth(self, m: Module) -> bool:
        if m.kind:
            return bool(self.iterate(m))
        return True

    def contains(self, m: Module, key: str) -> bool:
        if m.kind == "moduledict":
            return key in m.modules
        if m.kind == "parameterdict":
            return key in m.params
        raise StaticUnsupported(f"`in` on `{m.name}` is not followed statically")

    def _walk(self, m: Module, prefix: str = "", seen: set[int] | None = None) -> list[tuple[str, Module]]:
        seen = set() if seen is None else seen
        if id(m) in seen:
            return []
        seen.add(id(m))
        out = [(prefix, m)]
        for name, child in m.modules.items():
            if child is not None:
                out += self._walk(child, f"{prefix}.{name}" if prefix else name, seen)
        return out

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict) -> Any:
        if isinstance(obj, Tensor):
            return self.tensor_method(obj, name, args, kwargs)
        if not isinstance(obj, Module):
            return self._plain_method(obj, name, args, kwargs)
        m = obj
        if name == "__torch_init__":
            self.torch_init(m, m.cls.torch_base(), args, kwargs)
            return None
        if name in ("add_module", "register_module"):
            self.add_module(m, *args, **kwargs)
            return None
        if name == "register_buffer":
            self.register_buffer(m, *args, **kwargs)
            return None
        if name == "register_parameter":
            self.register_parameter(m, *args, **kwargs)
            return None
        if name == "append" and m.kind in ("sequential", "modulelist"):
            self.add_module(m, str(len(m.modules)), args[0])
            return m
        if name == "append" and m.kind == "parameterlist":
            self._set_param_item(m, str(len(m.params)), args[0])
            return m
        if name == "extend" and m.kind in ("sequential", "modulelist", "parameterlist"):
            for item in self.interp.iterate(args[0]):
                self.call_method(m, "append", [item], {})
            return m
        if name == "insert" and m.kind in ("sequential", "modulelist"):
            index, mod = args
            n = len(m.modules)
            if not _int_like(index) or (m.kind == "sequential" and not -n <= index <= n):
                raise StaticUnsupported("`insert` at an index not known statically or out of range")
            if m.kind == "sequential" and index < 0:
                index += n
            if not isinstance(mod, Module):
                raise StaticUnsupported("`insert` of a value that is not a known module")
            if m.kind == "modulelist":
                index = max(0, min(n, index + n if index < 0 else index)) if index < 0 else min(index, n)
            for i in range(n, index, -1):
                m.modules[str(i)] = m.modules[str(i - 1)]
            m.modules[str(index)] = mod
            return None
        if name == "update" and m.kind in ("moduledict", "parameterdict"):
            src = args[0]
            pairs = list(src.items()) if isinstance(src, dict) else \
                [(k, self.getitem(src, k)) for k in self.iterate(src)] if isinstance(src, Module) else self._pairs(self.interp.iterate(src))
            for key, value in pairs:
                if m.kind == "moduledict":
                    self.add_module(m, key, value)
                else:
                    self._set_param_item(m, key, value)
            return None
        if name in ("keys", "values", "items") and m.kind in ("moduledict", "parameterdict"):
            d = m.modules if m.kind == "moduledict" else m.params
            return list(getattr(d, name)())
        if name in ("modules", "named_modules"):
            walked = self._walk(m)
            return [v for _, v in walked] if name == "modules" else walked
        if name in ("children", "named_children"):
            seen, out = set(), []
            for k, v in m.modules.items():
                if v is not None and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v if name == "children" else (k, v))
            return out
        if name in ("parameters", "named_parameters", "buffers", "named_buffers"):
            out, seen = [], set()
            for prefix, sub in self._walk(m):
                d = sub.params if "parameters" in name else sub.buffers
                for k, t in d.items():
                    if t is not None and id(t) not in seen:
                        seen.add(id(t))
                        out.append(t if not name.startswith("named") else (f"{prefix}.{k}" if prefix else k, t))
            return out
        if name == "apply":
            for child in self.call_method(m, "children", [], {}):
                self.call_method(child, "apply", args, {})
            self.interp.call(args[0], [m], {})
            return m
        if name in _NO_OP_METHODS:
            return m
        if name in ("half", "float", "double", "bfloat16"):
            self._cast(m, DTYPES[name])
            return m
        if name == "to":
            for a in [*args, *kwargs.values()]:
                if isinstance(a, Dtype):
                    self._cast(m, a.name)
                elif isinstance(a, str) or a in (Ref("torch.device()"),) or isinstance(a, bool):
                    continue
                elif isinstance(a, Unknown) and a.plain:
                    continue  # a string chosen at run time: a device
                else:
                    raise StaticUnsupported("`.to(...)` with an argument that may be a dtype")
            return m
        if name in _HOOKS:
            return Unknown("a hook handle", plain=True)
        if name in _LOAD_HOOKS:
            m.custom_load = True
            return Unknown("a hook handle", plain=True)
        if name == "get_submodule":
            target = args[0]
            if not isinstance(target, str):
                raise StaticUnsupported("`get_submodule` of a name not known statically")
            cur = m
            for part in target.split(".") if target else []:
                if cur is None or part not in cur.modules:
                    raise StaticUnsupported(f"`get_submodule({target!r})` fails")
                cur = cur.modules[part]
            return cur
        raise StaticUnsupported(f"`.{name}()` on a module is not followed statically")

    def _cast(self, m: Module, dtype: str) -> None:
        for _, sub in self._walk(m):
            for d in (sub.params, sub.buffers):
                for k, t in d.items():
                    if t is not None and t.dtype in FLOAT_DTYPES:
                        d[k] = Tensor(t.shape, dtype, t.param)

    def _plain_method(self, obj: Any, name: str, args: list, kwargs: dict) -> Any:
        if isinstance(obj, list) and name in ("append", "extend", "insert", "pop", "reverse", "copy", "index", "count"):
            if name == "extend":
                obj.extend(self.interp.iterate(args[0]))
                return None
            try:
                return getattr(obj, name)(*args, **kwargs)
            except (IndexError, ValueError, TypeError) as e:
                raise StaticUnsupported(f"`list.{name}` raises {type(e).__name__}") from None
        if isinstance(obj, dict) and name in ("items", "keys", "values", "get", "copy", "update", "setdefault", "pop"):
            try:
                result = getattr(obj, name)(*args, **kwargs)
            except (KeyError, TypeError) as e:
                raise StaticUnsupported(f"`dict.{name}` raises {type(e).__name__}") from None
            return list(result) if name in ("items", "keys", "values") else result
        if isinstance(obj, (str, tuple)) and all(is_plain(a) for a in args) and all(is_plain(v) for v in kwargs.values()):
            try:
                return getattr(obj, name)(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - what Python would raise
                raise StaticUnsupported(f"`{type(obj).__name__}.{name}` raises {type(e).__name__}") from None
        return Unknown(f"`.{name}()` is not followed statically")


def clone(m: Module) -> Module:
    return clone_module(m)
