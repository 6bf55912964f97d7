"""A tiny evaluator for the key-filter and key-rename code users write around load_state_dict.

`{k[7:]: v for k, v in sd.items() if not k.startswith("fc")}`, `v.shape == own[k].shape`,
and `for k, v in sd.items(): if "fc1" in k: new[k] = v` are evaluated over the real key
names and TensorInfo shapes. Only a whitelist of pure operations is supported (string
methods, comparisons, shapes, `re`); anything else raises Unresolvable, so nothing a
user wrote is ever executed and nothing is guessed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any, Callable

from weightmatch.operators import BINARY, COMPARE
from weightmatch.types import RuntimeValue, TensorInfo


class Unresolvable(Exception):
    pass


class Raises(Unresolvable):
    """A lookup that raises as Python would (a key not in a known dict, an index out of a known
    list): unresolvable unless a `try` of a key loop catches it (key_loops.py)."""

    def __init__(self, message: str, exc_type: type[Exception]):
        super().__init__(message)
        self.exc_type = exc_type


STR_METHODS = {"startswith", "endswith", "replace", "split", "rsplit", "join", "strip", "lstrip", "rstrip",
               "removeprefix", "removesuffix", "lower", "upper", "count", "find", "rfind", "partition",
               "rpartition", "isdigit", "format", "index"}
TENSOR_NOOP_METHODS = {"float", "half", "double", "bfloat16", "clone", "detach", "cpu", "cuda", "to",
                       "contiguous", "data", "requires_grad_"}
BUILTINS: dict[str, Callable] = {"len": len, "str": str, "int": int, "any": any, "all": all, "tuple": tuple,
                                 "list": list, "set": set, "min": min, "max": max, "bool": bool,
                                 "next": next, "iter": iter}  # open_clip's `next(iter(sd.items()))[0]`
RE_FUNCS = {"sub", "match", "search", "fullmatch", "split"}
BIN = {op: BINARY[op] for op in (ast.Add, ast.Sub, ast.Mult, ast.Mod, ast.FloorDiv)}  # what key filters use


class Dtype(str):
    """`torch.float32` as written in a filter."""


class TensorProxy:
    """What user filter code sees for a tensor: its shape and dtype, no data."""

    def __init__(self, info: TensorInfo):
        self.info = info

    @property
    def shape(self) -> tuple:
        if self.info.shape is None:
            raise Unresolvable("the shape of an uninitialized parameter")
        return tuple(self.info.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    ndim = property(dim)

    def numel(self) -> int:
        return self.info.numel

    def __getitem__(self, key):
        return TensorProxy(indexed(self.info, key))

    @property
    def dtype(self) -> Dtype:
        return Dtype(self.info.dtype)


def indexed(info: TensorInfo, key: Any) -> TensorInfo:
    """The shape of `tensor[key]` for basic indexing (ints, slices with a positive step, `None`,
    `...`), as torch computes it without reading data: a conversion script's `qkv[:dim, :]`.
    Anything else, or an index that may be out of range, is not decided here."""
    items = list(key) if isinstance(key, tuple) else [key]
    if info.shape is None or sum(it is Ellipsis for it in items) > 1:
        raise Unresolvable("indexing a tensor of the checkpoint this way")
    used = sum(it is not None and it is not Ellipsis for it in items)
    if used > len(info.shape):
        raise Unresolvable("more indices than the tensor has dimensions")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(info.shape) - used)
    shape, dim = [], 0
    for it in items:
        if it is None:
            shape.append(1)
            continue
        size = info.shape[dim]
        dim += 1
        if isinstance(it, int) and not isinstance(it, bool) and -size <= it < size:
            continue  # (the dimension is taken away)
        if isinstance(it, slice) and all(p is None or isinstance(p, int) and not isinstance(p, bool)
                                         for p in (it.start, it.stop, it.step)) and (it.step or 1) > 0:
            shape.append(len(range(*it.indices(size))))
            continue
        raise Unresolvable(f"the index {it!r} of a checkpoint tensor")
    return TensorInfo((*shape, *info.shape[dim:]), info.dtype)


class ModuleProxy:
    """A module of the model as a key loop reads it (CycleGAN's InstanceNorm patch walks
    `getattr(module, key)` down a key's parts): its children, its tensors' shapes, its class's
    name. A norm layer's running statistics it does not track are None, as torch registers them;
    any other attribute is not known."""

    _NONE_WHEN_UNTRACKED = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, expected: Any, path: str):
        self.expected = expected
        self.path = path
        self.spec = expected.modules.get(path)
        if self.spec is None:
            raise Unresolvable(f"no module `{path}` in the model")

    def attr(self, name: str) -> Any:
        spec = self.spec
        if name == "__class__":
            return ClassName(spec.type.rsplit(".", 1)[-1])
        if name in spec.children:
            child = f"{self.path}.{name}" if self.path else name
            return ModuleProxy(self.expected, child) if child in self.expected.modules else None
        if name in spec.params:
            return TensorProxy(spec.params[name])
        if name in spec.buffers:
            return TensorProxy(spec.buffers[name])
        if name in self._NONE_WHEN_UNTRACKED and spec.type.startswith(("torch.nn.modules.instancenorm.",
                                                                        "torch.nn.modules.batchnorm.")):
            return None
        raise Unresolvable(f"`{name}` of the model's `{self.path or 'root'}` module is not known here")


class ClassName:
    """`module.__class__` of a ModuleProxy: only its `__name__` is read."""

    def __init__(self, name: str):
        self.__name__ = name


class Methods:
    """The methods of an object that a key loop calls (`self.patch(sd, net, parts)`)."""

    def __init__(self, methods: dict[str, ast.FunctionDef]):
        self.methods = methods


class ConfigNamespace:
    """The known attributes of a namespace the program made (`args`); reading one not set is unknown."""

    def __init__(self, attrs: dict[str, Any]):
        self.attrs = attrs


class Unknowable:
    """A value known only at run time (a free name of a filter, or a RuntimeValue in the state dict).

    It can be stored as it is (`out[k] = v`), but any question about it (a comparison, its truth,
    an attribute, `in`, `isinstance`, `str`) makes the expression Unresolvable instead of guessing.
    """

    def __init__(self, reason: str, value: Any = None):
        self.reason = reason
        self.value = value  # what it stands for when stored: the RuntimeValue

    def _unknown(self, *args, **kwargs):
        raise Unresolvable(self.reason)

    def __getattr__(self, name):
        raise Unresolvable(self.reason)

    __contains__ = __getitem__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _unknown
    __bool__ = __len__ = __iter__ = __str__ = __hash__ = __format__ = _unknown
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _unknown
    __floordiv__ = __rfloordiv__ = __neg__ = __call__ = _unknown


def wrap(value: Any) -> Any:
    if isinstance(value, TensorInfo):
        return TensorProxy(value)
    if isinstance(value, RuntimeValue):
        return Unknowable(value.reason, value)
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, TensorProxy):
        return value.info
    if isinstance(value, Unknowable):
        return value.value if value.value is not None else RuntimeValue(value.reason)
    return value


class Evaluator:
    def __init__(self, env: dict[str, Any]):
        self.env = env

    def ev(self, node: ast.AST) -> Any:
        method = getattr(self, "ev_" + type(node).__name__, None)
        if method is None:
            raise Unresolvable(f"`{ast.unparse(node)}`")
        return method(node)

    def ev_Constant(self, node):
        return node.value

    def ev_Name(self, node):
        if node.id in self.env:
            return self.env[node.id]
        if node.id in BUILTINS:
            return BUILTINS[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise Unresolvable(f"`{node.id}` is not known")

    def ev_Tuple(self, node):
        return tuple(self.ev(e) for e in node.elts)

    def ev_List(self, node):
        return [self.ev(e) for e in node.elts]

    def ev_Set(self, node):
        return {self.ev(e) for e in node.elts}

    def ev_JoinedStr(self, node):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(str(v.value))
            elif isinstance(v, ast.FormattedValue) and v.format_spec is None:
                value = self.ev(v.value)
                if isinstance(value, Unknowable):
                    raise Unresolvable(value.reason)
                out.append(str(unwrap(value)))
            else:
                raise Unresolvable("formatted value")
        return "".join(out)

    def ev_BoolOp(self, node):
        if isinstance(node.op, ast.And):
            result = True
            for v in node.values:
                result = self.ev(v)
                if not result:
                    return result
            return result
        result = False
        for v in node.values:
            result = self.ev(v)
            if result:
                return result
        return result

    def ev_UnaryOp(self, node):
        v = self.ev(node.operand)
        if isinstance(node.op, ast.Not):
            return not v
        if isinstance(node.op, ast.USub):
            return -v
        raise Unresolvable("unary operator")

    def ev_BinOp(self, node):
        fn = BIN.get(type(node.op))
        if fn is None:
            raise Unresolvable("operator")
        return fn(self.ev(node.left), self.ev(node.right))

    def ev_Compare(self, node):
        left = self.ev(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self.ev(comp)
            if isinstance(op, (ast.Is, ast.IsNot)) and (isinstance(left, Unknowable) or isinstance(right, Unknowable)):
                raise Unresolvable(f"`{ast.unparse(node)}` is known only at run time")
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, Mapping):
                ok = (left in right) if isinstance(op, ast.In) else (left not in right)
            else:
                ok = COMPARE[type(op)](left, right)
            if not ok:
                return False
            left = right
        return True

    def ev_GeneratorExp(self, node):
        return self._comprehension(node)  # (a list: `all(...)`/`any(...)` read it as a generator would)

    def ev_ListComp(self, node):
        return self._comprehension(node)

    def ev_SetComp(self, node):
        return set(self._comprehension(node))

    def _comprehension(self, node) -> list:
        """YOLOv5's `all(x not in k for x in exclude)`: generators over known collections, each
        name bound in a scope of its own; an unknown collection or test stays Unresolvable."""
        out: list = []

        def run(i: int, env: dict) -> None:
            if i == len(node.generators):
                out.append(Evaluator(env).ev(node.elt))
                return
            gen = node.generators[i]
            seq = Evaluator(env).ev(gen.iter)
            if gen.is_async or not isinstance(seq, (list, tuple, set, frozenset, str, range, Mapping)) or \
                    len(seq) > MAX_GENERATED:
                raise Unresolvable(f"`{ast.unparse(gen.iter)}`")
            for item in seq:
                scope = dict(env)
                _bind_target(gen.target, item, scope)
                if all(Evaluator(scope).ev(test) for test in gen.ifs):
                    run(i + 1, scope)

        run(0, self.env)
        return out

    def ev_IfExp(self, node):
        return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)

    def ev_Subscript(self, node):
        base = self.ev(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.ev(p) for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            return base[slice(*parts)]
        key = self.ev(node.slice)
        try:
            return wrap(base[key])
        except (KeyError, IndexError) as exc:
            if isinstance(base, (dict, list, tuple, str)):  # (a proxy's own limits are no run-time error)
                raise Raises(f"`{ast.unparse(node)}` would raise {type(exc).__name__}", type(exc)) from None
            raise Unresolvable(f"`{ast.unparse(node)}` would raise {type(exc).__name__}") from None
        except TypeError as exc:
            raise Unresolvable(f"`{ast.unparse(node)}` would raise {type(exc).__name__}") from None

    def ev_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == "torch" and "torch" not in self.env:
            return Dtype(node.attr)  # torch.float32 etc.
        base = self.ev(node.value)
        if isinstance(base, TensorProxy) and node.attr in ("shape", "ndim", "dtype"):
            return getattr(base, node.attr)
        if isinstance(base, ConfigNamespace) and node.attr in base.attrs:
            return base.attrs[node.attr]  # an Unknowable stays one: any question about it is unresolved
        if isinstance(base, ModuleProxy):
            return base.attr(node.attr)
        if isinstance(base, ClassName) and node.attr == "__name__":
            return base.__name__
        raise Unresolvable(f"`{ast.unparse(node)}`")

    def ev_Call(self, node):
        if node.keywords and not all(k.arg for k in node.keywords):
            raise Unresolvable("**kwargs")
        args = [self.ev(a) for a in node.args]
        kwargs = {k.arg: self.ev(k.value) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id == "re" and func.attr in RE_FUNCS:
                return getattr(re, func.attr)(*args, **kwargs)
            return self._method(node, self.ev(func.value), func.attr, args, kwargs)
        if isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2:
            return _isinstance(args[0], ast.unparse(node.args[1]))
        if isinstance(func, ast.Name) and func.id == "getattr" and "getattr" not in self.env and \
                len(args) == 2 and isinstance(args[0], ModuleProxy) and isinstance(args[1], str) and not kwargs:
            return args[0].attr(args[1])  # `getattr(module, key)` down a key's parts
        fn = self.ev(func)
        if fn in BUILTINS.values():
            return fn(*args, **kwargs)
        raise Unresolvable(f"`{ast.unparse(node)}`")

    @staticmethod
    def _method(node: ast.Call, owner: Any, attr: str, args: list, kwargs: dict) -> Any:
        """`owner.attr(*args)` for the pure methods of strings, tensors' shapes, dicts and matches."""
        if isinstance(owner, str) and attr in STR_METHODS:
            return getattr(owner, attr)(*args, **kwargs)
        if isinstance(owner, TensorProxy) and attr in ("size", "dim", "numel"):
            return getattr(owner, attr)(*args)
        if isinstance(owner, TensorProxy) and attr in TENSOR_NOOP_METHODS:
            return owner
        if isinstance(owner, TensorProxy) and attr in ("is_floating_point", "is_complex") and not args:
            kind = "float" if attr == "is_floating_point" else "complex"
            return owner.info.dtype.startswith(kind) or kind == "float" and owner.info.dtype == "bfloat16"
        if isinstance(owner, Mapping) and attr == "get":
            return wrap(owner.get(*args))
        if isinstance(owner, Mapping) and attr in ("keys", "values", "items"):
            return getattr(owner, attr)()
        if isinstance(owner, re.Match) and attr in ("group", "groups", "start", "end"):
            return getattr(owner, attr)(*args)
        raise Unresolvable(f"`{ast.unparse(node)}`")


MAX_GENERATED = 10_000


def _bind_target(target: ast.expr, item: Any, scope: dict) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = wrap(item)
    elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts) and \
            isinstance(item, (tuple, list)) and len(item) == len(target.elts):
        for e, v in zip(target.elts, item):
            scope[e.id] = wrap(v)
    else:
        raise Unresolvable(f"`{ast.unparse(target)}`")


