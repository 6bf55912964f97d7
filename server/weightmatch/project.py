"""A workspace as the engine sees it: settings, open documents, caches, the model worker.

The language server keeps one Project per workspace folder; the CLI makes one per run.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from weightmatch.analyze import FileAnalysis, FileAnalyzer
from weightmatch.per_call import without_call_path
from weightmatch.checkpoint import CheckpointCache
from weightmatch.models import ModelBuilder
from weightmatch.notebook import Notebook, NotebookError, is_notebook
from weightmatch.notebook import as_of as as_of_cell
from weightmatch.notebook import read as read_notebook
from weightmatch.reuse import Reuse
from weightmatch.sourcefile import read_source
from weightmatch.types import Checkpoint, Finding, LoadReport, Span
from weightmatch.worker.precheck import opaque

Log = Callable[[str, str], None]
SEVERITIES = ("error", "warning", "information", "hint")

__all__ = ["FileAnalysis", "Project", "Settings", "merge_findings"]

MAX_IMPORTERS = 5  # scripts analysed to resolve a load that sits in a helper they call
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages", "build", "dist"}


def resolved(report: LoadReport) -> bool:
    return report.how is not None and not any(f.code.startswith("unresolved-") for f in report.findings)


def merge_findings(analyses: list[FileAnalysis]) -> list[Finding]:
    """The findings of several analyses, where a load one of them resolved (a helper called
    from a script with known arguments) loses the "not resolved" of the others (the helper's
    own file, where its parameters are unknown)."""
    done = {r.call for a in analyses for r in a.reports if resolved(r)}
    model_known = {r.call for a in analyses for r in a.reports if r.how is not None}
    # (an unresolved context that names its call path is a run of its own, not checked: kept
    # beside the contexts of the same load that were: `load("ok.pt")`, then `load(sys.argv[1])`)
    kept = [f for a in analyses for f in a.findings
            if not (f.code.startswith("unresolved-") and " as called from " not in f.message
                    and (f.load_call in done or f.code == "unresolved-model" and f.load_call in model_known))]
    # one reason per unresolved load: the one found by following a call (it got further) first
    best: dict = {}
    for f in kept:
        if f.code.startswith("unresolved-"):
            key = (f.load_call, f.code)
            if key not in best or (" as called from " in f.message and " as called from " not in best[key].message):
                best[key] = f
    kept = [f for f in kept if not f.code.startswith("unresolved-") or best.get((f.load_call, f.code)) is f]
    # a helper's load judged in its own file and again as called from a script: one answer, when
    # the two say the same thing but for the call path (the one without it is kept)
    said: dict = {}
    for f in sorted(kept, key=lambda f: " as called from " in f.message):
        said.setdefault(_same_answer(f), f)
    return [f for f in kept if said[_same_answer(f)] is f]


def _same_answer(f: Finding) -> tuple:
    return f.code, f.severity, f.span, f.load_call, tuple(f.keys), without_call_path(f.message)


@dataclass
class Settings:
    execute: bool = True  # build models by running their definitions in the worker
    static_first: bool = True  # answer from static inference when it resolves the model (see models.py)
    search_paths: list[str] = field(default_factory=list)  # extra folders to find checkpoints in
    severity_overrides: dict[str, str] = field(default_factory=dict)  # code -> severity | "off"
    worker_timeout: float = 30.0
    python: str = sys.executable  # the interpreter the worker runs (needs torch)
    # how scripts are run: {"train.py": "--num-classes 100"} (CLI --script-args, editor setting)
    script_args: dict[str, object] = field(default_factory=dict)


def _no_log(level: str, message: str) -> None:
    pass


class Project:
    def __init__(self, root: str, settings: Settings | None = None, log: Log | None = None,
                 buffers: Callable[[str], str | None] | None = None, reuse: bool = False):
        """buffers: the editor's live text of an open file (None: not open), for files the
        analysis reads besides the one analysed; `set_document` texts are used otherwise.
        reuse: keep each file's last analysis for a next text that differs in comments only
        (an editor's; a CLI run analyses each file once and would only pay for keeping them)."""
        self.root = os.path.abspath(root)
        self._buffers = buffers
        self.settings = settings or Settings()
        self.log = log or _no_log
        self.checkpoints = CheckpointCache()
        self._documents: dict[str, str] = {}
        # notebooks open in the editor (their cells as it has them), and read from disk
        self._notebooks: dict[str, Notebook] = {}
        self._read_notebooks: dict[str, tuple[tuple[int, int], Notebook]] = {}
        self._deps: dict[str, set[str]] = {}
        self._lock = threading.RLock()
        # the last analysis of each file, for a next text that differs in comments only (reuse.py)
        self.reuse = Reuse(limit=64 if reuse else 0)
        self._scans = threading.local()  # whether an analysis read every workspace file (_workspace_files)
        self._builder = self._make_builder()
        self._analyzer = self._make_analyzer()

    # ------------------------------------------------------------------ set-up
    def _make_builder(self) -> ModelBuilder:
        s = self.settings

        def factory():
            from weightmatch.worker import WorkerClient

            client = WorkerClient(python=s.python, timeout=s.worker_timeout, log=self.log)
            client.start()
            return client

        return ModelBuilder(self.root, s.execute, factory, self.log, static_first=s.static_first,
                            buffers=self._buffer_text)

    def _make_analyzer(self) -> FileAnalyzer:
        from weightmatch import run_config

        settings = self.settings
        return FileAnalyzer(self.root, list(settings.search_paths), self.checkpoints, self._builder,
                            self._read_text, self.log,
                            lambda path: run_config.for_script(path, self.root, settings.script_args),
                            self._writer_of)

    def update_settings(self, settings: Settings) -> None:
        with self._lock:
            old = self.settings
            self.settings = settings
            if (old.execute, old.python, old.worker_timeout, old.static_first) != (
                    settings.execute, settings.python, settings.worker_timeout, settings.static_first):
                self._builder.close()
                self._builder = self._make_builder()
            self._analyzer = self._make_analyzer()

    def close(self) -> None:
        self._builder.close()

    # ------------------------------------------------------------------ documents
    def set_document(self, path: str, text: str) -> None:
        with self._lock:
            self._documents[os.path.abspath(path)] = text

    def close_document(self, path: str) -> None:
        self.reuse.forget(os.path.abspath(path))
        with self._lock:
            self._documents.pop(os.path.abspath(path), None)
            self._notebooks.pop(os.path.abspath(path), None)

    def set_notebook(self, notebook: Notebook) -> None:
        """The editor's cells of an open notebook (they replace the file on disk)."""
        with self._lock:
            self._notebooks[os.path.abspath(notebook.path)] = notebook

    def notebook(self, path: str) -> Notebook:
        """The notebook at `path`: the editor's cells when it is open, else read from disk
        (again only when its size or mtime changed). Raises NotebookError."""
        path = os.path.abspath(path)
        with self._lock:
            if path in self._notebooks:
                return self._notebooks[path]
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            raise NotebookError(f"cannot read the file: {exc.strerror or exc}") from None
        with self._lock:
            hit = self._read_notebooks.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        nb = read_notebook(path)
        with self._lock:
            if len(self._read_notebooks) >= 256:
                self._read_notebooks.pop(next(iter(self._read_notebooks)))
            self._read_notebooks[path] = (stamp, nb)
        return nb

    def _buffer_text(self, path: str) -> str | None:
        """The editor's unsaved text of `path`, None when it is not open."""
        path = os.path.abspath(path)
        if is_notebook(path):
            with self._lock:
                nb = self._notebooks.get(path)
            return nb.text if nb is not None else None
        if self._buffers is not None:
            text = self._buffers(path)
            if text is not None:
                return text
        with self._lock:
            return self._documents.get(path)

    def _read_text(self, path: str) -> str | None:
        path = os.path.abspath(path)
        if is_notebook(path):
            try:
                return self.notebook(path).text
            except NotebookError:
                return None
        text = self._documents.get(path)
        if text is not None:
            return text
        try:
            return read_source(path)  # a regular file within the size limit only
        except OSError:
            return None

    # ------------------------------------------------------------------ analysis
    def analyze(self, path: str, consult_importers: bool = True) -> FileAnalysis:
        """The analysis of one file. A notebook is analysed as the joined text of its code
        cells (`notebook(path).text`): its spans are in that text, and `notebook(path).span`
        maps them to cells (the CLI and the language server do, when they show them).
        `consult_importers`: a load left unresolved in a helper takes the answer of the scripts
        that import it (the editor; the CLI merges all its analyses instead)."""
        path = os.path.abspath(path)
        if is_notebook(path):
            try:
                self.notebook(path)
            except NotebookError as exc:
                span = Span(path, 0, 0, 0, 0)
                return FileAnalysis(path, findings=self._apply_overrides([Finding(
                    "notebook-unreadable", "error", f"Cannot read this notebook: {exc}", span, span)]))
        text = self._read_text(path)
        if text is None:
            return FileAnalysis(path, errors=[f"cannot read {path}"])
        with self._lock:
            analyzer = self._analyzer
        key = None if is_notebook(path) or not self.reuse.enabled else self._reuse_key(path, analyzer, consult_importers)
        if key is not None:
            hit = self.reuse.get(path, text, key, self._unchanged, opaque)
            if hit is not None:
                with self._lock:
                    self._deps[path] = set(hit.dependencies)
                return hit
        volatile = self._builder.volatile
        self._scans.used = False
        result = analyzer.analyze(path, text)
        if is_notebook(path):
            self._as_run(path, result, analyzer)
        if consult_importers:
            self._adopt_from_importers(path, result, analyzer)
        result.findings = self._apply_overrides(result.findings)
        for report in result.reports:
            report.findings = self._apply_overrides(report.findings)
        with self._lock:
            self._deps[path] = set(result.dependencies)
        if key is not None and self._builder.volatile == volatile and not result.errors and \
                not any(f.code == "internal-error" for f in result.findings):
            self._remember(path, text, key, analyzer, result)
        return result

    # ------------------------------------------------------------------ reuse (reuse.py)
    def _reuse_key(self, path: str, analyzer: FileAnalyzer, consult_importers: bool) -> tuple:
        """What an analysis of `path` depends on besides its text and the files it read."""
        how = analyzer.run_config(path) if analyzer.run_config is not None else None
        return (analyzer, self.settings, consult_importers, how)

    def _remember(self, path: str, text: str, key: tuple, analyzer: FileAnalyzer, result: FileAnalysis) -> None:
        try:
            pf = analyzer.parsed(path, text)
        except Exception:  # noqa: BLE001 - too deep to parse (TooDeep): answered, not kept
            return
        if pf is None or pf.syntax_error is not None or pf.parsed_until is not None:
            return
        folders = {self.root, os.path.dirname(path), *(os.path.dirname(p) for p in result.dependencies)}
        folders.update(sp if os.path.isabs(sp) else os.path.join(self.root, sp) for sp in self.settings.search_paths)
        if key[3] is not None and key[3].cwd:
            folders.add(key[3].cwd)
        inputs = (path, frozenset(result.dependencies), frozenset(folders), bool(getattr(self._scans, "used", True)))
        self.reuse.put(path, text, pf.tree, key, (inputs, self._fingerprints(*inputs)), result)

    def _unchanged(self, stored) -> bool:
        inputs, fingerprints = stored
        return self._fingerprints(*inputs) == fingerprints

    def _fingerprints(self, path: str, deps, folders, scanned: bool) -> tuple:
        """What the files an analysis read hold now: each one's text in the editor and on disk
        (a checkpoint's shards too), the folders it looked in (a file added or removed changes
        their mtime) and, when it searched the whole workspace (who saves a checkpoint, who
        imports this file), every workspace file."""
        files = set(deps)
        if scanned:
            files.update(self._workspace_files())
        files.discard(path)
        return (tuple(sorted((p, self._fingerprint(p)) for p in files)),
                tuple(sorted((f, _mtime(f)) for f in folders)))

    def _fingerprint(self, path: str) -> tuple:
        with self._lock:
            document = self._documents.get(path)
            nb = self._notebooks.get(path)
        buffer = self._buffers(path) if self._buffers is not None else None
        shards = self.checkpoints.stamps(path) if not path.endswith(".py") else None
        return (_digest(document), _digest(buffer), _digest(nb.text if nb is not None else None), _stat(path), shards)

    def _as_run(self, path: str, result: FileAnalysis, analyzer: FileAnalyzer) -> None:
        """A notebook that defines a class or function again in a later cell: each cell's loads
        are analysed in the text as it stands when that cell runs (`notebook.as_of`), where the
        engine, reading one file, would take the first definition."""
        nb = self.notebook(path)
        cells = sorted({nb.where(r.call.line)[0] for r in result.reports if r.call.path == path} |
                       {nb.where(f.load_call.line)[0] for f in result.findings if f.load_call.path == path})
        for cell in cells:
            text = as_of_cell(nb, cell)
            if text is None:
                continue
            try:
                theirs = analyzer.analyze(path, text)
            except Exception:  # noqa: BLE001 - the whole text's answer stays
                self.log("error", f"analysing {path} as of cell {cell + 1} failed")
                continue

            def here(span, cell=cell) -> bool:
                return span.path == path and nb.where(span.line)[0] == cell

            result.reports = [r for r in result.reports if not here(r.call)] + [
                r for r in theirs.reports if here(r.call)]
            result.findings = [f for f in result.findings if not here(f.load_call)] + [
                f for f in theirs.findings if here(f.load_call)]
            result.dependencies.update(theirs.dependencies)
        result.findings.sort(key=lambda f: (f.span.path != path, f.span.line, f.span.column))

    def _adopt_from_importers(self, path: str, result: FileAnalysis, analyzer: FileAnalyzer) -> None:
        """A load in this file that is unresolved because its model or path arrives as a parameter
        (`def restore_model(self, iters)`) is resolved by the scripts that import this file and
        call it: their answers for this file's loads are taken (the editor shows a helper's file
        as the script that calls it makes it behave)."""
        waiting = [r for r in result.reports if not resolved(r) and r.call.path == path]
        if not waiting:
            return
        adopted: list[LoadReport] = []
        for other in self._importers(path):
            text = self._read_text(other)
            if text is None:
                continue
            try:
                theirs = analyzer.analyze(other, text)
            except Exception:  # noqa: BLE001 - a script we only consult never breaks this file
                continue
            result.dependencies.add(other)
            result.dependencies.update(theirs.dependencies)
            adopted += [r for r in theirs.reports if r.call.path == path and resolved(r)]
        if not adopted:
            return
        done = {r.call for r in adopted}
        result.reports = [r for r in result.reports if r.call not in done] + adopted
        kept = [f for f in result.findings if not (f.code.startswith("unresolved-") and f.load_call in done)]
        result.findings = kept + [f for r in adopted for f in r.findings]

    def _writer_of(self, name: str) -> str | None:
        """Where a workspace script saves a file called `name` (`torch.save(ckpt, os.path.join(out, "ckpt.pt"))`)."""
        if not name or len(name) < 3:
            return None
        needle = re.compile(r"""\.save\(.*['"](?:[^'"]*/)?""" + re.escape(name) + r"""['"]""")
        for other in self._workspace_files():
            text = self._read_text(other)
            if not text or name not in text:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if needle.search(line):
                    return f"{os.path.relpath(other, self.root)}:{number}"
        return None

    def _importers(self, path: str) -> list[str]:
        """Workspace scripts whose text imports this file's module (by its last name), at most MAX_IMPORTERS."""
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            stem = os.path.basename(os.path.dirname(path))
        pattern = re.compile(rf"^\s*(from\s+[\w.]*\b{re.escape(stem)}\b[\w.]*\s+import|import\s+[\w., ]*\b{re.escape(stem)}\b)",
                             re.MULTILINE)
        out = []
        for other in self._workspace_files():
            if other == path:
                continue
            text = self._read_text(other)
            if text and pattern.search(text):
                out.append(other)
                if len(out) >= MAX_IMPORTERS:
                    break
        return out

    def _workspace_files(self) -> list[str]:
        """The workspace's Python files, listed at most every 10 seconds (at most 5,000)."""
        self._scans.used = True
        with self._lock:
            listed = getattr(self, "_listing", None)
            if listed is not None and time.monotonic() - listed[0] < 10 and not self._changed_since(listed[2]):
                return listed[1]
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
            if len(files) > 5000:
                break
        with self._lock:
            self._listing = (time.monotonic(), files, time.time())
        return files

    def _changed_since(self, when: float) -> bool:
        """A file was added or removed in the root folder or a folder below it that holds an open
        or analysed script since `when` (a folder's mtime changes when its entries do)."""
        folders = {self.root, *(os.path.dirname(p) for p in self._deps)}
        try:
            return any(os.stat(f).st_mtime >= when for f in folders)
        except OSError:
            return True

    def _apply_overrides(self, findings):
        overrides = self.settings.severity_overrides
        if not overrides:
            return findings
        out = []
        for f in findings:
            sev = overrides.get(f.code)
            if sev == "off":
                continue
            out.append(replace(f, severity=sev) if sev in SEVERITIES else f)
        return out

    def invalidate(self, path: str) -> None:
        """A file changed on disk (the editor's file watcher): nothing read before is reused."""
        self.checkpoints.invalidate(os.path.abspath(path))
        self.reuse.forget()

    def dependencies(self, path: str) -> set[str]:
        with self._lock:
            return set(self._deps.get(os.path.abspath(path), ()))

    def checkpoint_contents(self, path: str) -> Checkpoint:
        return self.checkpoints.get(os.path.abspath(path))

    def start_worker(self) -> None:
        """Start the model worker now, in the background, when running model code is allowed:
        its torch import then overlaps the analysis instead of delaying the first build."""
        if self.settings.execute:
            _ = self._builder.worker  # made, and started, on first access

    def worker_status(self) -> dict:
        if not self.settings.execute:
            return {"worker": "static-only", "torch": None, "message": "running model code is off: static inference"}
        worker = self._builder._worker
        if worker is None:
            return {"worker": "off", "torch": None, "message": "the model worker starts on first use"}
        status = getattr(worker, "status", None)
        if callable(status):
            return status()
        return {"worker": "ready", "torch": None, "message": ""}


def _digest(text: str | None) -> tuple[int, int] | None:
    return None if text is None else (len(text), hash(text))


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)  # of the file a link points to: (device, inode) tell which one
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


def _mtime(folder: str) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None
