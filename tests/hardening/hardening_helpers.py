"""Shared pieces of the hardening tests: the figures they collect, the examples with
their checkpoints, and a pytest-lsp client that records every publishDiagnostics
with its version and arrival time.

The LSP helpers are deliberately self-contained (not tests/lsp/lsp_helpers.py): the
hardening tests need versioned diagnostics and must not break when those helpers move.
"""

from __future__ import annotations

import ast
import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
CLI = REPO / ".venv" / "bin" / "weightmatch"
SERVER_COMMAND = [sys.executable, "-m", "weightmatch", "serve"]
TIMEOUT = 120.0  # for waits on the server; generous, the first analysis imports torch in the worker

# -- figures --------------------------------------------------------------------
# Filled in by the tests, printed by conftest.pytest_terminal_summary.
FIGURES: dict[str, Counter] = {}


def figures(section: str) -> Counter:
    return FIGURES.setdefault(section, Counter())


# -- the examples, with their checkpoints -----------------------------------------
_SKIP = shutil.ignore_patterns("*.pt", "*.pth", "*.ckpt", "*.bin", "*.safetensors", "*.tar", "__pycache__")

# Runs every example's make_ckpt.py in its own folder, in one interpreter (one torch
# import instead of thirteen), as examples/make_checkpoints.py does one by one.
_MAKE_ALL = r'''
import os, runpy, sys, traceback
failed = 0
for folder in sys.argv[1:]:
    os.chdir(folder)
    try:
        runpy.run_path("make_ckpt.py", run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            failed += 1; print(folder, "exited", exc.code, file=sys.stderr)
    except BaseException:
        failed += 1; print(folder, traceback.format_exc(), file=sys.stderr)
sys.exit(1 if failed else 0)
'''


def copy_examples(dest: Path) -> list[Path]:
    """Copy examples/ to `dest`, write their checkpoints; the main.py of each example."""
    shutil.copytree(EXAMPLES, dest, ignore=_SKIP)
    folders = sorted(str(p.parent) for p in dest.glob("*/make_ckpt.py"))
    result = subprocess.run([PYTHON, "-c", _MAKE_ALL, *folders], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return sorted(dest.glob("*/workspace/main.py"))


# -- source helpers ---------------------------------------------------------------
def offset_of(text: str, line: int, col: int) -> int:
    """Character offset of a 1-based line and a 0-based column (ast's convention)."""
    lines = text.splitlines(keepends=True)
    return sum(len(s) for s in lines[: line - 1]) + col


def parsed_extent(text: str) -> int:
    """How much of `text` a tolerant parser can keep: all of it when it parses, else the
    longest run of whole lines before the syntax error that parses (0 if none)."""
    try:
        ast.parse(text)
        return len(text)
    except (SyntaxError, ValueError) as exc:
        lines = text.splitlines(keepends=True)
        stop = min(getattr(exc, "lineno", None) or len(lines), len(lines))
        for end in range(stop - 1, 0, -1):
            head = "".join(lines[:end])
            try:
                ast.parse(head)
                return len(head)
            except (SyntaxError, ValueError):
                continue
        return 0


def top_level_statement_end(text: str, line0: int) -> int:
    """End offset of the top-level statement of `text` that holds 0-based line `line0`."""
    tree = ast.parse(text)
    for stmt in tree.body:
        if stmt.lineno - 1 <= line0 <= (stmt.end_lineno or stmt.lineno) - 1:
            return offset_of(text, stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
    raise AssertionError(f"no top-level statement holds line {line0 + 1}")


def finding_key(f) -> tuple:
    """What a finding says, for comparisons between two analyses of the same file."""
    s = f.span
    return (f.code, f.severity, f.message, (s.line, s.column, s.end_line, s.end_column), tuple(sorted(f.keys)),
            f.how, tuple(sorted((x.kind, x.title) for x in f.fixes)))


# -- LSP client --------------------------------------------------------------------
@dataclass
class Published:
    uri: str
    version: int | None
    diagnostics: list
    at: float


def client_factory():
    """A pytest-lsp client that also keeps every publishDiagnostics (with its version)."""
    from lsprotocol import types
    from pygls.protocol import default_converter
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient, register_lsp_features

    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    client.statuses = []  # type: ignore[attr-defined]

    def publish(ls, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.append(Published(params.uri, params.version, list(params.diagnostics), time.monotonic()))

    def status(ls, params: Any) -> None:
        ls.statuses.append(params)

    def ok(ls, params: Any) -> None:
        return None

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features["weightmatch/status"] = status
    features[types.CLIENT_REGISTER_CAPABILITY] = ok
    features[types.WORKSPACE_CODE_LENS_REFRESH] = ok
    register_lsp_features(client, features)
    return client


def server_config():
    from pytest_lsp import ClientServerConfig

    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=client_factory)


async def start_session(client, root: Path, *, trusted: bool | None = True,
                        settings: dict[str, Any] | None = None):
    from lsprotocol import types
    from pytest_lsp import client_capabilities

    caps = client_capabilities("visual-studio-code")
    caps.text_document.publish_diagnostics.version_support = True  # so each publish says which version
    client.set_configuration(settings or {}, section="weightmatch")
    options = {} if trusted is None else {"trusted": trusted}
    return await client.initialize_session(types.InitializeParams(
        capabilities=caps, initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)], root_uri=root.as_uri()))