def _isinstance(value: Any, target: str) -> bool:
    if isinstance(value, Unknowable):
        raise Unresolvable(value.reason)
    if target in ("torch.Tensor", "Tensor", "torch.nn.Parameter", "nn.Parameter"):
        return isinstance(value, TensorProxy)
    if target in ("dict", "Mapping", "collections.abc.Mapping", "OrderedDict", "collections.OrderedDict"):
        return isinstance(value, Mapping)
    raise Unresolvable("isinstance")


def items_target(gen: ast.comprehension) -> tuple[str, str | None]:
    t = gen.target
    if isinstance(t, ast.Tuple) and len(t.elts) == 2 and all(isinstance(e, ast.Name) for e in t.elts):
        return t.elts[0].id, t.elts[1].id
    raise Unresolvable("the loop target is not `k, v`")


def run_comprehension(node: ast.DictComp, source: Mapping, env: dict[str, Any], keys: list | None = None) -> dict:
    """Evaluate `{K: V for k, v in source.items() if C}` over the real keys, or with `keys`
    `{K: V for k in keys if C}` (the values read through `env`)."""
    gen = node.generators[0]
    kname, vname = items_target(gen) if keys is None else (gen.target.id, None)
    out: dict = {}
    scope = dict(env)
    ev = Evaluator(scope)
    for key, value in list(source.items()) if keys is None else [(k, None) for k in keys]:
        scope[kname] = key
        if vname is not None:
            scope[vname] = wrap(value)
        try:
            if all(ev.ev(c) for c in gen.ifs):
                out[ev.ev(node.key)] = unwrap(ev.ev(node.value))
        except Unresolvable:
            raise
        except Exception as exc:  # the user's expression would raise at run time
            raise Unresolvable(f"`{ast.unparse(node)}` raises {type(exc).__name__} for key {key!r}") from None
    return out
