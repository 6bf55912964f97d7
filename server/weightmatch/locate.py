"""From a state_dict module path ("encoder.layers.0.fc") to the source line that defines
that layer: `self.fc = nn.Linear(...)` in the right class, an element of a literal
`nn.Sequential(...)`, a mutation `model.fc = ...`, or the model's constructor call.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable

from weightmatch.pyfile import ClassInfo, PyFile
from weightmatch.types import ExpectedState, Span
from weightmatch.values import Const, ModelVal, SeqVal

WRAPPER_TYPES = ("DataParallel", "DistributedDataParallel", "OptimizedModule")
CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict",
              "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
              "torch.nn.modules.container.ModuleDict"}


@dataclass
class LayerSite:
    span: Span
    file: PyFile
    expr: ast.expr | None  # the expression that builds the layer (for size fixes)
    module_path: str  # the deepest module path this site defines
    # other places worth a look: the shared inner line of a reused block, when the squiggle went
    # to the line that made this instance differ
    related: tuple = ()


# finds a user class by name, as `pf` names it, or (with a module name) in that workspace module
# (a class the script reaches by `importlib`): returns (class, the file it is in) or None
ClassFinder = Callable[..., "tuple[ClassInfo, PyFile] | None"]


def locate(module_path: str, model: ModelVal, expected: ExpectedState, find_class: ClassFinder) -> LayerSite:
    pf = model.file
    best = LayerSite(pf.span(model.call), pf, model.call, "")
    parts = [p for p in module_path.split(".") if p] if module_path else []
    cls = _user_class(expected, "", pf, find_class)
    value: ast.expr | None = model.call
    value_file = pf
    value_subs = model.subs  # the Substitutions of the expression `value` is part of
    prefix = ""
    owner = None  # (class, attribute) of the container the last part found was assigned to
    enclosing: list = []  # (class, file, its path): the user classes the walk went through
    for part in parts:
        path = f"{prefix}.{part}" if prefix else part
        spec = expected.modules.get(prefix)
        found: tuple[ast.AST, ast.expr | None, PyFile] | None = None
        step = _last_step(model, path, expected)
        in_class = None
        if cls is not None:
            enclosing.append((cls[0], cls[1], prefix))
        by_method = _set_by_method(model, path, expected, find_class, step) if not prefix else None
        nested = _set_through(enclosing, path, expected) if step is None and by_method is None else None
        if by_method is not None:  # `model.reset_classifier(8)`: `self.head = nn.Linear(...)` in it
            found, value_subs = by_method, None
        elif nested is not None:  # `self.backbone.fc = nn.Linear(...)` in an enclosing class's __init__
            found, value_subs = nested, None
        elif step is not None:
            found = (step.node, getattr(step.node, "value", None), step.file or pf)
            value_subs = step.subs
        elif spec is not None and spec.type.rsplit(".", 1)[-1] in WRAPPER_TYPES:
            prefix = path
            cls = _user_class(expected, path, pf, find_class)
            continue
        elif cls is not None:
            found = _in_class(cls[0], part, cls[1], find_class, origin=getattr(expected.modules.get(path), "origin", None))
            in_class = (cls, part) if found is not None else None
            value_subs = None
        if found is None and value is not None:
            element = _container_element(value, part, value_file, value_subs)
            if isinstance(element, ModelVal):  # a module written in from a list (`*layers`): where it was made
                found = (element.call, element.call, element.file)
                value_subs = element.subs
            elif isinstance(element, ast.expr):
                found = (element, element, value_file)
        if found is None and owner is not None and part.isdigit():
            found = _appended(owner[0][0], owner[1], owner[0][1])  # `self.blocks.append(Block(...))`
        if found is None:
            # a layer deeper in a library module, replaced from an enclosing class (`self.backbone.
            # classifier[-1] = nn.Linear(...)` on torchvision's model): the deepest such path
            deeper = next(((p, hit) for p in (".".join(parts[:j]) for j in range(len(parts), len(path.split(".")), -1))
                           if (hit := _set_through(enclosing, p, expected)) is not None), None)
            if deeper is not None:
                (node, value, value_file), path = deeper[1], deeper[0]
                best = LayerSite(value_file.span(node), value_file, value, path)
            break
        owner = in_class
        node, value, value_file = found
        best = LayerSite(value_file.span(node), value_file, value, path)
        cls = _user_class(expected, path, value_file, find_class)
        prefix = path
    if best.module_path != module_path:
        return _from_below(module_path, best, expected, find_class, pf) or best
    return best


def _from_below(module_path: str, best: LayerSite, expected: ExpectedState, find_class: ClassFinder,
                pf: PyFile) -> LayerSite | None:
    """Where the walk from the model's constructor stopped short (YOLOv5's layers, made in
    `parse_model` from the names a YAML file gives): the layer's own line in the deepest
    workspace class on its path (`self.conv = nn.Conv2d(...)` of `Conv`)."""
    parts = module_path.split(".")
    for j in range(len(parts) - 1, len(best.module_path.split(".")) if best.module_path else 0, -1):
        owner = ".".join(parts[:j])
        cls = _user_class(expected, owner, pf, find_class)
        found = _in_class(cls[0], parts[j], cls[1], find_class) if cls is not None else None
        if found is not None:
            node, value, file = found
            return LayerSite(file.span(node), file, value, f"{owner}.{parts[j]}")
    return None


def param_site(module_path: str, param: str, model: ModelVal, expected: ExpectedState,
               find_class: ClassFinder) -> LayerSite | None:
    """A bare parameter of the user's module class (`self.relative_position_bias_table =
    nn.Parameter(...)`) on its own line, found in the class's `__init__` as the source walk finds
    layers (static inference knows it already: ModuleSpec.param_origins)."""
    spec = expected.modules.get(module_path)
    if spec is None or param not in spec.params and param not in spec.buffers:
        return None
    cls = _user_class(expected, module_path, model.file, find_class)
    found = _in_class(cls[0], param, cls[1], find_class) if cls is not None else None
    if found is None:
        found = _registered_by_step(model, param)
    if found is None:
        return None
    node, value, pf = found
    return LayerSite(pf.span(node), pf, value, module_path)


def _registered_by_step(model: ModelVal, param: str):
    """The one line of the model's steps that registers a parameter by this name on a part of it
    (a LoRA injector's `module.register_parameter("lora_A", nn.Parameter(...))` in a loop over
    its modules, `setattr(m, "lora_A", ...)`, `m.lora_A = nn.Parameter(...)`); None when several
    or none do."""
    hits = []
    for step in model.steps:
        for node in ast.walk(step.node):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "register_parameter" and len(node.args) == 2 and \
                    isinstance(node.args[0], ast.Constant) and node.args[0].value == param:
                hits.append((node, node.args[1], step.file or model.file))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and \
                    len(node.args) == 3 and isinstance(node.args[1], ast.Constant) and node.args[1].value == param:
                hits.append((node, node.args[2], step.file or model.file))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Attribute) and node.targets[0].attr == param:
                hits.append((node, node.value, step.file or model.file))
    return hits[0] if len(hits) == 1 else None


def _last_step(model: ModelVal, path: str, expected: ExpectedState):
    wrappers = [w for w in model.wrappers if w]
    for step in reversed(model.steps):
        if not step.target:
            continue
        target = _counted_from_the_front(step.target, expected)
        if target == path or (wrappers and f"{wrappers[-1]}.{target}" == path):
            return step
    return None


def _set_by_method(model: ModelVal, attr: str, expected: ExpectedState, find_class: ClassFinder, after):
    """The assignment `self.<attr> = ...` in a method of the model's class that a step calls
    (`model.reset_classifier(num_classes)`), when no step that sets `attr` itself comes later."""
    cls = _user_class(expected, "", model.file, find_class)
    if cls is None:
        return None
    for step in reversed(model.steps):
        if step is after:
            return None
        call = step.node.value if isinstance(step.node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)):
            continue
        method = next((n for n in cls[0].node.body if isinstance(n, ast.FunctionDef) and n.name == call.func.attr), None)
        for node in ast.walk(method) if method is not None else ():
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name)
                    and t.value.id == "self" for t in node.targets):
                return node, node.value, cls[1]
    return None


def _set_through(enclosing: list, path: str, expected: ExpectedState):
    """The last `self.a.b = ...` / `self.a.b[i] = ...` in the `__init__` of a class the walk went
    through whose target is `path` below that class (a Kaggle head: `self.backbone.fc =
    nn.Linear(...)` replaces the builder's layer); None when there is none."""
    for info, pf, base in reversed(enclosing):
        rel = path[len(base) + 1:] if base else path
        if "." not in rel:
            continue  # (`self.x = ...` of the class itself: _in_class finds it)
        init = info.init()
        hits = [n for n in ast.walk(init) if isinstance(n, ast.Assign) and len(n.targets) == 1
                and _self_path(n.targets[0], expected, base) == rel] if init is not None else []
        if hits:
            last = max(hits, key=lambda n: (n.lineno, n.col_offset))
            return last, last.value, pf
    return None


def _self_path(target: ast.expr, expected: ExpectedState, base: str) -> str | None:
    """`self.backbone.classifier[-1]` as the state dict names it below `base`
    ("backbone.classifier.3"); None for a target not reached from `self` by names and numbers."""
    parts: list[str] = []
    node = target
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        elif isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, (int, str)):
            parts.append(str(node.slice.value))
        elif isinstance(node.slice, ast.UnaryOp) and isinstance(node.slice.op, ast.USub) and \
                isinstance(node.slice.operand, ast.Constant) and isinstance(node.slice.operand.value, int):
            parts.append(f"-{node.slice.operand.value}")
        else:
            return None
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "self") or len(parts) < 2:
        return None
    rel = ".".join(reversed(parts))
    if "-" not in rel:
        return rel
    full = _counted_from_the_front(f"{base}.{rel}" if base else rel, expected)
    return full[len(base) + 1:] if base else full


def _counted_from_the_front(target: str, expected: ExpectedState) -> str:
    """`classifier.-1` (a step `model.classifier[-1] = ...`) as the state dict names it: `classifier.6`."""
    if "-" not in target:
        return target
    parts: list[str] = []
    for part in target.split("."):
        if part.startswith("-") and part[1:].isdigit():
            spec = expected.modules.get(".".join(parts))
            children = spec.children if spec is not None else []
            if int(part) < -len(children):
                return target
            part = children[int(part)]
        parts.append(part)
    return ".".join(parts)


def _user_class(expected: ExpectedState, path: str, pf: PyFile, find_class: ClassFinder):
    spec = expected.modules.get(path)
    if spec is None or spec.type.startswith(("torch.", "torchvision.", "timm.", "transformers.")):
        return None
    module, _, name = spec.type.rpartition(".")
    return find_class(name, pf) or (find_class(name, pf, module) if module else None)


def _appended(cls: ClassInfo, attr: str, pf: PyFile):
    """The one `self.<attr>.append(X)` of a container filled in `__init__` (in a loop): X."""
    init = cls.init()
    calls = [n for n in ast.walk(init) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "append" and len(n.args) == 1 and isinstance(n.func.value, ast.Attribute)
             and n.func.value.attr == attr and isinstance(n.func.value.value, ast.Name)
             and n.func.value.value.id == "self"] if init is not None else []
    if len(calls) != 1:
        return None
    return _made_as_local(init, calls[0].args[0], calls[0], pf) or (calls[0].args[0], calls[0].args[0], pf)


def _in_class(cls: ClassInfo, attr: str, pf: PyFile, find_class: ClassFinder, depth: int = 0, origin=None):
    """Where `__init__` (or a base class's) sets `self.<attr>`. When it does on several branches
    (`if isinstance(n, list): self.prototypes = MultiPrototypes(...) elif n > 0: self.prototypes =
    nn.Linear(...)`), the one holding the call static inference saw make it (`origin`), else the first."""
    init = cls.init()
    if init is not None:
        placeholder = None  # `self.head = None` before the real layer
        candidates = []
        registering = _registering_aliases(init)
        for node in sorted((n for n in ast.walk(init) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.Call))),
                           key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) \
                            and t.value.id == "self":
                        if isinstance(node.value, ast.Constant) and node.value.value is None:
                            placeholder = placeholder or node
                            continue
                        candidates.append((node, node.value, pf))
            if isinstance(node, ast.Call) and _registers(node, registering) and len(node.args) == 2 and \
                    isinstance(node.args[0], ast.Constant) and node.args[0].value == attr:
                candidates.append((node, node.args[1], pf))
        if candidates:
            node, value, _ = next((c for c in candidates if _holds_origin(c[1], pf, origin)), candidates[0])
            tensor = isinstance(node, ast.Call) and not (isinstance(node.func, ast.Attribute) and node.func.attr in (
                "add_module", "register_module"))  # (a buffer's or parameter's own line is where it is set)
            return (None if tensor else _made_as_local(init, value, node, pf, origin)) or (node, value, pf)
        if placeholder is not None:
            return placeholder, placeholder.value, pf
    if depth < 5:
        for base in cls.bases:
            found = find_class(base.rsplit(".", 1)[-1], pf) if not base.startswith("torch.") else None
            if found is not None:
                hit = _in_class(found[0], attr, found[1], find_class, depth + 1, origin)
                if hit is not None:
                    return hit
    return None


# calls that give back the module they are given (its keys renamed, not its sizes)
_SAME_MODULE = {"weight_norm", "spectral_norm", "remove_weight_norm", "remove_spectral_norm"}


def _gives_back(call: ast.Call, pf: PyFile) -> bool:
    """`torch.nn.utils.weight_norm(m)` and the like: the module it is given, keys renamed."""
    return (pf.dotted(call.func) or "").rsplit(".", 1)[-1] in _SAME_MODULE


def _made_as_local(init: ast.AST, value: ast.expr | None, at: ast.AST, pf: PyFile, origin=None):
    """`start = Conv1d(...); start = weight_norm(start); self.start = start` (WaveGlow): the layer
    a local name holds, back through calls that wrap it, at the call that made it; None when
    `value` is no such name or it was made otherwise. Of names bound on several branches (`if
    transposed: conv = ConvTranspose2d(...) else: conv = Conv2d(...)`), the one holding the call
    static inference saw make it (`origin`), else the last before."""
    if isinstance(value, ast.Call) and _gives_back(value, pf) and value.args:
        value = value.args[0]  # `self.cond_layer = weight_norm(cond_layer)`: the module it was given
    if not isinstance(value, ast.Name):
        return None
    name, before = value.id, at.lineno
    bound = sorted((n for n in ast.walk(init) if isinstance(n, ast.Assign) and len(n.targets) == 1
                    and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name and n.lineno < before),
                   key=lambda n: n.lineno, reverse=True)
    made = [stmt for stmt in bound if _holds_origin(stmt.value, pf, origin)]
    for stmt in made[:1] or bound:
        wraps = isinstance(stmt.value, ast.Call) and _gives_back(stmt.value, pf) and stmt.value.args and \
            isinstance(stmt.value.args[0], ast.Name) and stmt.value.args[0].id == name
        if not wraps:
            return (stmt, stmt.value, pf) if isinstance(stmt.value, ast.Call) else None
    return None


_REGISTERS = ("add_module", "register_module", "register_buffer", "register_parameter")


def _registers(call: ast.Call, aliases: set[str]) -> bool:
    """`self.add_module("x", ...)`, `self.register_buffer("x", ...)`, or a local alias of one
    (lucidrains' `register_buffer = lambda name, val: self.register_buffer(name, val.to(...))`)."""
    return isinstance(call.func, ast.Attribute) and call.func.attr in _REGISTERS or \
        isinstance(call.func, ast.Name) and call.func.id in aliases


def _registering_aliases(init: ast.AST) -> set[str]:
    return {n.targets[0].id for n in ast.walk(init)
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, ast.Lambda) and isinstance(n.value.body, ast.Call)
            and isinstance(n.value.body.func, ast.Attribute) and n.value.body.func.attr in _REGISTERS}


def _holds_origin(value: ast.expr | None, pf: PyFile, origin) -> bool:
    """Whether `value` (in `pf`) spans the line of the call static inference saw make the layer."""
    if origin is None or value is None or origin[0] != pf.path:
        return False
    line = getattr(origin[1], "lineno", 0)
    return value.lineno <= line <= (value.end_lineno or value.lineno)


def _container_element(value: ast.expr, part: str, pf: PyFile, subs=None) -> ast.expr | ModelVal | None:
    """Element `part` of a literal nn.Sequential / ModuleList / ModuleDict expression; a ModelVal
    for an element of a list the recipe wrote in module by module (`Substitutions.inlined`)."""
    if not isinstance(value, ast.Call):
        return None
    name = pf.dotted(value.func) or ""
    if name not in CONTAINERS and not name.endswith(("Sequential", "ModuleList", "ModuleDict")):
        return None
    args = value.args
    inlined = subs.inlined if subs is not None else {}
    pairs = _inlined_pairs(args, pf, inlined)
    if pairs is not None:
        return next((p.items[1] for p in pairs if str(p.items[0].value) == part and isinstance(p.items[1], ModelVal)),
                    None)
    if inlined and part.isdigit():
        elements = _elements(args, inlined)
        if elements is not None:
            i = int(part)
            return elements[i] if i < len(elements) else None
    made = _generated_element(name, args, part)
    if made is not None:
        return made
    if name.endswith("ModuleDict") and len(args) == 1 and isinstance(args[0], ast.Call) and \
            pf.dotted(args[0].func) == "dict" and not args[0].args:
        # nanoGPT's `nn.ModuleDict(dict(wte=nn.Embedding(...), h=nn.ModuleList([...])))`
        return next((k.value for k in args[0].keywords if k.arg == part), None)
    if name.endswith(("ModuleList", "ModuleDict")) and len(args) == 1 and \
            not isinstance(args[0], (ast.List, ast.Tuple, ast.Dict)):
        return None  # built from a variable: not its elements as written
    if len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
        args = args[0].elts
    if len(args) == 1 and isinstance(args[0], ast.Dict):
        for k, v in zip(args[0].keys, args[0].values):
            if isinstance(k, ast.Constant) and str(k.value) == part:
                return v
        return None
    if len(args) == 1 and isinstance(args[0], ast.Call) and (pf.dotted(args[0].func) or "").endswith("OrderedDict") \
            and args[0].args and isinstance(args[0].args[0], (ast.List, ast.Tuple)):
        return _ordered_dict_element(args[0].args[0], part)
    return _positional_element(value, args, part)


def _positional_element(value: ast.Call, args: list[ast.expr], part: str) -> ast.expr | None:
    """Element `part` (an index) of a container's positional arguments, as far as they are written
    out (`nn.Sequential(*([nn.Linear(h, a)] + ([nn.Tanh()] if t else [])))`: the first)."""
    if not part.isdigit():
        return None
    i = int(part)
    known = _literal_prefix(args) if _has_starred(value, args) else args
    return known[i] if i < len(known) else None


def _literal_prefix(args: list[ast.expr]) -> list[ast.expr]:
    """The elements a call's arguments give in order, as far as they are written out: a `*[...]`
    and the literal lists at the front of a `*([...] + ...)` count; what follows an element
    whose length is not written stops it."""
    out: list[ast.expr] = []
    for a in args:
        if not isinstance(a, ast.Starred):
            out.append(a)
            continue
        parts, whole = [a.value], True
        while parts and whole:
            x = parts.pop(0)
            if isinstance(x, ast.BinOp) and isinstance(x.op, ast.Add):
                parts[:0] = [x.left, x.right]
            elif isinstance(x, (ast.List, ast.Tuple)) and not any(isinstance(e, ast.Starred) for e in x.elts):
                out.extend(x.elts)
            else:
                whole = False
        if not whole:
            break
    return out


def _ordered_dict_element(pairs: ast.List | ast.Tuple, part: str) -> ast.expr | None:
    """`OrderedDict([("fc", nn.Linear(4, 8)), ...])`: the module written beside the name `part`."""
    for item in pairs.elts:
        if isinstance(item, ast.Tuple) and len(item.elts) == 2 and isinstance(item.elts[0], ast.Constant) \
                and str(item.elts[0].value) == part:
            return item.elts[1]
    return None


def _generated_element(name: str, args: list, part: str) -> ast.expr | None:
    """`nn.ModuleList(Block(dim) for _ in range(depth))`: every element is made by the element expression."""
    if len(args) == 1 and isinstance(args[0], (ast.GeneratorExp, ast.ListComp)) and part.isdigit() and \
            name.endswith(("ModuleList", "Sequential")) and len(args[0].generators) == 1:
        return args[0].elt
    return None


def _inlined_pairs(args: list, pf: PyFile, inlined: dict) -> list[SeqVal] | None:
    """`nn.Sequential(OrderedDict(layers))` of a list of (name, module) pairs filled in a loop:
    the pairs with a known name; None when the container is not made so."""
    if not (inlined and len(args) == 1 and isinstance(args[0], ast.Call) and len(args[0].args) == 1 and
            (pf.dotted(args[0].func) or "").endswith("OrderedDict") and isinstance(args[0].args[0], ast.Name)):
        return None
    return [p for p in inlined.get(_span(args[0].args[0]), [])
            if isinstance(p, SeqVal) and len(p.items) == 2 and isinstance(p.items[0], Const)]


def _span(n: ast.AST) -> tuple[int, int, int, int]:
    return n.lineno, n.col_offset, n.end_lineno, n.end_col_offset  # type: ignore[attr-defined]


def _elements(args: list, inlined: dict) -> list | None:
    """A container's elements when a list written in module by module is among them
    (`nn.Sequential(*layers, head)`, `nn.ModuleList(layers)`); None when none is."""
    span = _span
    if len(args) == 1 and isinstance(args[0], ast.Name) and span(args[0]) in inlined:
        return inlined[span(args[0])]
    out: list = []
    seen = False
    for a in args:
        if isinstance(a, ast.Starred) and span(a.value) in inlined:
            out.extend(inlined[span(a.value)])
            seen = True
        elif isinstance(a, ast.Starred):
            return None
        else:
            out.append(a)
    return out if seen else None


def _has_starred(call: ast.Call, args: list) -> bool:
    """Whether a container's elements hold a `*x`; remembered on the call node, since every
    layer of an nn.Sequential asks (10,000 layers asked 10,000 times over)."""
    cached = getattr(call, "_wm_has_starred", None)
    if cached is None:
        cached = any(isinstance(a, ast.Starred) for a in args)
        call._wm_has_starred = cached  # type: ignore[attr-defined]
    return cached