async def stop_session(client) -> None:
    try:
        await asyncio.wait_for(client.shutdown_session(), timeout=10)
    except (asyncio.TimeoutError, TimeoutError):
        pass


class Doc:
    """An open document, changed by whole-buffer or ranged edits with increasing versions."""

    def __init__(self, client, path: Path, text: str | None = None):
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.text = path.read_text() if text is None else text
        self.version = 1

    def open(self) -> "Doc":
        from lsprotocol import types

        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=self.uri, language_id="python", version=self.version, text=self.text)))
        return self

    def edit(self, start: int, end: int, new: str) -> int:
        """Replace text[start:end] (offsets) by `new` with one ranged didChange; the new version."""
        from lsprotocol import types

        self.version += 1
        rng = types.Range(start=self.position(start), end=self.position(end))
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=new)]))
        self.text = self.text[:start] + new + self.text[end:]
        return self.version

    def replace(self, text: str) -> int:
        return self.edit(0, len(self.text), text)

    def position(self, offset: int):
        """LSP position (UTF-16 units; the examples are ASCII) of a character offset."""
        from lsprotocol import types

        before = self.text[:offset]
        line = before.count("\n")
        col = len(before) - (before.rfind("\n") + 1)
        return types.Position(line=line, character=col)

    def close(self) -> None:
        from lsprotocol import types

        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(self.uri)))

    async def published(self, predicate: Callable[[Published], bool], timeout: float = TIMEOUT) -> Published:
        """The first publication for this document (already received or coming) matching `predicate`."""
        from lsprotocol import types

        async def wait() -> Published:
            seen = 0
            while True:
                pubs = self.client.published
                for p in pubs[seen:]:
                    if p.uri == self.uri and predicate(p):
                        return p
                seen = len(pubs)
                await self.client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

        try:
            return await asyncio.wait_for(wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise AssertionError(f"no matching diagnostics for {self.uri} (version {self.version}); "
                                 f"last: {[(p.version, len(p.diagnostics)) for p in self.client.published[-5:]]}") from None

    async def version_published(self, version: int, timeout: float = TIMEOUT) -> Published:
        return await self.published(lambda p: p.version == version, timeout)


def diagnostic_key(d) -> tuple:
    """A published diagnostic in the terms of an engine Finding (see finding_key)."""
    r = d.range
    return (str(d.code), d.message, (r.start.line, r.start.character, r.end.line, r.end.character),
            tuple(sorted((d.data or {}).get("keys", []))))


def engine_key(f) -> tuple:
    s = f.span
    return (f.code, f.message, (s.line, s.column, s.end_line, s.end_column), tuple(sorted(f.keys)))


def worker_starts(messages) -> int:
    """Model-worker processes started, from log lines."""
    return sum(1 for m in messages if "model worker: started pid" in (getattr(m, "message", m) or ""))


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def elapsed_ms(t0: float) -> float:
    return (time.monotonic() - t0) * 1000.0

