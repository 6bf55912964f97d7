"""Shared pieces of the hardening tests: the figures they collect, the examples with
their checkpoints, and an LSP session over tests/lsp/lsp_helpers.py's recording
client (every publishDiagnostics with its version and arrival time).
"""

from __future__ import annotations

import ast
import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lsp"))  # the LSP client is tests/lsp's

import lsp_helpers  # noqa: E402
from lsp_helpers import Published, server_config, wait_for_published  # noqa: E402,F401 - server_config re-exported

EXAMPLES = REPO / "examples"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
CLI = REPO / ".venv" / "bin" / "weightmatch"
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


# -- LSP session --------------------------------------------------------------------
async def start_session(client, root: Path, *, trusted: bool | None = True,
                        settings: dict[str, Any] | None = None):
    """VS Code's capabilities, with versioned publishDiagnostics (each says which version)."""
    caps = lsp_helpers.versioned("visual-studio-code")
    return await lsp_helpers.start_session(client, caps, root, trusted=trusted, settings=settings)


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
        return await wait_for_published(self.client, self.uri, predicate, timeout)

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

