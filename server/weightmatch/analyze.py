"""Analyses one Python file: every load_state_dict call it makes, end to end.

source text -> interpret (load sites) -> resolve the model (models.py) and the state
dict (materialize.py) -> compare (PyTorch's rules) -> findings, reports and fixes.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Callable

from weightmatch import diagnose, safetensors_load
from weightmatch.checkpoint import CheckpointCache, CheckpointError
from weightmatch.compare import compare
from weightmatch.findings import SiteFacts, build_findings
from weightmatch.fixes import fixes_for
from weightmatch.interpret import interpret
from weightmatch.keyexpr import Unresolvable
from weightmatch.locate import LayerSite, locate, param_site
from weightmatch.materialize import Problem, materialize
from weightmatch.models import ModelBuilder, ModelUnresolved
from weightmatch.per_call import per_call
from weightmatch.pyfile import ClassInfo, PyFile, parse
from weightmatch.static.sources import find_module
from weightmatch.types import Checkpoint, Finding, LoadReport, Span, TensorInfo
from weightmatch.values import (
    At, Const, LoadedFile, LoadSite, ModelAttr, ModelVal, SourceVal, Unknown, loaded_files,
)

Log = Callable[[str, str], None]


@dataclass
class FileAnalysis:
    path: str
    reports: list[LoadReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dependencies: set[str] = field(default_factory=set)


class _CheckpointFailure(Exception):
    """torch.load itself fails here: reported at the torch.load call, not at the load. Its
    text says why in the user's words, for values read from the checkpoint."""


def _why_unread(exc: CheckpointError, path: str, root: str) -> str:
    shown = os.path.relpath(path, root) if path.startswith(root.rstrip(os.sep) + os.sep) else path
    if exc.code == "checkpoint-not-found":
        return f"the checkpoint {shown} is not there"
    return f"the checkpoint {shown} cannot be read"


