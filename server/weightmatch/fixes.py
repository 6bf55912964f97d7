"""Quick fixes as plain text edits. A fix is only returned after the engine has replayed
its effect on the real key lists and shapes and found that the load then succeeds
(the tests go further and run every fix kind with real PyTorch).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from weightmatch.compare import compare
from weightmatch.findings import loaded_twins
from weightmatch.materialize import state_dict_of
from weightmatch.types import ExpectedState, Finding, Fix, Span, StateDict, TensorInfo, TextEdit
from weightmatch.values import LoadSite


def fixes_for(finding: Finding, facts, site: LoadSite) -> list[Fix]:
    """The fixes for a finding: each one's edits merged where they touch the same text, and the
    file re-parsed with them applied (a fix that would break the script is not offered).

    They depend on the load and the finding's code, not on which layer the finding is about, so
    the findings of one load share them: computed once per code (an nn.Sequential of 10,000
    mismatched layers has 10,000 findings; computing the load-wide fixes for each was quadratic)."""
    cache = facts.__dict__.setdefault("_fixes_by_code", {})
    key = (finding.code, id(site))
    if key not in cache:
        files = facts.__dict__.setdefault("_files", {site.file.path: site.file})
        for k in finding.keys:
            layer = facts.layer_of(k.rsplit(".", 1)[0] if "." in k else "")
            files.setdefault(layer.file.path, layer.file)
        out: list[Fix] = []
        for fix in _candidates(finding, facts, site):
            edits = merge_edits(fix.edits)
            if edits is not None and all(_parses_after(files.get(path), edits, path)
                                         for path in {e.span.path for e in edits}):
                fix.edits = edits
                out.append(fix)
        cache[key] = out
    return list(cache[key])


def merge_edits(edits: list[TextEdit]) -> list[TextEdit] | None:
    """One edit per piece of text: identical edits become one; edits that overlap and differ
    (two values for the same argument) cannot both apply, so there is no fix (None)."""
    unique = list(dict.fromkeys(edits))  # (TextEdit is frozen: hashable; a list scan was quadratic)
    spans = sorted(unique, key=lambda e: (e.span.path, e.span.line, e.span.column, e.span.end_line, e.span.end_column))
    for a, b in zip(spans, spans[1:]):
        if a.span.path != b.span.path:
            continue
        a_end, b_start = (a.span.end_line, a.span.end_column), (b.span.line, b.span.column)
        if b_start < a_end or (a.span == b.span):  # overlapping, or two insertions at one point
            return None
    return unique


def _parses_after(pf, edits: list[TextEdit], path: str) -> bool:
    """Whether the file still compiles (as far as it did before) once the edits are applied."""
    from weightmatch.textedit import apply_edits

    if pf is None:
        return False
    mine = [e for e in edits if e.span.path == path]
    text = pf.text if pf.parsed_until is None and pf.syntax_error is None else pf.parsed_text
    last = len(text.splitlines())
    if any(e.span.end_line > last for e in mine):
        return False
    try:
        compile(apply_edits(text, mine), path, "exec", dont_inherit=True)  # compiled, never run
    except (SyntaxError, ValueError):
        return False
    return True


def _candidates(finding: Finding, facts, site: LoadSite) -> list[Fix]:
    out: list[Fix] = []
    code = finding.code
    if site.arg_node is None:
        return out
    if site.api:  # `load_model(model, path)`: its argument is a file name; only `strict` can change
        return _strict_false(facts, site) if code in ("missing-keys", "unexpected-keys") else out
    if code in ("missing-keys", "unexpected-keys"):
        out += _strict_false(facts, site)
        out += _rename_keys(facts, site)
    elif code == "size-mismatch":
        out += _rename_keys(facts, site)
        out += _checkpoint_sizes(facts, site)
        out += _filter_shapes(facts, site)
    elif code == "prefix-mismatch":
        out += _prefix(facts, site)
    elif code == "not-a-state-dict":
        out += _nested(facts, site)
    return out


# ---------------------------------------------------------------- helpers
def _loads(expected: ExpectedState, saved: Any, strict: bool) -> bool:
    return compare(expected, saved, strict=strict).raises is False


def _span(pf, node: ast.AST) -> Span:
    return pf.span(node)


def _insert_at(pf, line: int, col: int) -> Span:
    return Span(pf.path, line, col, line, col)


def _arg_text(site: LoadSite) -> str:
    text = site.file.segment(site.arg_node)
    if not isinstance(site.arg_node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        text = f"({text})"
    return text


def _replace_arg(site: LoadSite, new_text: str) -> TextEdit:
    return TextEdit(_span(site.file, site.arg_node), new_text)


def _strict_kw_edit(site: LoadSite, value: str) -> TextEdit:
    call = site.call
    pf = site.file
    for kw in call.keywords:
        if kw.arg == "strict":
            return TextEdit(_span(pf, kw.value), value)
    # load_model(model, filename, strict); load_from_checkpoint(path, map_location, hparams_file, strict)
    position = {"": 1, "safetensors": 2, "lightning": 3}[site.api]
    if len(call.args) > position:
        return TextEdit(_span(pf, call.args[position]), value)
    last = max([*call.args, *(k.value for k in call.keywords)], key=lambda n: (n.end_lineno, n.end_col_offset))
    return TextEdit(_insert_at(pf, last.end_lineno - 1, last.end_col_offset), f", strict={value}")


def _statement_indent(site: LoadSite) -> tuple[int, str]:
    stmt = site.statement
    line = site.file.lines[stmt.lineno - 1]
    return stmt.lineno - 1, line[: len(line) - len(line.lstrip())]


def _fresh_name(site: LoadSite, base: str) -> str:
    used = {n.id for n in ast.walk(site.file.tree) if isinstance(n, ast.Name)}
    name, i = base, 1
    while name in used:
        i += 1
        name = f"{base}_{i}"
    return name


def _plain(mapping: Mapping) -> StateDict:
    out = StateDict(mapping)
    out.metadata = None
    return out


# ---------------------------------------------------------------- strict=False
def _strict_false(facts, site: LoadSite) -> list[Fix]:
    c = facts.comparison
    if facts.strict is False or c.mismatched or c.not_tensor or c.other_errors:
        return []
    if not _loads(facts.expected, facts.saved, strict=False):
        return []
    twins = loaded_twins(facts.expected, c, list(c.missing))
    n = len(c.missing) - len(twins)
    detail = f" ({n} layer tensor{' keeps its' if n == 1 else 's keep their'} initial value{'s' if n != 1 else ''})" \
        if n else " (the missing keys are tied to loaded ones)" if twins else ""
    return [Fix(f"Load with strict=False{detail}", "strict-false", [_strict_kw_edit(site, "False")])]


# ---------------------------------------------------------------- keep shape-compatible tensors
def _filter_shapes(facts, site: LoadSite) -> list[Fix]:
    c = facts.comparison
    if c.not_tensor or c.other_errors or c.unknown or not isinstance(facts.saved, Mapping):
        return []
    own = state_dict_of(facts.expected)
    kept = {k: v for k, v in facts.saved.items()
            if k in own and isinstance(v, TensorInfo) and v.shape == own[k].shape}
    merged = StateDict(own)
    merged.metadata = own.metadata
    merged.update(kept)
    if not _loads(facts.expected, merged, strict=facts.strict is not False):
        return []
    pf = site.file
    receiver = pf.segment(site.call.func.value)
    var = _fresh_name(site, "model_state")
    line, indent = _statement_indent(site)
    skipped = len(facts.saved) - len(kept)
    prelude = (f"{indent}{var} = {receiver}.state_dict()\n"
               f"{indent}{var}.update({{k: v for k, v in {_arg_text(site)}.items() "
               f"if k in {var} and v.shape == {var}[k].shape}})\n")
    return [Fix(f"Load only the tensors whose shapes match ({len(kept)} of {len(facts.saved)}; "
                f"{skipped} skipped keep their initial values)", "filter-shapes",
                [TextEdit(_insert_at(pf, line, 0), prelude), _replace_arg(site, var)])]


# ---------------------------------------------------------------- prefixes
def _prefix_expr(arg: str, strip: str, add: str) -> str:
    key = f'k.removeprefix({json.dumps(strip)})' if strip else "k"
    if add:
        key = f"{json.dumps(add)} + {key}"
    return f"{{{key}: v for k, v in {arg}.items()}}"


def _apply_prefix(mapping: Mapping, strip: str, add: str) -> StateDict:
    out = StateDict()
    for k, v in mapping.items():
        nk = k[len(strip):] if strip and isinstance(k, str) and k.startswith(strip) else k
        out[add + nk if add else nk] = v
    return out


def _prefix(facts, site: LoadSite) -> list[Fix]:
    p = facts.prefix
    strip, add = getattr(p, "strip", "") or "", getattr(p, "add", "") or ""
    candidate = _apply_prefix(facts.saved, strip, add)
    if not _loads(facts.expected, candidate, strict=facts.strict is not False):
        return []
    what = f"Strip the '{strip}' prefix" if strip and not add else f"Add the '{add}' prefix" if add and not strip \
        else f"Replace the '{strip}' prefix with '{add}'"
    return [Fix(f"{what} from the checkpoint's keys" if strip and not add else f"{what} to the checkpoint's keys",
                "strip-prefix" if strip and not add else "add-prefix",
                [_replace_arg(site, _prefix_expr(_arg_text(site), strip, add))], preferred=True)]


# ---------------------------------------------------------------- nested training checkpoints
def _nested(facts, site: LoadSite) -> list[Fix]:
    from weightmatch import diagnose

    inner: Any = facts.saved
    for k in facts.nested or ():
        inner = inner[k]
    sub = "".join(f"[{json.dumps(k)}]" for k in facts.nested or ())
    strict = facts.strict is not False
    arg = _arg_text(site)
    if _loads(facts.expected, inner, strict):
        return [Fix(f"Load the state dict stored under {sub}", "select-nested",
                    [_replace_arg(site, f"{arg}{sub}")], preferred=True)]
    p = diagnose.detect_prefix(list(facts.expected.keys()), [k for k in inner if isinstance(k, str)])
    if p is not None:
        strip, add = getattr(p, "strip", "") or "", getattr(p, "add", "") or ""
        if _loads(facts.expected, _apply_prefix(inner, strip, add), strict):
            return [Fix(f"Load the state dict stored under {sub}, without its '{strip or add}' prefix",
                        "select-nested", [_replace_arg(site, _prefix_expr(f"{arg}{sub}", strip, add))],
                        preferred=True)]
    return []


# ---------------------------------------------------------------- renames
def _rename_keys(facts, site: LoadSite) -> list[Fix]:
    pairs: dict[str, str] = {}
    for r in facts.renames or []:
        pairs.update(dict(r.keys))
    if not pairs or not isinstance(facts.saved, Mapping):
        return []
    candidate = StateDict((pairs.get(k, k), v) for k, v in facts.saved.items())
    if not _loads(facts.expected, candidate, strict=facts.strict is not False):
        return []
    var = _fresh_name(site, "renamed_keys")
    line, indent = _statement_indent(site)
    mapping = "{" + ", ".join(f"{json.dumps(a)}: {json.dumps(b)}" for a, b in pairs.items()) + "}"
    return [Fix(f"Rename {len(pairs)} checkpoint key{'s' if len(pairs) != 1 else ''} to the model's names",
                "rename-keys",
                [TextEdit(_insert_at(site.file, line, 0), f"{indent}{var} = {mapping}\n"),
                 _replace_arg(site, f"{{{var}.get(k, k): v for k, v in {_arg_text(site)}.items()}}")],
                preferred=True)]


# ---------------------------------------------------------------- checkpoint's layer sizes
# (constructor argument names in order, function: {param: shape} from those arguments)
def _conv_shapes(transposed: bool):
    def shapes(a: dict) -> dict:
        k = a["kernel_size"]
        groups = a.get("groups", 1)
        w = [a["in_channels"], a["out_channels"] // groups] if transposed else \
            [a["out_channels"], a["in_channels"] // groups]
        return {"weight": (*w, *k), "bias": (a["out_channels"],)}
    return shapes


LAYERS = {
    "Linear": (["in_features", "out_features"],
               lambda a: {"weight": (a["out_features"], a["in_features"]), "bias": (a["out_features"],)}),
    "Conv1d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(False)),
    "Conv2d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(False)),
    "Conv3d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(False)),
    "ConvTranspose1d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(True)),
    "ConvTranspose2d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(True)),
    "ConvTranspose3d": (["in_channels", "out_channels", "kernel_size"], _conv_shapes(True)),
    "Embedding": (["num_embeddings", "embedding_dim"],
                  lambda a: {"weight": (a["num_embeddings"], a["embedding_dim"])}),
    "BatchNorm1d": (["num_features"], lambda a: {n: (a["num_features"],) for n in
                                                 ("weight", "bias", "running_mean", "running_var")}),
    "BatchNorm2d": (["num_features"], lambda a: {n: (a["num_features"],) for n in
                                                 ("weight", "bias", "running_mean", "running_var")}),
    "BatchNorm3d": (["num_features"], lambda a: {n: (a["num_features"],) for n in
                                                 ("weight", "bias", "running_mean", "running_var")}),
}
CONV_DIMS = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3, "ConvTranspose1d": 1, "ConvTranspose2d": 2, "ConvTranspose3d": 3}


def _solve(kind: str, saved: dict[str, tuple]) -> dict[str, int] | None:
    """The size arguments that give these parameter shapes."""
    w = saved.get("weight")
    if kind == "Linear" and w and len(w) == 2:
        return {"out_features": w[0], "in_features": w[1]}
    if kind == "Embedding" and w and len(w) == 2:
        return {"num_embeddings": w[0], "embedding_dim": w[1]}
    if kind.startswith("BatchNorm"):
        for v in saved.values():
            if v and len(v) == 1:
                return {"num_features": v[0]}
    return None


def _checkpoint_sizes(facts, site: LoadSite) -> list[Fix]:
    c = facts.comparison
    if c.not_tensor or c.other_errors or not c.mismatched:
        return []
    by_layer: dict[str, list] = {}
    for key, saved, model in c.mismatched:
        by_layer.setdefault(key.rsplit(".", 1)[0] if "." in key else "", []).append((key, saved, model))
    edits: list[TextEdit] = []
    changes: list[str] = []
    for module_path, items in by_layer.items():
        layer = _layer_size_edits(facts, module_path, items)
        if layer is None:
            return []
        edits.extend(layer[0])
        changes.append(layer[1])
    if not edits:
        return []
    # every mismatched layer now has the checkpoint's shapes (checked layer by layer)
    changes = list(dict.fromkeys(changes))  # one change per argument, however many layers it sizes
    # the title names a few layers, not all (10,000 layers made every finding's fix title 170 KB)
    shown = ", ".join(changes[:_TITLE_LAYERS]) + (f" and {len(changes) - _TITLE_LAYERS} more layers"
                                                   if len(changes) > _TITLE_LAYERS else "")
    title = "Use the checkpoint's size" + ("s" if len(changes) > 1 else "") + ": " + shown
    return [Fix(title, "use-checkpoint-size", edits)]


_TITLE_LAYERS = 4


def _saved_by_module(facts) -> dict[str, dict[str, tuple]]:
    """The checkpoint's tensor shapes by module path, grouped once per load, not once per layer."""
    grouped = facts.__dict__.get("_saved_by_module")
    if grouped is None:
        grouped = {}
        for k, v in facts.saved.items():
            if isinstance(k, str) and isinstance(v, TensorInfo) and v.shape is not None:
                module, _, leaf = k.rpartition(".")
                grouped.setdefault(module, {})[leaf] = tuple(v.shape)
        facts.__dict__["_saved_by_module"] = grouped
    return grouped


