"""Method calls an `__init__` makes: nn.Module's (`add_module`, `register_buffer`,
`append`, `apply`, `.to(dtype)`, hooks, `get_submodule`, ...), a tensor's (tensors.py),
and those of lists, dicts and strings. Mixed into modules.ModuleOps."""

from __future__ import annotations

import ast
from typing import Any

from . import instances, tensors
from .values import FLOAT_DTYPES, Dtype, Instance, Module, Namespace, Ref, StaticUnsupported, Tensor, Unknown, int_like, is_plain

# methods that never change what a module holds
_NO_OP_METHODS = {"eval", "train", "requires_grad_", "zero_grad", "cuda", "cpu", "share_memory", "xpu", "mtia", "ipu"}
_HOOKS = {"register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
          "register_full_backward_pre_hook", "register_backward_hook"}
_LOAD_HOOKS = {"register_load_state_dict_pre_hook", "register_load_state_dict_post_hook",
               "_register_load_state_dict_pre_hook"}


class ModuleMethods:
    def save_hyperparameters(self, m: Module, args: list, kwargs: dict, frame: Any) -> None:
        """Lightning's `self.save_hyperparameters(...)` in `__init__`: `self.hparams` holds the
        arguments of the `__init__` that calls it, as they are then (those named, or a dict /
        namespace given, less `ignore`); it adds nothing to the state dict."""
        func = getattr(frame, "func", None)
        if func is None or not isinstance(func.node, ast.FunctionDef) or func.node.name != "__init__":
            raise StaticUnsupported("`save_hyperparameters()` outside `__init__` is not followed statically")
        ignore = kwargs.get("ignore") or []
        ignore = [ignore] if isinstance(ignore, str) else list(ignore)
        if len(args) == 1 and isinstance(args[0], (dict, Namespace)):
            values = dict(args[0].attrs if isinstance(args[0], Namespace) else args[0])
        else:
            a = func.node.args
            names = [p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]][1:]
            values = {n: frame.locals.get(n) for n in names}
            if a.kwarg is not None and isinstance(frame.locals.get(a.kwarg.arg), dict):
                values.update(frame.locals[a.kwarg.arg])  # (Lightning spreads `**kwargs` in)
            if args:
                if not all(isinstance(x, str) and x in values for x in args):
                    raise StaticUnsupported("`save_hyperparameters(...)` of values not known statically")
                values = {x: values[x] for x in args}
        m.attrs["hparams"] = Namespace({k: v for k, v in values.items() if k not in ignore})
        return None

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict) -> Any:
        if isinstance(obj, Tensor):
            return tensors.method(obj, name, args, kwargs)
        if isinstance(obj, Instance) and name == "__object_init__":
            instances.object_init(obj.cls, args, kwargs)
            return None
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
            if not int_like(index) or (m.kind == "sequential" and not -n <= index <= n):
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
        if name == "load_state_dict" and len(args) < 3 and "assign" not in kwargs:
            # a load while the model is made (`if ckpt: self.load_state_dict(...)` in __init__)
            # copies into the tensors it has, shapes unchanged; whether it succeeds is its own diagnostic
            return Unknown("what load_state_dict returns", plain=True)
        if name in ("half", "float", "double", "bfloat16"):
            self._cast(m, tensors.DTYPES[name])
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
