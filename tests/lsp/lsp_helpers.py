"""End-to-end tests of the language server: real LSP over stdio to the real server process.

Each test module gets one server per client (VS Code's and Neovim's capabilities)
with one workspace folder; every test writes its own sub-folder with a script and a
small checkpoint made by real torch, opens the script and waits for notifications —
never for a fixed time. The client (`recording_client`, shared with tests/hardening)
keeps every publishDiagnostics with its version, the server's `weightmatch/status`
notifications and the capabilities it registers.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
SERVER_COMMAND = [sys.executable, "-m", "weightmatch", "serve"]
CLIENTS = ["visual-studio-code", "neovim"]
TIMEOUT = 120.0  # generous: the first analysis starts the worker, which imports torch


def capabilities(name: str) -> types.ClientCapabilities:
    """A client's capabilities; "neovim-inline" is Neovim without codeAction/resolve."""
    if name == "neovim-inline":
        caps = client_capabilities("neovim")
        caps.text_document.code_action.resolve_support = None
        return caps
    return client_capabilities(name)


def versioned(name: str) -> types.ClientCapabilities:
    """`capabilities(name)` with publishDiagnostics.versionSupport: each publish names its version."""
    caps = capabilities(name)
    caps.text_document.publish_diagnostics.version_support = True
    return caps


@dataclass
class Published:
    uri: str
    version: int | None
    diagnostics: list
    at: float  # time.monotonic() on arrival


def recording_client() -> LanguageClient:
    """A pytest-lsp client (its default handlers: configuration, progress, logs) that also
    records every publishDiagnostics in `published`, every `weightmatch/status` in
    `statuses` and every dynamic registration in `registrations`."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    client.statuses = []  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]

    def publish(ls, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.append(Published(params.uri, params.version, list(params.diagnostics), time.monotonic()))

    def status(ls, params: Any) -> None:
        ls.statuses.append(params)

    def register(ls, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    def ok(ls, params: Any) -> None:
        return None

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features["weightmatch/status"] = status
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    features[types.WORKSPACE_CODE_LENS_REFRESH] = ok
    register_lsp_features(client, features)
    return client


def server_config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=recording_client)


async def wait_for_published(client: LanguageClient, uri: str, predicate: Callable[[Published], bool],
                             timeout: float = TIMEOUT) -> Published:
    """The first publication for `uri` (already received or coming) matching `predicate`."""

    async def wait() -> Published:
        seen = 0
        while True:
            pubs = client.published  # type: ignore[attr-defined]
            for p in pubs[seen:]:
                if p.uri == uri and predicate(p):
                    return p
            seen = len(pubs)
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    try:
        return await asyncio.wait_for(wait(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        last = [(p.version, len(p.diagnostics)) for p in client.published[-5:]]  # type: ignore[attr-defined]
        raise AssertionError(f"no matching publishDiagnostics for {uri}; last (version, count): {last}") from None


async def server_status(client: LanguageClient) -> dict[str, Any]:
    """`weightmatch/status` asked as a request: the last status and the analyses run so far.
    Answered in order, so it also shows the notifications sent before it were handled."""
    answer = await asyncio.wait_for(client.protocol.send_request_async("weightmatch/status", {}), 30)
    return answer if isinstance(answer, dict) else dict(answer._asdict())


async def wait_for_status(client: LanguageClient, since: int, predicate: Callable[[Any], bool],
                          timeout: float = TIMEOUT) -> Any:
    """The first `weightmatch/status` notification after the first `since` that matches."""

    async def wait() -> Any:
        seen = since
        while True:
            statuses = client.statuses  # type: ignore[attr-defined]
            for s in statuses[seen:]:
                if predicate(s):
                    return s
            seen = len(statuses)
            await client.wait_for_notification("weightmatch/status")

    try:
        return await asyncio.wait_for(wait(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        raise AssertionError(f"no matching status; last: {client.statuses[-3:]}") from None  # type: ignore[attr-defined]


async def start_session(client: LanguageClient, client_name: str | types.ClientCapabilities, root: Path, *,
                        trusted: bool | None = True, settings: dict[str, Any] | None = None,
                        options: dict[str, Any] | None = None) -> types.InitializeResult:
    caps = capabilities(client_name) if isinstance(client_name, str) else client_name
    client.set_configuration(settings or {}, section="weightmatch")
    options = {**({} if trusted is None else {"trusted": trusted}), **(options or {})}
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            initialization_options=options,
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            root_uri=root.as_uri(),
        )
    )


def lsp_client_fixture(params: Sequence[str] = CLIENTS,
                       caps: Callable[[str], types.ClientCapabilities] = capabilities, **session: Any):
    """A module-scoped client fixture: one server per client for the module's tests;
    `caps` turns each param into the client's capabilities."""

    @pytest_lsp.fixture(scope="module", params=list(params), config=server_config())
    async def client(request, lsp_client: LanguageClient, tmp_path_factory):
        root = tmp_path_factory.mktemp(f"ws-{request.param}")
        lsp_client.root = root  # type: ignore[attr-defined]
        lsp_client.client_name = request.param  # type: ignore[attr-defined]
        await start_session(lsp_client, caps(request.param), root, **session)
        yield
        try:
            await asyncio.wait_for(lsp_client.shutdown_session(), timeout=10)
        except (asyncio.TimeoutError, TimeoutError):
            pass

    return client


