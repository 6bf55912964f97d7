"""Python's builtins and `math` over abstract values: `super()`, `isinstance`,
`getattr`/`setattr`/`hasattr`, `len`, `range`, `zip`, the numeric builtins. Mixed into
modules.ModuleOps (they read and set module attributes)."""

from __future__ import annotations

from typing import Any

from .. import purefuncs
from . import instances, layers
from .userdefs import SuperProxy, UserClass, guard
from .values import (
    BoundMethod, Instance, MissingAttribute, Module, Namespace, Partial, Ref, StaticUnsupported, Tensor, Unknown, int_like,
    is_plain,
)

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


class Builtins:
    def pure(self, name: str, args: list, kwargs: dict) -> Any:
        try:
            return purefuncs.compute(name, args, kwargs)
        except purefuncs.NotModeled as e:
            return Unknown(f"{e} statically", plain=True)
        except purefuncs.Raises as e:
            raise StaticUnsupported(str(e)) from None

    def builtin(self, fn: str, args: list, kwargs: dict, frame: Any) -> Any:
        interp = self.interp
        if fn == "super":
            return self._super(args, frame)
        if fn == "print":
            return None
        if fn == "__import__" and len(args) == 1 and args[0] in ("types", "argparse", "torch", "functools") and not kwargs:
            return Ref(args[0])  # the recipe's own `__import__('types').SimpleNamespace(...)`, `…('torch').nn.GELU`
        if fn == "__import__" and args == ["weightmatch.recipe_objects"] and kwargs.keys() == {"fromlist"} \
                and kwargs["fromlist"] in (["made"], ["namespace"], ["with_attrs"], ["cfg_node"]):
            return Ref("weightmatch.recipe_objects")  # the recipe's object of a workspace class
        if fn == "__import__" and len(args) == 1 and isinstance(args[0], str) and frame is not None \
                and list(kwargs) == ["fromlist"] and kwargs["fromlist"]:
            return interp.import_module(frame.file, args[0], 0)  # the recipe's `__import__('net', fromlist=['Net'])`
        if fn == "isinstance":
            return self.isinstance(args[0], args[1])
        if fn == "type" and len(args) == 1 and not kwargs and isinstance(args[0], Partial):
            return Ref("functools.partial")  # CycleGAN's `type(norm_layer) == functools.partial`
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
            if isinstance(obj, Instance):
                instances.setattr_(obj, name, value)
                return None
            raise StaticUnsupported("`setattr` on a value that is not a known module")
        if fn in ("getattr", "hasattr"):
            obj, name = args[0], args[1]
            if not isinstance(name, str):
                return Unknown("`getattr` with a name not known statically")
            try:
                value = interp.getattr(obj, name)
                found = not (isinstance(obj, Module) and obj.cls is None and isinstance(value, Unknown))
            except MissingAttribute:
                value, found = None, False
            if isinstance(obj, Unknown):
                return Unknown(obj.reason, plain=fn == "hasattr")
            if isinstance(obj, Instance) and obj.partial and name not in obj.attrs and obj.cls.lookup(name) is None:
                return Unknown(value.reason, plain=fn == "hasattr")  # given or not, the analysis did not know
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
            if not all(int_like(a) for a in args):
                bad = next((a for a in args if isinstance(a, Unknown)), None)
                return Unknown(bad.reason if bad else "range of values not known statically", plain=True)
            return range(*args)
        if fn in purefuncs.NAMES:
            flat = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple, range)) else args
            if not all(is_plain(a) for a in flat) or not all(is_plain(v) for v in kwargs.values()):
                return Unknown(f"`{fn}()` of values not known statically", plain=True)
            return self.pure(fn, args, kwargs)
        guard(f"`{fn}`", args, kwargs)
        return Unknown(f"`{fn}()` is not modeled statically", plain=fn in ("callable", "id", "issubclass", "type"))

    def _super(self, args: list, frame: Any) -> Any:
        if args:
            if len(args) != 2 or not isinstance(args[0], UserClass) or not isinstance(args[1], (Module, Instance)):
                raise StaticUnsupported("`super(...)` with arguments not known statically")
            return SuperProxy(args[0], args[1])
        f = frame
        while f is not None and (f.func is None or f.func.owner is None):
            f = f.parent
        if f is None or not isinstance(f.self_obj, (Module, Instance)):
            raise StaticUnsupported("`super()` outside a method")
        return SuperProxy(f.func.owner, f.self_obj)

    def super_attr(self, proxy: Any, name: str) -> Any:
        chain = proxy.obj.cls.mro() if proxy.obj.cls is not None else []
        if proxy.cls not in chain:
            raise StaticUnsupported("`super()` of a class the object does not derive from")
        for cls in chain[chain.index(proxy.cls) + 1:]:
            value = cls.body().get(name)
            if value is not None:
                return instances.bind(self.interp, value, proxy.obj, proxy.obj.cls, name)
        if isinstance(proxy.obj, Instance):
            if name == "__init__":
                return BoundMethod(proxy.obj, "__object_init__")
            raise MissingAttribute(f"`super()` object has no attribute `{name}` (Python raises AttributeError)")
        if name == "__init__":
            return BoundMethod(proxy.obj, "__torch_init__")
        return self.getattr(proxy.obj, name, skip_user=True)

    def isinstance(self, obj: Any, classinfo: Any) -> Any:
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
            if isinstance(obj, Instance):
                if isinstance(c, UserClass) and c in obj.cls.mro():
                    return True
                if isinstance(c, (Ref, UserClass)):
                    continue
            if not isinstance(obj, Module):
                if isinstance(c, (Ref, UserClass)):
                    continue
                unknown = True
                continue
            if isinstance(c, UserClass):
                if obj.cls is not None and c in obj.cls.mro():
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
