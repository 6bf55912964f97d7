"""Expected states for tracked models. Each answer says which way it was obtained.

Static inference answers first: it is exact or nothing (`StaticUnsupported` on anything it
cannot follow to the letter; every layer rule is property-tested against real torch in
tests/static/), and it answers in milliseconds where the worker first has to import torch
(1.5–2 s). The worker builds what static inference cannot follow, on the meta device, when
execution is allowed. `static_first=False` (CLI `--exec-first`) asks the worker first and
keeps static inference as the fallback.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import replace
from typing import Callable

from weightmatch.static.cache import StaticCache
from weightmatch.types import ExpectedState, ModuleSpec, Recipe, TensorInfo
from weightmatch.values import At, Const, ModelAttr, ModelVal

Log = Callable[[str, str], None]


class ModelUnresolved(Exception):
    """The model cannot be built or inferred; the message says why, for the user."""


def recipe_for(model: ModelVal, root: str, *, static: bool = False) -> Recipe:
    pf = model.file
    steps = []
    training = True  # (a model is made in training mode)
    for step in model.steps:
        if static and step.wrap is not None:
            continue  # the static path applies wrappers itself
        mode = next((m for seq, m in reversed(model.modes) if seq < step.seq), True)
        if mode is not None and mode != training and not static:
            steps.append(f"{model.var}.train({mode})")  # `model.eval()` before `model.fuse_model()`
            training = mode
        steps.append(_guarded_text(step, pf, static))
    if model.final_name and model.final_name != model.var and not static:
        steps.append(f"{model.var} = {model.final_name}")
    call = model.call
    if static:
        from weightmatch.evaluate import IDENTITY_WRAPPERS, WRAPPERS

        while isinstance(call, ast.Call) and call.args and (pf.dotted(call.func) in WRAPPERS
                                                            or pf.dotted(call.func) in IDENTITY_WRAPPERS):
            call = call.args[0]  # `nn.DataParallel(Net())`: infer Net(), add the prefix after
    if model.subs is not None and model.subs.error:
        raise ModelUnresolved(model.subs.error)
    constructor = model.subs.render(call, pf, reasons=static) if model.subs is not None else pf.segment(call)
    return Recipe(file=pf.path, source=pf.parsed_text, root=root, var=model.var or "model",
                  constructor=constructor, constructor_line=call.lineno - 1, steps=steps,
                  script_globals=dict(model.subs.globals) if model.subs is not None else {},
                  argv=list(model.subs.argv) if model.subs is not None else [],
                  undecorated=list(model.subs.undecorated) if model.subs is not None else [],
                  registries=dict(model.subs.registries) if model.subs is not None else {},
                  import_dirs=list(model.subs.import_dirs) if model.subs is not None else [])


def assumptions(model: ModelVal) -> list[str]:
    """What the recipe assumed about values known only at run time (argparse defaults, ...)."""
    out: list[str] = []
    for subs in [model.subs, *(s.subs for s in model.steps)]:
        for note in (subs.notes if subs is not None else []):
            if note not in out:
                out.append(note)
    return out


def _guarded_text(step, pf, reasons: bool) -> str:
    """A step recorded under `if` tests is replayed under the same tests: the builder decides them
    (or reports them unknown); one in a loop or an except block cannot be replayed exactly."""
    if step.subs is not None and step.subs.error:
        raise ModelUnresolved(step.subs.error)
    pf = step.file or pf  # (a step written in another file: a Trainer's method)
    text = step.subs.render(step.node, pf, reasons) if step.subs is not None and step.subs.by_span else step.text
    for guard in reversed(step.guards):
        if guard.test is None:
            raise ModelUnresolved(f"the model is changed {guard.reason} (line {step.node.lineno})")
        cond = pf.segment(guard.test)
        free = {n.id for n in ast.walk(guard.test) if isinstance(n, ast.Name)}
        if any(not isinstance(guard.env.get(name), Const) for name in free):
            # the test reads run-time state (sys.argv, args, a checkpoint): the builder cannot decide it
            raise ModelUnresolved(f"the model is changed only if `{cond}`, known only at run time "
                                  f"(line {step.node.lineno})")
        head = f"if ({cond}):" if guard.polarity else f"if not ({cond}):"
        text = head + "\n" + "\n".join("    " + line for line in text.splitlines())
    return text


def subtree(expected: ExpectedState, path: list[str]) -> ExpectedState:
    """The state of `model.<path>`: load_state_dict called on a submodule."""
    prefix = ".".join(path)
    if prefix not in expected.modules:
        raise ModelUnresolved(f"the model has no submodule `{prefix}`")
    modules: dict[str, ModuleSpec] = {}
    for p, spec in expected.modules.items():
        if p == prefix or p.startswith(prefix + "."):
            rel = p[len(prefix) + 1:] if p != prefix else ""
            modules[rel] = replace(spec, path=rel)
    cut = prefix + "."
    tied = {k[len(cut):]: v[len(cut):] for k, v in expected.tied.items() if k.startswith(cut) and v.startswith(cut)}
    return ExpectedState(modules, expected.how, modules[""].type.rsplit(".", 1)[-1], list(expected.notes), tied=tied)


class ModelBuilder:
    def __init__(self, root: str, execute: bool, worker_factory: Callable[[], object] | None, log: Log,
                 static_first: bool = True, buffers: Callable[[str], str | None] | None = None):
        self.root = root
        self.buffers = buffers  # unsaved editor text of workspace files: static inference reads it
        self.execute = execute
        self.static_first = static_first
        self._worker_factory = worker_factory
        self._worker = None
        self._lock = threading.Lock()
        self.log = log
        self._static_cache = StaticCache()
        # builds whose outcome a next attempt may not repeat (a timeout, a crash): an analysis
        # that met one is not kept for reuse (project.py)
        self.volatile = 0

    @property
    def worker(self):
        with self._lock:
            if self._worker is None and self.execute and self._worker_factory is not None:
                self._worker = self._worker_factory()
            return self._worker

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def expected(self, model, deps: set[str] | None = None) -> ExpectedState:
        """The expected state of a model reference: At(ModelVal | ModelAttr), or a model itself.
        `deps` receives the workspace files static inference read for it (an edit to one of
        them, saved or not, changes the answer)."""
        if isinstance(model, At):
            model = model.model_as_of()
        if isinstance(model, ModelAttr):
            if not isinstance(model.model, ModelVal):
                return subtree(self.expected(model.model, deps), model.path)
            return subtree(self._build(model.model, deps), model.path)  # (a holder's modules too)
        state = self._build(model, deps)
        if state.holder:  # (the object itself has no load_state_dict: only its modules are models)
            raise ModelUnresolved(f"`{model.file.segment(model.call)}` made a {state.holder}, not an nn.Module")
        return state

    def _build(self, model: ModelVal, deps: set[str] | None = None) -> ExpectedState:
        if self.static_first:
            try:
                return self._static(model, exact=False, deps=deps)
            except ModelUnresolved:
                pass  # the worker's turn
        worker_error: str | None = None
        not_known = False
        if self.execute and self._worker_factory is not None:
            from weightmatch.worker import BuildError

            try:
                state = self._from_worker(model, deps)
                if state is not None:
                    return self._with_origins(state, model, deps)
            except BuildError as exc:
                if exc.kind in _VOLATILE:
                    self.volatile += 1
                worker_error = _why(exc)
                not_known = "NotKnownStatically" in exc.message  # a value the analysis left out: its reason is static's
                self.log("info", f"worker could not build `{model.file.segment(model.call)}`: {exc.kind}: {exc.message}")
                if exc.kind in ("unresolved",):
                    raise ModelUnresolved(worker_error) from None
        try:
            state = self._static(model, deps=deps)  # (again, if it failed above: for a message naming today's lines)
        except ModelUnresolved as exc:
            if worker_error and not not_known:
                raise ModelUnresolved(worker_error) from None
            if not self.execute:
                raise ModelUnresolved(f"{exc} (running model code is off)") from None
            raise
        if worker_error:
            state = replace(state, notes=[*state.notes, f"the worker failed ({worker_error}); inferred statically"])
        return state

    def _from_worker(self, model: ModelVal, deps: set[str] | None = None) -> ExpectedState | None:
        """The worker's build (None: no worker). A recipe that cannot succeed (its constructor
        needs a parameter, `self`: worker/precheck.py) fails here, without starting the worker."""
        from weightmatch.worker import BuildError
        from weightmatch.worker.precheck import doomed

        recipe = recipe_for(model, self.root)
        why = doomed(recipe)
        if why is not None:
            raise BuildError(*why)
        worker = self.worker
        if worker is None:
            return None
        read: dict = {}
        try:
            return worker.build(recipe, read)
        finally:  # the workspace files the build imported, success or failure
            if deps is not None:
                deps.update(path for path, stamp in read.items() if stamp is not None)

    def _with_origins(self, state: ExpectedState, model: ModelVal, deps: set[str] | None) -> ExpectedState:
        """Where each layer is made, from static inference when it follows the same model (the
        worker knows the layers, not the lines that made them): the squiggles do not depend on
        which way the model was built."""
        try:
            inferred = self._static(model, exact=False, deps=deps)
        except ModelUnresolved:
            return state
        if set(inferred.modules) != set(state.modules):
            return state
        modules = {p: replace(spec, origin=inferred.modules[p].origin, param_origins=inferred.modules[p].param_origins,
                              overrides_load=inferred.modules[p].overrides_load)
                   for p, spec in state.modules.items()}
        return replace(state, modules=modules)

    def _static(self, model: ModelVal, exact: bool = True, deps: set[str] | None = None) -> ExpectedState:
        """Static inference, cached (static/cache.py). exact=False accepts a cached failure
        whose message may name an old line: enough to know the worker is needed."""
        from weightmatch.static import StaticUnsupported, build_static

        recipe = recipe_for(model, self.root, static=True)
        hit = self._static_cache.lookup(recipe, exact=exact, buffers=self.buffers)
        if hit is None:
            read: dict = {}
            try:
                result = build_static(recipe, read, self.buffers)
            except StaticUnsupported as exc:
                result = exc
            self._static_cache.store(recipe, result, read)
        else:
            result, read = hit
        if deps is not None:
            deps.update(path for path, fingerprint in read.items() if fingerprint is not None)
        if isinstance(result, StaticUnsupported):
            raise ModelUnresolved(str(result))
        return wrapped_state(result, model)


def wrapped_state(state: ExpectedState, model: ModelVal) -> ExpectedState:
    """The recipe leaves wrappers out (static path): added here, after the cache. The outermost
    `module` wrapper of an AveragedModel holds its `n_averaged` count too (a 0-dim long buffer)."""
    from weightmatch.evaluate import AVERAGED

    prefixes = [p for p in model.wrappers if p]
    for i, prefix in enumerate(prefixes):
        averaged = i == len(prefixes) - 1 and model.wrapped_by == AVERAGED
        wrapper = "torch.optim.swa_utils.AveragedModel" if averaged else \
            {"module": "torch.nn.parallel.data_parallel.DataParallel", "_orig_mod": "torch._dynamo.eval_frame.OptimizedModule"}[prefix]
        state = state.with_prefix(prefix, wrapper)
        if averaged:
            root = state.modules[""]
            state.modules[""] = replace(root, buffers={**root.buffers, "n_averaged": TensorInfo((), "int64")})
    return state


_VOLATILE = ("timeout", "memory", "crash", "no-torch")


def _why(exc) -> str:
    kinds = {
        "timeout": "building the model took longer than the time limit",
        "memory": "building the model exceeded the memory cap",
        "crash": "the model worker crashed while building the model",
        "no-torch": "torch cannot be imported by the configured interpreter",
    }
    base = kinds.get(exc.kind)
    message = _plain_words(exc.message)
    return f"{base}: {message}" if base else message


def _plain_words(message: str) -> str:
    """Python's wording of a failed replay, in terms of the user's code."""
    import re

    m = re.search(r"NameError: name '(\w+)' is not defined", message)
    if m:
        where = re.search(r"\((\S+\.py:\d+)\)", message)
        return (f"`{m.group(1)}` gets its value from code that runs only when the script runs"
                + (f" (needed at {where.group(1)})" if where else ""))
    m = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", message)
    if m:
        return f"the package `{m.group(1)}` is not installed in the interpreter that builds models"
    return message