# -- documents ----------------------------------------------------------------
class Doc:
    """A document the test client has open."""

    def __init__(self, client: LanguageClient, path: Path):
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.text = path.read_text()
        self.version = 1

    def open(self) -> "Doc":
        self.client.diagnostics.pop(self.uri, None)
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=self.uri, language_id="python", version=1, text=self.text))
        )
        return self

    def replace(self, text: str) -> None:
        """Change the whole buffer (and forget the diagnostics seen so far)."""
        self.client.diagnostics.pop(self.uri, None)
        self.version += 1
        lines = self.text.splitlines(keepends=True)
        end = types.Position(line=len(lines), character=0)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=0, character=0), end=end), text=text)],
            )
        )
        self.text = text

    def save(self) -> None:
        """Write the buffer to disk and send didSave, as an editor does."""
        self.path.write_text(self.text)
        self.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri=self.uri)))

    def close(self) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=self.uri)))

    def line_of(self, needle: str) -> int:
        for n, line in enumerate(self.text.splitlines()):
            if needle in line:
                return n
        raise AssertionError(f"{needle!r} not in the document")

    def position(self, needle: str, offset: int = 0) -> types.Position:
        line = self.line_of(needle)
        return types.Position(line=line, character=self.text.splitlines()[line].index(needle) + offset)

    async def published(self, predicate: Callable[[Published], bool], timeout: float = TIMEOUT) -> Published:
        return await wait_for_published(self.client, self.uri, predicate, timeout)

    async def version_published(self, version: int, timeout: float = TIMEOUT) -> Published:
        """The publication answering `version` (the client must advertise versionSupport)."""
        return await self.published(lambda p: p.version == version, timeout)

    async def diagnostics(self, predicate: Callable[[list[types.Diagnostic]], bool] = lambda ds: True,
                          timeout: float = TIMEOUT) -> list[types.Diagnostic]:
        return await wait_for_diagnostics(self.client, self.uri, predicate, timeout)


async def wait_for_diagnostics(client: LanguageClient, uri: str,
                               predicate: Callable[[list[types.Diagnostic]], bool] = lambda ds: True,
                               timeout: float = TIMEOUT) -> list[types.Diagnostic]:
    """The diagnostics published for `uri` once they satisfy `predicate`."""

    async def wait() -> list[types.Diagnostic]:
        while True:
            if uri in client.diagnostics and predicate(list(client.diagnostics[uri])):
                return list(client.diagnostics[uri])
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    try:
        return await asyncio.wait_for(wait(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        raise AssertionError(f"no matching diagnostics for {uri}; last: {client.diagnostics.get(uri)}") from None


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


# -- checkpoints and scripts ----------------------------------------------------
def make_checkpoint(folder: Path, code: str) -> None:
    """Run `code` (which saves checkpoints with torch) in `folder`, as a user would."""
    result = subprocess.run([PYTHON, "-c", code], cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def run_script(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, path.name], cwd=path.parent, capture_output=True, text=True, timeout=300)


def apply_edit(edit: types.WorkspaceEdit, texts: dict[str, str]) -> dict[str, str]:
    """Apply a WorkspaceEdit (documentChanges or changes) to texts by uri."""
    by_uri: dict[str, list[types.TextEdit]] = {}
    if edit.document_changes:
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit), change
            by_uri.setdefault(change.text_document.uri, []).extend(change.edits)
    for uri, edits in (edit.changes or {}).items():
        by_uri.setdefault(uri, []).extend(edits)
    out = dict(texts)
    for uri, edits in by_uri.items():
        text = out[uri]
        starts = _line_starts(text)

        def offset(p: types.Position) -> int:
            return starts[min(p.line, len(starts) - 1)] + p.character if p.line < len(starts) else len(text)

        for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
        out[uri] = text
    return out


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for n, ch in enumerate(text):
        if ch == "\n":
            starts.append(n + 1)
    return starts


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path