class FileAnalyzer:
    def __init__(self, root: str, search_paths: list[str], checkpoints: CheckpointCache, builder: ModelBuilder,
                 read_text: Callable[[str], str | None], log: Log, run_config=None, writer_of=None):
        self.root = root
        self.writer_of = writer_of  # a checkpoint's file name -> "train.py:88" where a torch.save writes it
        self.run_config = run_config  # script path -> RunConfig | None: how the user runs it
        self._local = threading.local()
        self._module_envs: dict = {}  # imported modules' top levels, walked once (calls.module_env)
        self.search_paths = search_paths
        self.checkpoints = checkpoints
        self.builder = builder
        self.read_text = read_text
        self.log = log
        self._parsed: dict[str, tuple[str, PyFile]] = {}

    # ------------------------------------------------------------------ files
    def parsed(self, path: str, text: str | None = None) -> PyFile | None:
        if text is None:
            text = self.read_text(path)
            if text is None:
                return None
        hit = self._parsed.get(path)
        if hit is not None and hit[0] == text:
            return hit[1]
        pf = parse(path, text)
        if len(self._parsed) > 2000:
            self._parsed.clear()
        self._parsed[path] = (text, pf)
        return pf

    def instance_site(self, site: LayerSite, module_path: str, expected, by_origin: dict,
                      mismatched: set[str]) -> LayerSite:
        """A layer made on a line that every instance of a reused block shares (`self.conv2d =
        nn.Conv2d(in_channels, ...)` in `ConvLayer`), when other instances made there load fine:
        the squiggle goes on the line that made this instance differ (`self.deconv3 = ConvLayer(32,
        3, ...)`), the nearest enclosing module made on a line of its own; the shared line is related."""
        spec = expected.modules.get(module_path)
        if spec is None or spec.origin is None or module_path not in mismatched:
            return site
        sharing = by_origin.get(_origin_key(spec.origin), [])
        if len(sharing) < 2 or all(p in mismatched for p in sharing):
            return site
        parts = module_path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            outer = expected.modules.get(".".join(parts[:cut]))
            if outer is None or outer.origin is None:
                continue
            if len(by_origin.get(_origin_key(outer.origin), [])) == 1:
                there = self.origin_site(outer.origin)
                if there is None or _inside(site.span, there.span):
                    # (an element written inside that one call, `zero_module(conv_nd(...))` in an
                    # `nn.Sequential(...)` made once: already this instance's own place)
                    return site
                return LayerSite(there.span, there.file, None, "", related=((site.span, "the layer, as every instance "
                                                                              "of this block makes it"),))
        return site

    def origin_site(self, origin) -> LayerSite | None:
        """The call static inference saw make a layer (no size fix: the line may serve many layers)."""
        path, node = origin
        pf = self.parsed(path)
        if pf is None or not hasattr(node, "lineno") or node.lineno > len(pf.lines):
            return None
        return LayerSite(pf.span(node), pf, None, "")

    def find_class(self, name: str, pf: PyFile, module: str | None = None) -> tuple[ClassInfo, PyFile] | None:
        if module is not None:  # `net.Net`, the model's type, made through `importlib`
            found = find_module(module, 0, pf.path, self.root)
            other = self.parsed(found[0]) if found is not None else None
            return (other.classes[name], other) if other is not None and name in other.classes else None
        if name in pf.classes:
            return pf.classes[name], pf
        origin = pf.imports.get(name)
        if origin is None:
            return None
        module = origin.rsplit(".", 1)[0]
        level = len(module) - len(module.lstrip("."))
        found = find_module(module.lstrip("."), level, pf.path, self.root)
        if found is not None:
            other = self.parsed(found[0])
            if other is not None and name in other.classes:
                return other.classes[name], other
        return None

    # ------------------------------------------------------------------ checkpoints
    def resolve_path(self, loaded: LoadedFile) -> str | None:
        if not isinstance(loaded.path, Const) or not isinstance(loaded.path.value, str) or not loaded.path.value.strip():
            return None  # `--weights ''` (the usual "not given"): no file is named
        p = os.path.expanduser(loaded.path.value)
        if os.path.isabs(p):
            return p
        here = os.path.dirname(loaded.file.path)
        candidates = [os.path.join(here, p), os.path.join(self.root, p)]
        cwd = getattr(self._local, "cwd", None)
        if cwd:
            candidates.insert(0, os.path.join(cwd, p))
        candidates += [os.path.join(sp if os.path.isabs(sp) else os.path.join(self.root, sp), p)
                       for sp in self.search_paths]
        for cand in candidates:
            if os.path.exists(cand):
                return os.path.normpath(cand)
        return os.path.normpath(candidates[0])

    def checkpoint(self, loaded: LoadedFile, deps: set[str]) -> Checkpoint:
        path = self.resolve_path(loaded)
        if path is None:
            raise Unresolvable(loaded.path.reason if isinstance(loaded.path, Unknown) else _no_path(loaded.path))
        deps.add(path)
        try:
            ckpt = self.checkpoints.get(path)
        except CheckpointError as exc:
            raise _CheckpointFailure(_why_unread(exc, path, self.root)) from None
        if self.load_fails(loaded, ckpt) is not None:
            raise _CheckpointFailure(f"loading {os.path.basename(path)} raises")
        return ckpt

    def load_fails(self, loaded: LoadedFile, ckpt: Checkpoint) -> tuple[str, str] | None:
        """Whether the loading call raises for this file; for a loop over an index's shards,
        whether it raises for one of them."""
        if not loaded.over_shards:
            return _load_fails(loaded, ckpt)
        if ckpt.format != "sharded":
            return ("wrong-loader", "{path} is not the index of a sharded checkpoint")
        each = replace(loaded, over_shards=False)
        for shard in ckpt.shard_headers:
            why = _load_fails(each, shard)
            if why is not None:
                name = os.path.basename(shard.path)
                return why[0], "{path}, shard " + name + ": " + why[1].replace("{path}", name)
        return None

    # ------------------------------------------------------------------ analysis
    def analyze(self, path: str, text: str) -> FileAnalysis:
        try:
            return self._analyze(path, text)
        except RecursionError as exc:  # one finding for the file; never a traceback, never exit 1
            self.log("warning", f"{path}: too deep to analyse: {exc}")
            return FileAnalysis(path, findings=[too_deep(Span(path, 0, 0, 0, 0), "this file")])
        except MemoryError:  # could not finish: an error, never a pass
            span = Span(path, 0, 0, 0, 0)
            return FileAnalysis(path, findings=[Finding("internal-error", "error",
                                                        "Weight Match ran out of memory analysing this file", span, span)])

    def _analyze(self, path: str, text: str) -> FileAnalysis:
        result = FileAnalysis(path)
        pf = self.parsed(path, text)
        if pf.syntax_error:
            result.errors.append(pf.syntax_error)
        how = self.run_config(path) if self.run_config is not None else None
        self._local.cwd = how.cwd if how is not None else None
        interp = interpret(pf, self.root, self.parsed, list(how.args) if how is not None else None,
                           f"({how.source})" if how is not None else "",
                           read_value=lambda value: materialize(value, _Ctx(self, result.dependencies)),
                           cwd=self._local.cwd, env_vars=(dict(how.env), how.source) if how and how.env else None,
                           # imported modules read with this run's environment are its own
                           shared_envs=None if how and how.env else self._module_envs)
        result.dependencies.update(interp.read_files)
        # a missing or unreadable file matters when what it holds reaches a load_state_dict (a
        # data file read with torch.load is not ours to judge); a torch.load that raises always does
        reaching: set[int] = set()
        for s in interp.sites:
            _loaded_calls(s.arg, reaching)
        for tl in interp.torch_loads:
            try:
                finding = self.torch_load_finding(tl.loaded, result.dependencies)
            except Exception as exc:  # noqa: BLE001 - one bad call never hides the others
                if isinstance(exc, RecursionError):
                    result.findings.append(too_deep(pf.span(tl.loaded.call), "this call"))
                    continue
                self.log("error", traceback.format_exc())
                if not isinstance(exc, MemoryError):
                    continue
                span = pf.span(tl.loaded.call)  # could not finish: never silent, never a pass
                finding = Finding("internal-error", "error", "Weight Match ran out of memory analysing this call", span, span)
            if finding is not None and (finding.code not in ("checkpoint-not-found", "checkpoint-unreadable")
                                        or id(tl.loaded.call) in reaching) \
                    and not (finding.code == "checkpoint-not-found" and _only_if_it_exists(tl.guards, pf)) \
                    and not (finding.code == "checkpoint-unreadable" and "is a directory" in finding.message
                             and _only_if_it_exists(tl.guards, pf, files_only=True)):
                result.findings.append(finding)
        done: list[tuple[LoadSite, LoadReport]] = []
        for site in interp.sites:
            try:
                report = self.load_report(site, result.dependencies)
            except RecursionError:
                report = LoadReport(pf.span(site.call), None, None, findings=[too_deep(pf.span(site.call), "this load")])
            except Exception as exc:  # noqa: BLE001
                self.log("error", f"analysing {path}:{site.call.lineno}: {traceback.format_exc()}")
                span = pf.span(site.call)
                severity = "error" if isinstance(exc, MemoryError) else "information"  # unfinished is not a pass
                report = LoadReport(span, None, None, findings=[Finding(
                    "internal-error", severity, "Weight Match could not analyse this call: " + (str(exc) or type(exc).__name__), span, span)])
            done.append((site, report))
        for report in per_call(done):
            result.reports.append(report)
            result.findings.extend(report.findings)
        return result

    def torch_load_finding(self, loaded: LoadedFile, deps: set[str]) -> Finding | None:
        if loaded.virtual is not None:
            return None
        path = self.resolve_path(loaded)
        if path is None:
            return None
        deps.add(path)
        span = loaded.file.span(loaded.call)
        shown = os.path.relpath(path, self.root) if path.startswith(self.root) else path
        try:
            ckpt = self.checkpoints.get(path)
        except CheckpointError as exc:
            if exc.code == "checkpoint-not-found" and exc.shard:
                return Finding("checkpoint-not-found", "warning", f"Checkpoint shard not found: {exc.shard} "
                               f"(named by {shown}'s weight_map)", span, span)
            if exc.code == "checkpoint-not-found":
                raw = loaded.path.value if isinstance(loaded.path, Const) else shown
                where = "" if os.path.isabs(os.path.expanduser(raw)) else \
                    " (a relative path: looked for from the folder the script is run in, assumed to be the " \
                    "project root unless a run configuration says otherwise, and next to the script)"
                writer = self.writer_of(os.path.basename(raw)) if self.writer_of is not None else None
                if writer is not None:
                    where += f"; not there yet: {writer} saves a file of that name"
                return Finding("checkpoint-not-found", "warning", f"Checkpoint not found: {shown}{where}", span, span)
            return Finding("checkpoint-unreadable", "warning", f"Cannot read {shown}: {exc}", span, span)
        why = self.load_fails(loaded, ckpt)
        if why is None:
            return None
        if why[0] == "unsafe-checkpoint" and ckpt.unsafe_globals and not ckpt.torchscript:
            allowed = _allowed_globals(loaded.file)
            if allowed is None:
                return None  # the script allows globals it computes at run time: which ones is not known
            missing = [g for g in ckpt.unsafe_globals if g not in allowed and g.rsplit(".", 1)[-1] not in allowed]
            if not missing:
                return None
            ckpt = replace(ckpt, unsafe_globals=missing)
            why = self.load_fails(loaded, ckpt)
        code, message = why
        return Finding(code, "error", message.format(path=shown), span, span)

    def load_report(self, site: LoadSite, deps: set[str]) -> LoadReport:
        pf = site.file
        call = pf.span(site.call)
        strict = site.strict.value if isinstance(site.strict, Const) and isinstance(site.strict.value, bool) else None
        assign = bool(site.assign.value) if isinstance(site.assign, Const) else False
        report = LoadReport(call, strict, None)

        def unresolved(code: str, why: str) -> LoadReport:
            # `torch.load(args.ckpt)` is everywhere in real scripts: a hint (the code lens says
            # "not resolved" too), where an unknown model stays information as design.md says;
            # a load the run does not reach (the script exits first) is a hint too
            severity = "hint" if code == "unresolved-checkpoint" or site.unreached else "information"
            report.findings.append(Finding(code, severity, why, call, call))
            return report

        receiver = site.receiver.model_as_of() if isinstance(site.receiver, At) else site.receiver
        receiver = _held(receiver, site.guards)
        if site.unreached:
            return unresolved("unresolved-model", site.unreached)
        if isinstance(receiver, Unknown) or not isinstance(receiver, (ModelVal, ModelAttr)):
            reason = receiver.reason if isinstance(receiver, Unknown) else "not a model"
            return unresolved("unresolved-model", f"Cannot tell which model this is: {reason}")
        model = receiver if isinstance(receiver, ModelVal) else receiver.model
        ctx = _Ctx(self, deps, site.guards)
        try:
            expected = self.builder.expected(receiver, deps)
        except ModelUnresolved as exc:
            return unresolved("unresolved-model", f"Cannot build the model `{_brief(model.file, model.call)}`: {exc}")
        root_spec = expected.modules.get("")
        if root_spec is not None and root_spec.overrides_load and not site.via_super and not root_spec.custom_load:
            # the model's own load_state_dict runs here (we did not follow it): it decides the outcome
            expected = replace(expected, modules={**expected.modules, "": replace(root_spec, custom_load=True)})
        how = expected.how
        report.how = how
        report.model = f"{expected.model_type} ({'built on the meta device' if how == 'executed' else 'inferred statically'})"
        try:
            saved = materialize(site.arg, ctx)
        except _CheckpointFailure:
            return report  # torch.load raises first; that finding sits on the torch.load call
        except Unresolvable as exc:
            return unresolved("unresolved-checkpoint", f"Cannot tell what is loaded: {exc}")
        except Problem as exc:
            span = pf.span(exc.node) if exc.node is not None else call
            report.raises = True
            report.findings.append(Finding(exc.code, "error", exc.message, span, call))
            return report
        loaded = site.arg.loaded_file() if isinstance(site.arg, (At, SourceVal)) else None
        if loaded is not None and loaded.virtual is None:
            try:
                report.checkpoint = self.checkpoint(loaded, deps)
            except (_CheckpointFailure, Unresolvable):
                pass
        report.source = pf.segment(site.arg_node) if site.arg_node is not None else ""
        if site.api == "safetensors":
            comparison = safetensors_load.outcome(expected, saved, strict, assign)
        else:
            comparison = compare(expected, saved, strict=strict is not False, assign=assign)
        report.raises = comparison.raises if strict is not None or comparison.raises else None
        report.rows = comparison.rows
        model_keys = list(expected.keys())
        nested = prefix = None
        renames: list = []
        if isinstance(saved, Mapping) and comparison.loaded == 0 and (comparison.missing or comparison.unexpected):
            hit = diagnose.find_nested_state_dict(saved, model_keys)
            if hit is not None:
                nested = tuple(hit[0])
        if nested is None and isinstance(saved, Mapping) and (comparison.missing and comparison.unexpected):
            prefix = diagnose.detect_prefix(model_keys, [k for k in saved.keys() if isinstance(k, str)])
            if prefix is None:
                infos = expected.keys()
                renames = diagnose.detect_renames(
                    {k: infos[k] for k in comparison.missing if k in infos},
                    {k: saved[k] for k in comparison.unexpected if k in saved},
                    comparison.mismatched,
                    {k: v for k, v in saved.items() if isinstance(v, TensorInfo)}, infos)

        after = None
        if nested is not None:
            inner = saved
            for k in nested:
                inner = inner[k]
            p = diagnose.detect_prefix(model_keys, [k for k in inner.keys() if isinstance(k, str)])
            after = compare(expected, {p.apply(k): v for k, v in inner.items()} if p else inner, strict=strict is not False)
        elif prefix is not None:
            after = compare(expected, {prefix.apply(k): v for k, v in saved.items()}, strict=strict is not False)

        layer_cache: dict[str, LayerSite] = {}

        mismatched = {k.rsplit(".", 1)[0] if "." in k else "" for k, _, _ in comparison.mismatched}
        by_origin: dict = {}
        for p, spec in expected.modules.items():
            if spec.origin is not None:
                by_origin.setdefault(_origin_key(spec.origin), []).append(p)

        def layer_of(module_path: str, key: str | None = None) -> LayerSite:
            spec = expected.modules.get(module_path)
            param = key.rsplit(".", 1)[-1] if key else None
            if spec is not None and param in spec.param_origins:
                site = self.origin_site(spec.param_origins[param])
                if site is not None:
                    return site
            if spec is not None and (param in spec.params or param in spec.buffers) and param not in spec.param_origins:
                site = param_site(module_path, param, model, expected, self.find_class)
                if site is not None:
                    return site
            if module_path not in layer_cache:
                site = locate(module_path, model, expected, self.find_class)
                if site.module_path != module_path:
                    # the call static inference saw make it, or make the nearest module around it
                    # (`out_proj`, made inside torch's MultiheadAttention: the attention's line)
                    origin = _nearest_origin(expected, module_path, site.module_path)
                    site = (self.origin_site(origin) if origin is not None else None) or site
                layer_cache[module_path] = self.instance_site(site, module_path, expected, by_origin, mismatched)
            return layer_cache[module_path]

        facts = SiteFacts(call, strict, expected, saved, comparison, layer_of, how, nested, prefix, renames, after)
        report.findings = build_findings(facts)
        for finding in report.findings:
            try:
                finding.fixes = fixes_for(finding, facts, site)
            except Exception:  # noqa: BLE001 - a fix we cannot make is a fix we do not offer
                self.log("warning", traceback.format_exc())
        if expected.notes:
            report.model += " — " + "; ".join(expected.notes)
        return report