def _layer_size_edits(facts, module_path: str, items: list) -> tuple[list[TextEdit], str] | None:
    """The edits that give one layer the checkpoint's shapes, and what they change; None: not possible."""
    site_ = facts.layer_of(module_path)
    if site_.module_path != module_path and not _is_head_builder(site_, facts, module_path):
        return None
    expr = site_.expr
    if not isinstance(expr, ast.Call):
        return None
    pf = site_.file
    if site_.module_path != module_path:
        edit = _num_classes_edit(expr, pf, items)
        return None if edit is None else ([edit[0]], edit[1])
    kind = (pf.dotted(expr.func) or "").rsplit(".", 1)[-1]
    spec = facts.expected.modules.get(module_path)
    if kind not in LAYERS or spec is None:
        return None
    names, shapes_of = LAYERS[kind]
    saved_shapes = _saved_by_module(facts).get(module_path, {})
    current = {**{n: tuple(i.shape or ()) for n, i in spec.params.items()},
               **{n: tuple(i.shape or ()) for n, i in spec.buffers.items() if n != "num_batches_tracked"}}
    solved = _solve(kind, saved_shapes) if kind not in CONV_DIMS else _solve_conv(kind, saved_shapes, expr, pf)
    args = _current_args(expr, names) if solved else None
    if not solved or args is None:
        return None
    predicted = shapes_of(_normalise(kind, {**args, **solved}, expr, pf))
    if any(name in predicted and predicted[name] != saved_shapes.get(name, shape) for name, shape in current.items()):
        return None
    layer_edits = []
    for name, value in solved.items():
        node = _arg_node(expr, names, name)
        if node is None or args.get(name) == value:
            continue
        layer_edits.append(TextEdit(pf.span(node), str(value)))
    return layer_edits, _after(pf, expr, layer_edits) or module_path


