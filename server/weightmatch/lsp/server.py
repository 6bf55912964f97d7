"""The Weight Match language server: lifecycle, settings, one Project per folder, status.

Features live in `features/`, one module each with a `setup(server)`; this module
only owns what they share. Engine calls that may block (analysis, settings changes,
invalidation, reading a checkpoint) run in `server.pool`, never on the event loop;
everything sent to the client is sent from the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Awaitable, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from weightmatch import __version__
from weightmatch.lsp.config import ClientSettings, log_enabled
from weightmatch.lsp.convert import Converter
from weightmatch.lsp.isolation import isolated, report_exception
from weightmatch.sourcefile import read_source

logger = logging.getLogger(__name__)

FEATURES = (
    "weightmatch.lsp.features.diagnostics",
    "weightmatch.lsp.features.hover",
    "weightmatch.lsp.features.code_lens",
    "weightmatch.lsp.features.code_actions",
    "weightmatch.lsp.features.checkpoint_contents",
)
STATUS = "weightmatch/status"
_MESSAGE_TYPES = {
    "error": types.MessageType.Error,
    "warning": types.MessageType.Warning,
    "info": types.MessageType.Info,
    "debug": types.MessageType.Log,
}
UNTRUSTED = "Workspace not trusted: model code is not executed; shapes come from static inference."


class WeightMatchServer(LanguageServer):
    def __init__(self) -> None:
        from weightmatch.lsp.notebooks import SYNC

        super().__init__(
            "weightmatch", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=SYNC,  # Jupyter notebooks' Python cells (lsp/notebooks.py)
        )
        # Two analyses at a time at most: the engine serialises model builds in its
        # worker anyway, and a second thread keeps a slow build from delaying others.
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="weightmatch")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.trusted = True
        self.client_commands: set[str] = set()
        self.settings = ClientSettings()  # the global scope: log level
        self.folder_settings: dict[str, ClientSettings] = {}
        self.projects: dict[str, Any] = {}  # folder path -> weightmatch.project.Project
        self._projects_lock = threading.Lock()
        self.initialized_hooks: list[Callable[[], Awaitable[None]]] = []
        self.settings_hooks: list[Callable[[], None]] = []
        self.ready = False
        self.busy = 0
        self.worker: dict[str, Any] = {"worker": "off", "torch": None, "message": ""}
        self._last_status: dict[str, Any] | None = None
        self.documents = None  # the DocumentStore, set by features.diagnostics

    # -- logging -----------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        """window/logMessage, filtered by weightmatch.logLevel; callable from any thread."""
        level = level if level in _MESSAGE_TYPES else "info"
        if level == "error":
            print(f"weightmatch: {message}", file=sys.stderr, flush=True)
        if not log_enabled(level, self.settings.log_level):
            return
        params = types.LogMessageParams(type=_MESSAGE_TYPES[level], message=message)
        self.call_soon(self._send_log, params)

    def _send_log(self, params: types.LogMessageParams) -> None:
        with contextlib.suppress(Exception):
            self.window_log_message(params)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the event loop (the only thread that writes to the client)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    # -- folders and projects ----------------------------------------------------
    def folder_roots(self) -> list[str]:
        roots = []
        with contextlib.suppress(Exception):
            for folder in self.workspace.folders.values():
                if path := to_fs_path(folder.uri):
                    roots.append(os.path.normpath(path))
            if not roots and self.workspace.root_path:
                roots.append(os.path.normpath(self.workspace.root_path))
        return roots

    def root_for(self, path: str) -> str:
        """The deepest workspace folder holding `path`; a loose file is its own folder's root."""
        path = os.path.normpath(path)
        best = ""
        for root in self.folder_roots():
            if (path == root or path.startswith(root.rstrip(os.sep) + os.sep)) and len(root) > len(best):
                best = root
        return best or os.path.dirname(path)

    def settings_for(self, root: str) -> ClientSettings:
        return self.folder_settings.get(root, self.settings)

    def project_for(self, path: str):
        """The Project of the folder holding `path`, created on first use. Any thread."""
        from weightmatch.project import Project

        root = self.root_for(path)
        with self._projects_lock:
            project = self.projects.get(root)
            if project is None:
                settings = self.settings_for(root).engine_settings(root, self.trusted, self.log)
                # imported files that are open in the editor are read as typed, not as saved
                project = Project(root, settings, log=self.log,
                                  buffers=lambda p: self.documents.open_text(p) if self.documents else None,
                                  reuse=True)  # a comment edit reuses the last analysis (reuse.py)
                self.projects[root] = project
                self.log("info", f"Project for {root} (execute model code: {settings.execute})")
            return project

    def overrides_for(self, path: str) -> dict[str, str]:
        return self.settings_for(self.root_for(path)).severity_overrides

    def execute_enabled(self, path: str) -> bool:
        return self.trusted and self.settings_for(self.root_for(path)).execute_model_code

    def converter(self, lines_for: Callable[[str], Any] | None = None) -> Converter:
        return Converter(self.workspace.position_codec, lines_for or self.lines_for, self.client_capabilities)

    def lines_for(self, path: str) -> list[str] | None:
        """The text of a file as the editor has it (open buffer) or else as on disk."""
        if self.documents is not None and (lines := self.documents.open_lines(path)) is not None:
            return lines
        try:
            return read_source(path).splitlines(keepends=True)
        except OSError:
            return None

    # -- settings ----------------------------------------------------------------
    async def refresh_settings(self, pushed: Any = None) -> None:
        """Pull `weightmatch` settings (global and per folder) and apply them without a restart."""
        roots = self.folder_roots()
        caps = self.client_capabilities.workspace
        before = (self.settings, [self.settings_for(root) for root in roots])
        problems: list[str] = []
        folder_settings: dict[str, ClientSettings] = {}
        if caps is not None and caps.configuration:
            items = [types.ConfigurationItem(section="weightmatch")]
            items += [types.ConfigurationItem(scope_uri=_uri(root), section="weightmatch") for root in roots]
            try:
                answers = await asyncio.wait_for(
                    self.workspace_configuration_async(types.ConfigurationParams(items=items)), timeout=10
                )
            except Exception as e:  # a client that does not answer keeps the current settings
                self.log("warning", f"workspace/configuration failed: {e!r}")
                return
            answers = list(answers or [])
            self.settings, problems = ClientSettings.from_json(answers[0] if answers else None)
            for root, raw in zip(roots, answers[1:]):
                folder_settings[root], more = ClientSettings.from_json(raw)
                problems += more
        else:
            raw = pushed.get("weightmatch") if isinstance(pushed, dict) else None
            self.settings, problems = ClientSettings.from_json(raw)
            folder_settings = {root: self.settings for root in roots}
        self.folder_settings = folder_settings
        for problem in dict.fromkeys(problems):
            self.log("warning", problem)
        if (self.settings, [self.settings_for(root) for root in roots]) == before:
            # e.g. the first pull answering with the defaults a file opened meanwhile was analysed with
            self.log("debug", "Settings unchanged: nothing to re-analyse")
            self.send_status()
            return

        changed = []
        for root, project in list(self.projects.items()):
            changed.append(self.run_in_pool(project.update_settings, self.settings_for(root).engine_settings(root, self.trusted, self.log)))
        for result in await asyncio.gather(*changed, return_exceptions=True):
            if isinstance(result, BaseException):
                self.log("error", f"Applying settings failed: {result!r}")
        self.log("debug", f"Settings applied: {self.settings}")
        for hook in self.settings_hooks:
            try:
                hook()
            except Exception:
                report_exception(self, "settings hook")
        self.send_status()

    async def reload_configuration_file(self) -> None:
        """A pyproject.toml / weightmatch.toml changed: settings again, documents again."""
        changed = [self.run_in_pool(project.update_settings,
                                    self.settings_for(root).engine_settings(root, self.trusted, self.log))
                   for root, project in list(self.projects.items())]
        for result in await asyncio.gather(*changed, return_exceptions=True):
            if isinstance(result, BaseException):
                self.log("error", f"Applying the configuration file failed: {result!r}")
        for hook in self.settings_hooks:
            try:
                hook()
            except Exception:
                report_exception(self, "settings hook")

    def run_in_pool(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        loop = self.loop or asyncio.get_running_loop()
        return loop.run_in_executor(self.pool, fn, *args)

    # -- status and progress -----------------------------------------------------
    def begin_busy(self) -> None:
        self.busy += 1
        self.send_status()

    def end_busy(self, worker: dict[str, Any] | None = None) -> None:
        self.busy = max(0, self.busy - 1)
        if isinstance(worker, dict):
            self.worker = worker
        self.send_status()

    def send_status(self) -> None:
        """`weightmatch/status`, only when something in it changed (also answered as a request)."""
        worker = self.worker.get("worker", "off")
        if not self.ready:
            state = "starting"
        elif worker == "crashed":
            state = "error"
        elif self.busy and worker == "starting":
            state = "starting"
        elif self.busy:
            state = "busy"
        else:
            state = "ready"
        message = str(self.worker.get("message") or "")
        if not self.trusted:
            message = UNTRUSTED + (f" {message}" if message else "")
        elif not self.settings.execute_model_code:
            message = "weightmatch.executeModelCode is off: shapes come from static inference." + (f" {message}" if message else "")
        status = {"state": state, "worker": worker, "torch": self.worker.get("torch"), "message": message}
        if status == self._last_status:
            return
        self._last_status = status
        self.call_soon(self._send_notification, STATUS, status)

    def _send_notification(self, method: str, params: Any) -> None:
        with contextlib.suppress(Exception):
            self.protocol.notify(method, params)

    @contextlib.asynccontextmanager
    async def progress(self, title: str, message: str | None = None) -> AsyncIterator[None]:
        """Work-done progress around a slow step, when the client shows it."""
        window = self.client_capabilities.window
        token = None
        if window is not None and window.work_done_progress:
            token = f"weightmatch-{uuid.uuid4()}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
                self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=False))
            except Exception as e:
                self.log("debug", f"No progress shown ({e!r})")
                token = None
        try:
            yield
        finally:
            if token is not None:
                with contextlib.suppress(Exception):
                    self.work_done_progress.end(token, types.WorkDoneProgressEnd())
                self.work_done_progress.tokens.pop(token, None)

    # -- shutdown ----------------------------------------------------------------
    def close_projects(self) -> None:
        with self._projects_lock:
            projects, self.projects = list(self.projects.values()), {}
        for project in projects:
            try:
                project.close()
            except Exception:
                report_exception(self, "closing a project")


