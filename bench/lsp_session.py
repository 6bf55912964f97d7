"""A real LSP session with `python -m weightmatch serve` over stdio, timed from the client.

Uses pygls's LanguageClient (the same machinery pytest-lsp drives) with VS Code's
recorded client capabilities (pytest-lsp's `client_capabilities("visual-studio-code")`),
plus `publishDiagnostics.versionSupport` so every publish names the document version it
is for and a latency can be attributed to the edit that caused it.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

from bench.common import PYTHON, REPO, MemorySampler


class Session:
    def __init__(self, root: Path, settings: dict[str, Any] | None = None) -> None:
        self.root = root.resolve()
        self.settings = {"logLevel": "info", **(settings or {})}
        self.client = LanguageClient("weightmatch-bench", "1")
        self.publishes: list[tuple[float, str, int | None, list[types.Diagnostic]]] = []
        self.logs: list[tuple[float, str]] = []
        self._published = asyncio.Event()
        self.sampler: MemorySampler | None = None
        self.started = 0.0
        self.initialized_at = 0.0
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        c = self.client

        @c.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_publish(params: types.PublishDiagnosticsParams) -> None:
            self.publishes.append((time.perf_counter(), params.uri, params.version, list(params.diagnostics)))
            self._published.set()

        @c.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            self.logs.append((time.perf_counter(), params.message))

        @c.feature(types.WORKSPACE_CONFIGURATION)
        def on_configuration(params: types.ConfigurationParams) -> list[Any]:
            return [self.settings if (item.section or "").startswith("weightmatch") else None for item in params.items]

        @c.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: types.RegistrationParams) -> None:
            return None

        @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @c.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_lens_refresh(params: None) -> None:
            return None

        @c.feature("weightmatch/status")
        def on_status(params: Any) -> None:
            return None

        @c.feature(types.WINDOW_SHOW_MESSAGE)
        def on_show(params: Any) -> None:
            return None

    @property
    def pid(self) -> int:
        return self.client._server.pid  # type: ignore[union-attr]

    async def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO / "server") + os.pathsep + env.get("PYTHONPATH", "")
        self.started = time.perf_counter()
        await self.client.start_io(PYTHON, "-m", "weightmatch", "serve", env=env)
        self.sampler = MemorySampler(self.pid).__enter__()
        caps = client_capabilities("visual-studio-code")
        caps.text_document.publish_diagnostics.version_support = True
        await self.client.initialize_async(types.InitializeParams(
            capabilities=caps,
            initialization_options={"trusted": True},
            workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
            root_uri=self.root.as_uri(),
            process_id=os.getpid(),
        ))
        self.client.initialized(types.InitializedParams())
        self.initialized_at = time.perf_counter()

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), timeout=20)
            self.client.exit(None)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.client.stop(), timeout=20)
        except Exception:
            proc = self.client._server
            if proc is not None and proc.returncode is None:
                proc.kill()
        if self.sampler is not None:
            self.sampler.stop()

    # -- documents -----------------------------------------------------------------
    def open(self, path: Path) -> tuple[str, float]:
        path = path.resolve()
        uri = path.as_uri()
        text = path.read_text()
        self.versions[uri] = 1
        self.texts[uri] = text
        t = time.perf_counter()
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri, t

    def change(self, uri: str, text: str, save: bool = False) -> tuple[int, float]:
        """Replace the whole buffer (an incremental change spanning the document); with
        `save`, follow it at once with didSave (the server analyses a save without debounce)."""
        version = self.versions[uri] + 1
        self.versions[uri] = version
        old = self.texts[uri]
        lines = old.splitlines(keepends=True)
        end = types.Position(line=len(lines), character=0)
        t = time.perf_counter()
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=0, character=0), end=end), text=text)],
        ))
        if save:
            self.client.text_document_did_save(types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri)))
        self.texts[uri] = text
        return version, t

    async def publish_for(self, uri: str, since: float, version: int | None = None,
                          timeout: float = 300.0) -> tuple[float, list[types.Diagnostic]]:
        """The first publish for `uri` after `since` (and for `version`, when given)."""
        deadline = time.monotonic() + timeout
        while True:
            for t, u, v, ds in self.publishes:
                if u == uri and t >= since and (version is None or v == version):
                    return t, ds
            self._published.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no diagnostics for {uri} (version {version}) within {timeout}s")
            try:
                await asyncio.wait_for(self._published.wait(), remaining)
            except (asyncio.TimeoutError, TimeoutError):
                pass

    async def hover(self, uri: str, line: int, character: int) -> tuple[float, Any]:
        t = time.perf_counter()
        result = await self.client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))
        return time.perf_counter() - t, result

    def worker_logs(self, needle: str) -> list[str]:
        return [m for _, m in self.logs if needle in m]
