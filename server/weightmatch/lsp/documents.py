"""Open documents and their analyses, run off the event loop.

Each open document has a generation number, bumped on every change. An analysis
captures the text and generation it started from; a result whose generation is no
longer current is dropped, and at most one analysis per document runs at a time
(the engine cannot be interrupted, so a superseded analysis is left to finish and
the next one waits for it). The last analysis to finish is therefore always of the
final text. Hovers, lenses and quick fixes read the last finished analysis.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pygls.uris import to_fs_path

from weightmatch.lsp.isolation import report_exception

if TYPE_CHECKING:
    from weightmatch.lsp.server import WeightMatchServer

LARGE_CHECKPOINT = 100 * 1024 * 1024
WORKER_POLL = 0.1  # while an analysis runs with the worker off: how often to look whether it started
WORKER_STARTING = "Starting the model worker (importing torch)…"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".json")


@dataclass
class Analysis:
    """One finished analysis of one version of a document."""

    uri: str
    path: str
    version: int | None
    text: str
    result: Any  # weightmatch.project.FileAnalysis
    deps: set[str] = field(default_factory=set)
    # (mtime_ns, size) of each dependency when the analysis finished; None: absent
    stats: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    # a notebook's cells (text is their joined code; see lsp/notebooks.py); None for a file
    notebook: Any = None

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines(keepends=True)


@dataclass
class _Doc:
    uri: str
    path: str
    generation: int = 0
    latest: Analysis | None = None
    debounce: asyncio.Task | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    running: tuple[int, str] | None = None  # (generation, text) of the analysis under way
    notebook: bool = False  # a notebook document: its text is its cells' joined code


Listener = Callable[[str, "Analysis | None"], None]


class DocumentStore:
    def __init__(self, server: "WeightMatchServer") -> None:
        self.server = server
        self.docs: dict[str, _Doc] = {}
        self.listeners: list[Listener] = []
        self._tasks: set[asyncio.Task] = set()
        self._polled: dict[str, tuple[int, int] | None] = {}  # what polling saw last
        self.analyses = 0  # analyses started since the server started (weightmatch/status)

    # -- queries (event loop) ----------------------------------------------------
    def latest(self, uri: str) -> Analysis | None:
        doc = self.docs.get(uri)
        return doc.latest if doc else None

    async def settled(self, uri: str, timeout: float) -> Analysis | None:
        """The analysis of the current text, waiting up to `timeout` for it."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        try:
            await asyncio.wait_for(doc.settled.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        return doc.latest

    def open_text(self, path: str) -> str | None:
        """The editor's current text of an open document (any thread), None if not open."""
        path = os.path.normpath(path)
        for doc in list(self.docs.values()):
            if doc.path == path and not doc.closed:
                try:
                    return self._source(doc)[0]
                except Exception:
                    return None
        return None

    def open_lines(self, path: str) -> list[str] | None:
        for doc in list(self.docs.values()):
            if doc.path == path:
                try:
                    return self._source(doc)[0].splitlines(keepends=True)
                except Exception:
                    return None
        return None

    def _source(self, doc: "_Doc") -> tuple[str, int | None, Any]:
        """(text, version, notebook) of a document as the editor has it now."""
        if doc.notebook:
            from weightmatch.lsp.notebooks import current

            nb = current(self.server, doc.uri, doc.path)
            if nb is None:
                raise LookupError(f"notebook {doc.uri} is not open")
            version = self.server.workspace.get_notebook_document(notebook_uri=doc.uri).version
            return nb.text, version, nb
        text_doc = self.server.workspace.get_text_document(doc.uri)
        return text_doc.source, text_doc.version, None

    def dependents(self, path: str) -> list[str]:
        """Open documents whose last analysis read `path`, or might (it names the file)."""
        out = []
        base = os.path.basename(path)
        for doc in self.docs.values():
            if doc.path == path or doc.latest is None:
                continue
            if path in doc.latest.deps or (base and base in doc.latest.text):
                out.append(doc.uri)
        return out

    # -- changes -----------------------------------------------------------------
    def open(self, uri: str) -> bool:
        path = to_fs_path(uri)
        if not path or not path.endswith((".py", ".pyi")):
            return False
        self.docs.setdefault(uri, _Doc(uri, os.path.normpath(path))).closed = False
        return True

    def open_notebook(self, uri: str) -> bool:
        from weightmatch.lsp.notebooks import notebook_path

        path = notebook_path(uri)
        if path is None:
            return False
        doc = self.docs.setdefault(uri, _Doc(uri, path, notebook=True))
        doc.closed = False
        return True

    def close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is None:
            return
        doc.closed = True
        doc.generation += 1
        if doc.debounce and not doc.debounce.done():
            doc.debounce.cancel()

        def forget(project):
            project.close_document(doc.path)

        self._in_pool_for(doc.path, forget)
        self._notify(uri, None)

    def covers(self, uri: str) -> bool:
        """An analysis of the buffer's current text finished (nothing newer pending) or is
        running and will be kept: a save of that text need not schedule another."""
        doc = self.docs.get(uri)
        if doc is None:
            return False
        try:
            source = self._source(doc)[0]
        except Exception:  # noqa: BLE001 - unknown document: analyse it
            return False
        if doc.running is not None and doc.running == (doc.generation, source):
            return True
        return doc.latest is not None and doc.settled.is_set() and doc.latest.text == source

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        """Analyse `uri` after `delay` seconds, superseding anything scheduled before."""
        doc = self.docs.get(uri)
        if doc is None:
            return
        doc.generation += 1
        doc.settled.clear()
        if doc.debounce and not doc.debounce.done():
            doc.debounce.cancel()
        doc.debounce = asyncio.ensure_future(self._debounced(doc, doc.generation, delay))

    def schedule_all(self, delay: float = 0.0) -> None:
        for uri in list(self.docs):
            self.schedule(uri, delay)

    async def files_changed(self, paths: list[str]) -> None:
        """Files changed on disk: drop what depends on them, re-analyse who read them."""
        paths = [os.path.normpath(p) for p in paths]

        def invalidate_all() -> None:
            for project in list(self.server.projects.values()):
                for path in paths:
                    project.invalidate(path)

        await self.server.run_in_pool(invalidate_all)
        uris: dict[str, None] = {}
        for path in paths:
            for uri in self.dependents(path):
                uris[uri] = None
        for uri in uris:
            self.server.log("debug", f"Re-analysing {uri}: a file it depends on changed")
            self.schedule(uri)

    async def poll_dependencies(self) -> list[str]:
        """Dependencies whose size or mtime differ from what the last analysis saw."""
        watched: dict[str, tuple[int, int] | None] = {}
        for doc in list(self.docs.values()):
            if doc.latest is not None:
                watched.update(doc.latest.stats)
        if not watched:
            return []
        now = await asyncio.to_thread(_stats, list(watched))
        changed = [p for p, stat in now.items() if stat != self._polled.get(p, watched[p])]
        self._polled.update(now)
        return changed

    # -- running -----------------------------------------------------------------
    async def _debounced(self, doc: _Doc, generation: int, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        # Past the debounce the analysis is not cancelled with its trigger: a newer
        # change waits for it (one at a time per document) and then supersedes it.
        task = asyncio.ensure_future(self._run(doc, generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)

    async def _run(self, doc: _Doc, generation: int) -> None:
        server = self.server
        async with doc.lock:
            if generation != doc.generation or doc.closed:
                return
            try:
                text, version, notebook = self._source(doc)
            except Exception:
                report_exception(server, f"reading {doc.uri}")
                return
            doc.running = (generation, text)
            try:
                await self._analyse(doc, generation, text, version, notebook)
            finally:
                doc.running = None

    async def _analyse(self, doc: _Doc, generation: int, text: str, version: int | None, notebook: Any = None) -> None:
        """Under the document's lock: analyse `text`, keep and publish it if still current."""
        server = self.server
        self.analyses += 1
        server.begin_busy()
        worker = None
        try:
            job = server.run_in_pool(self._job, doc.path, text, notebook)
            result, deps, stats, worker = await self._with_progress(doc, job)
        except Exception as e:
            report_exception(server, f"analysing {doc.path}")
            result, deps, stats = _failed(doc.path, f"analysis failed: {e!r}"), set(), {}
        finally:
            server.end_busy(worker)
        if generation != doc.generation or doc.closed:
            return
        for error in getattr(result, "errors", None) or []:
            server.log("warning", f"{os.path.basename(doc.path)}: {error}")
        doc.latest = Analysis(doc.uri, doc.path, version, text, result, deps, stats, notebook)
        doc.settled.set()
        self._notify(doc.uri, doc.latest)

    def _job(self, path: str, text: str, notebook: Any = None):
        """In the pool: hand the buffer (a notebook's cells) to the engine and analyse it."""
        project = self.server.project_for(path)
        if notebook is not None:
            project.set_notebook(notebook)
        else:
            project.set_document(path, text)
        result = project.analyze(path)
        result.findings = self._unsuppressed(path, text, result.findings, project.settings)
        try:
            deps = {os.path.normpath(p) for p in project.dependencies(path)}
        except Exception:
            report_exception(self.server, "project.dependencies")
            deps = set()
        try:
            worker = project.worker_status()
        except Exception:
            worker = None
        return result, deps, _stats(deps), worker

    def _unsuppressed(self, path: str, text: str, findings: list, settings: Any = None) -> list:
        """The findings no `# weightmatch: ignore` comment silences, read in the editor's
        buffers (the analysed text, other open files) or on disk; with the configuration
        file's `report-unused-ignores`, an `unused-ignore` finding for each comment of the
        analysed document that silences nothing."""
        from weightmatch.suppressions import Suppressions

        def text_of(p: str) -> str | None:
            if os.path.normpath(p) == path:
                return text
            lines = self.server.lines_for(os.path.normpath(p))
            return "".join(lines) if lines is not None else None

        try:
            suppressions = Suppressions(text_of)
            applied = suppressions.apply(findings)
            if getattr(settings, "report_unused_ignores", False):
                overrides = getattr(settings, "severity_overrides", {})
                for f in suppressions.unused([path], applied.used):
                    level = overrides.get(f.code, f.severity)
                    if level != "off":
                        f.severity = level
                        applied.kept.append(f)
            return applied.kept
        except Exception:  # a suppression bug must not cost the analysis
            report_exception(self.server, "suppressions")
            return findings

    async def _with_progress(self, doc: _Doc, job: asyncio.Future):
        """`job`'s result, with work-done progress around it when it is slow for a known
        reason: a large checkpoint changed since the last analysis read it (known up
        front), or the model worker starting (torch's import). The engine starts the
        worker only for a model static inference cannot answer, so that progress begins
        once the worker exists, not for every analysis while it is off."""
        message = self._checkpoint_progress(doc)
        if message is None and self.server.execute_enabled(doc.path):
            state = await asyncio.to_thread(self._worker_state, doc.path)
            if state == "starting":
                message = WORKER_STARTING
            while state == "off" and not job.done():
                await asyncio.wait({job}, timeout=WORKER_POLL)
                state = await asyncio.to_thread(self._worker_state, doc.path)
                if state not in ("off", None) and not job.done():
                    message = WORKER_STARTING
        if message is None or job.done():
            return await job
        async with self.server.progress("Weight Match", message):
            return await job

    def _worker_state(self, path: str) -> str | None:
        """The model worker of `path`'s project: "off" until the engine first needs it.
        Off the event loop: the engine may hold its locks during an analysis."""
        project = self.server.projects.get(self.server.root_for(path))
        if project is None:
            return "off"
        try:
            return project.worker_status().get("worker")
        except Exception:  # noqa: BLE001 - no progress then
            return None

    def _checkpoint_progress(self, doc: _Doc) -> str | None:
        """A large checkpoint that changed since the last analysis read it."""
        if doc.latest is not None:
            for path, seen in doc.latest.stats.items():
                if not path.endswith(CHECKPOINT_SUFFIXES):
                    continue
                now = _stats([path])[path]
                if now is not None and now != seen and now[1] > LARGE_CHECKPOINT:
                    return f"Reading {os.path.basename(path)} ({now[1] // 2**20} MB)…"
        return None

    def _notify(self, uri: str, analysis: Analysis | None) -> None:
        for listener in self.listeners:
            try:
                listener(uri, analysis)
            except Exception:
                report_exception(self.server, f"publishing for {uri}")

    def _in_pool_for(self, path: str, fn: Callable[[Any], None]) -> None:
        server = self.server
        root = server.root_for(path)
        project = server.projects.get(root)
        if project is None:
            return

        def run() -> None:
            try:
                fn(project)
            except Exception:
                report_exception(server, "engine call")

        server.pool.submit(run)


def _stats(paths) -> dict[str, tuple[int, int] | None]:
    out: dict[str, tuple[int, int] | None] = {}
    for path in paths:
        try:
            st = os.stat(path)
            out[path] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[path] = None
    return out


def _failed(path: str, message: str):
    from weightmatch.project import FileAnalysis

    return FileAnalysis(path=path, reports=[], findings=[], errors=[message])