_EXISTS = ("os.path.exists", "os.path.isfile", "exists", "is_file", "isfile")


def _loaded_calls(value, out: set[int]) -> None:
    """The ids of the torch.load / load_file calls whose result makes up `value`."""
    out.update(id(f.call) for f in loaded_files(value))


def _nearest_origin(expected, module_path: str, found: str):
    """The origin of `module_path`, or of the nearest module around it that lies deeper than
    `found` (what the source's own structure located); None when there is none."""
    parts = module_path.split(".") if module_path else []
    depth = len(found.split(".")) if found else 0
    for cut in range(len(parts), depth, -1):
        spec = expected.modules.get(".".join(parts[:cut]))
        if spec is not None and spec.origin is not None:
            return spec.origin
    return None


def _origin_key(origin) -> tuple:
    path, node = origin
    return (path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _only_if_it_exists(guards: tuple, pf: PyFile, files_only: bool = False) -> bool:
    """`if os.path.exists(ckpt): torch.load(ckpt)`: a file that is not there is never loaded;
    under `os.path.isfile(ckpt)` (`files_only`) neither is a folder."""
    import ast

    for g in guards:
        test, polarity = g.test, g.polarity
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, polarity = test.operand, not polarity  # `if not os.path.isfile(p): return`
        if test is None or not polarity or not isinstance(test, ast.Call):
            continue
        name = pf.dotted(test.func) or (test.func.attr if isinstance(test.func, ast.Attribute) else "")
        short = name.rsplit(".", 1)[-1]
        if short in ("is_file", "isfile") or not files_only and (name in _EXISTS or short == "exists"):
            return True
    return False


def _held(receiver, guards: tuple):
    """The model as the load sees it: a step made under a condition the load itself runs under
    (the same `if`, or what follows an early return) surely ran when the load runs; one made in
    the other branch of the same `if` (same test, same run of it) surely did not."""
    model = receiver if isinstance(receiver, ModelVal) else receiver.model if isinstance(receiver, ModelAttr) else None
    if model is None or not guards or not any(st.guards for st in model.steps):
        return receiver

    def other_branch(g) -> bool:
        return g.test is not None and any(h.test is g.test and h.env is g.env and h.polarity != g.polarity
                                          for h in guards)

    steps = [replace(st, guards=tuple(g for g in st.guards if not any(g is h for h in guards)))
             for st in model.steps if not any(other_branch(g) for g in st.guards)]
    held = replace(model, steps=steps)
    return held if isinstance(receiver, ModelVal) else ModelAttr(held, list(receiver.path))


def _brief(pf: PyFile, node) -> str:
    """A call's source on one line, for a message; a long one as `Name(...)`."""
    text = " ".join(pf.segment(node).split()).replace("( ", "(").replace(" )", ")")
    if len(text) <= 80:
        return text
    func = getattr(node, "func", None)
    return f"{' '.join(pf.segment(func).split())}(...)" if func is not None else text[:77] + "..."


def _no_path(path: Const) -> str:
    if isinstance(path, Const) and isinstance(path.value, str) and not path.value.strip():
        return "the checkpoint path is empty: no file is named"  # the message adds which option said so
    return "the checkpoint path"


def _allowed_globals(pf: PyFile) -> set[str] | None:
    """The globals a file allows with `add_safe_globals([...])` / `safe_globals([...])`, by dotted and
    short name; None when one of those calls lists something not written out."""
    import ast

    out: set[str] = set()
    for node in ast.walk(pf.tree):
        if not (isinstance(node, ast.Call) and (pf.dotted(node.func) or "").rsplit(".", 1)[-1] in (
                "add_safe_globals", "safe_globals")):
            continue
        items = node.args[0] if node.args else None
        if not isinstance(items, (ast.List, ast.Tuple)):
            return None
        for item in items.elts:
            item = item.elts[0] if isinstance(item, ast.Tuple) and item.elts else item
            name = pf.dotted(item)
            if name is None:
                return None
            out.update({name, name.rsplit(".", 1)[-1]})
    return out


def _inside(inner: Span, outer: Span) -> bool:
    """`inner` lies within `outer` and is not all of it."""
    return inner.path == outer.path and inner != outer and (outer.line, outer.column) <= (inner.line, inner.column) \
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def too_deep(span: Span, what: str) -> Finding:
    return Finding("too-deep", "warning", f"Too deep to analyse: {what} nests or chains further than Weight Match "
                   "follows (deep expressions, long elif chains or reassignment chains); its loads are not checked",
                   span, span)


class _Ctx:
    def __init__(self, analyzer: FileAnalyzer, deps: set[str], guards: tuple = ()):
        self.analyzer = analyzer
        self.deps = deps
        self.guards = guards

    def checkpoint(self, loaded: LoadedFile) -> Checkpoint:
        return self.analyzer.checkpoint(loaded, self.deps)

    def expected(self, model):
        try:
            return self.analyzer.builder.expected(model, self.deps)
        except ModelUnresolved as exc:
            raise Unresolvable(str(exc)) from None


def _load_fails(loaded: LoadedFile, ckpt: Checkpoint) -> tuple[str, str] | None:
    """Whether the loading call itself raises for this file, and why."""
    if loaded.loader == "safetensors":
        if ckpt.format != "safetensors":
            return ("wrong-loader", "{path} is not a safetensors file (it is a " + ckpt.format +
                    " checkpoint): safetensors' load_file raises; use torch.load")
        return None
    if ckpt.format == "safetensors":
        return ("wrong-loader", "{path} is a safetensors file: torch.load cannot read it "
                "(UnpicklingError); use safetensors.torch.load_file")
    if ckpt.format == "sharded":
        return ("wrong-loader", "{path} is the index of a sharded checkpoint: torch.load cannot read it; "
                "load the shards (or use transformers' from_pretrained)")
    if loaded.weights_only is False:
        return None
    if ckpt.torchscript:
        return ("unsafe-checkpoint", "{path} is a TorchScript archive: torch.load with weights_only=True "
                "refuses it; load it with torch.jit.load")
    if ckpt.unsafe_globals:
        names = ", ".join(ckpt.unsafe_globals[:6]) + (" …" if len(ckpt.unsafe_globals) > 6 else "")
        return ("unsafe-checkpoint", "torch.load raises: {path} needs globals that weights_only=True refuses "
                f"({names}). If you trust the file, pass weights_only=False or allow them with "
                "torch.serialization.add_safe_globals")
    return None