def _uri(path: str) -> str:
    from weightmatch.lsp.convert import uri_for

    return uri_for(path)


def _setup_lifecycle(server: WeightMatchServer) -> None:
    @server.feature(types.INITIALIZE)
    @isolated()
    def on_initialize(ls: WeightMatchServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("trusted"), bool):
            # Absent means the client has no notion of trust (Neovim): the
            # executeModelCode setting alone decides.
            ls.trusted = options["trusted"]
        if isinstance(options, dict) and isinstance(options.get("clientCommands"), list):
            # Commands the client runs itself (VS Code: the checkpoint viewer); others get labels.
            ls.client_commands = {c for c in options["clientCommands"] if isinstance(c, str)}

    @server.feature(types.INITIALIZED)
    @isolated()
    async def on_initialized(ls: WeightMatchServer, params: types.InitializedParams) -> None:
        ls.send_status()
        if not ls.trusted:
            ls.log("info", UNTRUSTED)
        await ls.refresh_settings()
        for hook in ls.initialized_hooks:
            try:
                await hook()
            except Exception:
                report_exception(ls, "initialized hook")
        ls.ready = True
        ls.send_status()

    @server.feature(STATUS)
    @isolated(dict)
    def on_status(ls: WeightMatchServer, params: Any) -> dict[str, Any]:
        """`weightmatch/status` asked as a request: the last status sent, how many analyses
        ran so far and how many of them reused an earlier one moved to a comment edit's lines
        (for tests and debugging; clients get the notification)."""
        reused = sum(p.reuse.hits for p in list(ls.projects.values()))
        return {**(ls._last_status or {}), "analyses": ls.documents.analyses if ls.documents else 0, "reused": reused}

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @isolated()
    async def on_configuration(ls: WeightMatchServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.refresh_settings(params.settings)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @isolated()
    async def on_folders(ls: WeightMatchServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            root = os.path.normpath(to_fs_path(folder.uri) or "")
            with ls._projects_lock:
                project = ls.projects.pop(root, None)
            if project is not None:
                await ls.run_in_pool(project.close)
        await ls.refresh_settings()

    @server.feature(types.SHUTDOWN)
    @isolated()
    async def on_shutdown(ls: WeightMatchServer, params: None) -> None:
        await ls.run_in_pool(ls.close_projects)


def create_server() -> WeightMatchServer:
    import importlib

    server = WeightMatchServer()
    _setup_lifecycle(server)
    for name in FEATURES:
        importlib.import_module(name).setup(server)
    return server


def main(argv: list[str] | None = None) -> int:
    """`weightmatch serve [--tcp PORT]`: the language server on stdio (or TCP for debugging)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="weightmatch serve", description="Run the Weight Match language server.")
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT instead (for debugging)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=os.environ.get("WEIGHTMATCH_LOG", "WARNING").upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _maybe_listen_for_debugger()
    server = create_server()
    try:
        if args.tcp is not None:
            server.start_tcp("127.0.0.1", args.tcp)
        else:
            from weightmatch.lsp.transport import serve_stdio

            serve_stdio(server)  # pygls' loop, every frame bounded (a huge Content-Length is dropped)
    finally:
        server.close_projects()
        server.pool.shutdown(wait=False, cancel_futures=True)
    return 0


def _maybe_listen_for_debugger() -> None:
    port = os.environ.get("WEIGHTMATCH_DEBUG_PORT")
    if not port:
        return
    try:
        import debugpy
    except ImportError:
        print("weightmatch: WEIGHTMATCH_DEBUG_PORT is set but debugpy is not installed", file=sys.stderr)
        return
    try:
        if os.environ.get("WEIGHTMATCH_DEBUG_CONNECT"):
            # the debugger listens (VS Code's compound launch): connect, whatever started first
            debugpy.connect(("127.0.0.1", int(port)))
            print(f"weightmatch: connected to the debugger on 127.0.0.1:{port}", file=sys.stderr)
            return
        debugpy.listen(("127.0.0.1", int(port)))
        print(f"weightmatch: debugger listening on 127.0.0.1:{port}", file=sys.stderr)
        if os.environ.get("WEIGHTMATCH_DEBUG_WAIT"):
            debugpy.wait_for_client()
    except Exception as e:
        print(f"weightmatch: could not reach a debugger: {e!r}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