def _after(pf, expr: ast.expr, edits: list[TextEdit]) -> str | None:
    """`nn.Linear(10, 20)`: the layer's call as the edits leave it (one-line calls), for the title."""
    span = pf.span(expr)
    if span.line != span.end_line or any(e.span.line != span.line for e in edits):
        return None
    text = pf.lines[span.line][span.column:span.end_column]
    for e in sorted(edits, key=lambda e: e.span.column, reverse=True):
        start, end = e.span.column - span.column, e.span.end_column - span.column
        text = text[:start] + e.new_text + text[end:]
    return text if len(text) <= 60 else None


def _solve_conv(kind: str, saved: dict, expr: ast.Call, pf) -> dict | None:
    w = saved.get("weight")
    if not w or len(w) != 2 + CONV_DIMS[kind]:
        return None
    groups = _literal(_kw(expr, "groups")) or 1
    if kind.startswith("ConvTranspose"):
        return {"in_channels": w[0], "out_channels": w[1] * groups}
    return {"out_channels": w[0], "in_channels": w[1] * groups}


def _normalise(kind: str, args: dict, expr: ast.Call, pf) -> dict:
    if kind in CONV_DIMS:
        k = args.get("kernel_size")
        dims = CONV_DIMS[kind]
        args = dict(args)
        args["kernel_size"] = tuple(k) if isinstance(k, (tuple, list)) else (k,) * dims
        args["groups"] = _literal(_kw(expr, "groups")) or 1
    return args


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _literal(node) -> Any:
    """The value of a size argument written as a constant or constant arithmetic (`32 * 32 * 32`)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        parts = [_literal(e) for e in node.elts]
        return tuple(parts) if all(isinstance(p, int) for p in parts) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _literal(node.operand)
        return -v if isinstance(v, int) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)):
        a, b = _literal(node.left), _literal(node.right)
        if isinstance(a, int) and isinstance(b, int) and abs(a) < 2**40 and abs(b) < 2**40:
            if isinstance(node.op, ast.FloorDiv):
                return a // b if b else None
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
    return None


def _arg_node(expr: ast.Call, names: list[str], name: str):
    i = names.index(name)
    if i < len(expr.args):
        return expr.args[i]
    return _kw(expr, name)


def _current_args(expr: ast.Call, names: list[str]) -> dict | None:
    if any(isinstance(a, ast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
        return None
    out = {}
    for name in names:
        node = _arg_node(expr, names, name)
        if node is None:
            return None
        value = _literal(node)
        if value is None:
            return None
        out[name] = value
    return out


def _is_head_builder(site_, facts, module_path: str) -> bool:
    return isinstance(site_.expr, ast.Call) and _kw(site_.expr, "num_classes") is not None


def _num_classes_edit(expr: ast.Call, pf, items) -> tuple[TextEdit, str] | None:
    """`models.resnet18(num_classes=2)` with a 1000-class head in the checkpoint -> num_classes=1000."""
    node = _kw(expr, "num_classes")
    current = _literal(node)
    if not isinstance(current, int):
        return None
    targets = set()
    for _key, saved, model in items:
        if not saved.shape or not model.shape or model.shape[0] != current or saved.shape[1:] != model.shape[1:]:
            return None
        targets.add(saved.shape[0])
    if len(targets) != 1:
        return None
    (n,) = targets
    return TextEdit(pf.span(node), str(n)), f"num_classes={n}"
