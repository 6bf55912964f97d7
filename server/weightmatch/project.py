"""A workspace as the engine sees it: settings, open documents, caches, the model worker.

The language server keeps one Project per workspace folder; the CLI makes one per run.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field, replace
from typing import Callable

from weightmatch.analyze import FileAnalysis, FileAnalyzer
from weightmatch.checkpoint import CheckpointCache
from weightmatch.models import ModelBuilder
from weightmatch.sourcefile import read_source
from weightmatch.types import Checkpoint

Log = Callable[[str, str], None]
SEVERITIES = ("error", "warning", "information", "hint")

__all__ = ["FileAnalysis", "Project", "Settings"]


@dataclass
class Settings:
    execute: bool = True  # build models by running their definitions in the worker
    static_first: bool = True  # answer from static inference when it resolves the model (see models.py)
    search_paths: list[str] = field(default_factory=list)  # extra folders to find checkpoints in
    severity_overrides: dict[str, str] = field(default_factory=dict)  # code -> severity | "off"
    worker_timeout: float = 30.0
    python: str = sys.executable  # the interpreter the worker runs (needs torch)


def _no_log(level: str, message: str) -> None:
    pass


class Project:
    def __init__(self, root: str, settings: Settings | None = None, log: Log | None = None,
                 buffers: Callable[[str], str | None] | None = None):
        """buffers: the editor's live text of an open file (None: not open), for files the
        analysis reads besides the one analysed; `set_document` texts are used otherwise."""
        self.root = os.path.abspath(root)
        self._buffers = buffers
        self.settings = settings or Settings()
        self.log = log or _no_log
        self.checkpoints = CheckpointCache()
        self._documents: dict[str, str] = {}
        self._deps: dict[str, set[str]] = {}
        self._lock = threading.RLock()
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
        return FileAnalyzer(self.root, list(self.settings.search_paths), self.checkpoints, self._builder,
                            self._read_text, self.log)

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
        with self._lock:
            self._documents.pop(os.path.abspath(path), None)

    def _buffer_text(self, path: str) -> str | None:
        """The editor's unsaved text of `path`, None when it is not open."""
        path = os.path.abspath(path)
        if self._buffers is not None:
            text = self._buffers(path)
            if text is not None:
                return text
        with self._lock:
            return self._documents.get(path)

    def _read_text(self, path: str) -> str | None:
        path = os.path.abspath(path)
        text = self._documents.get(path)
        if text is not None:
            return text
        try:
            return read_source(path)  # a regular file within the size limit only
        except OSError:
            return None

    # ------------------------------------------------------------------ analysis
    def analyze(self, path: str) -> FileAnalysis:
        path = os.path.abspath(path)
        text = self._read_text(path)
        if text is None:
            return FileAnalysis(path, errors=[f"cannot read {path}"])
        with self._lock:
            analyzer = self._analyzer
        result = analyzer.analyze(path, text)
        result.findings = self._apply_overrides(result.findings)
        for report in result.reports:
            report.findings = self._apply_overrides(report.findings)
        with self._lock:
            self._deps[path] = set(result.dependencies)
        return result

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
        self.checkpoints.invalidate(os.path.abspath(path))

    def dependencies(self, path: str) -> set[str]:
        with self._lock:
            return set(self._deps.get(os.path.abspath(path), ()))

    def checkpoint_contents(self, path: str) -> Checkpoint:
        return self.checkpoints.get(os.path.abspath(path))

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
