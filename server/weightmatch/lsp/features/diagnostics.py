"""Diagnostics: analyse on open, change (debounced), save and when a file read changes.

A notebook (notebookDocument/didOpen|didChange|didSave|didClose) is one document whose
text is its cells' joined code; its diagnostics are published on the URI of the cell
each falls in (lsp/notebooks.py), every code cell getting a list, empty or not.

A finding may belong to another file than the one analysed (a layer defined in an
imported module), so diagnostics are collected per target file from every open
document's last analysis and published as their union; a target that no longer has
any gets an empty list, which clears it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from weightmatch.lsp.convert import uri_for
from weightmatch.lsp.documents import Analysis, DocumentStore
from weightmatch.per_call import without_call_path
from weightmatch.lsp.isolation import isolated, report_exception
from weightmatch.lsp.notebooks import cell_of, cell_uris

if TYPE_CHECKING:
    from weightmatch.lsp.server import WeightMatchServer

DEBOUNCE = 0.25
POLL_INTERVAL = 1.0
WATCHED_GLOB = "**/*.{pt,pth,bin,ckpt,safetensors,json,py,toml}"  # toml: the configuration file


class DiagnosticsPublisher:
    def __init__(self, server: "WeightMatchServer") -> None:
        self.server = server
        # source uri -> target path -> diagnostics from that source's last analysis
        self.contributions: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self.versions: dict[str, int | None] = {}
        self.uris: dict[str, str] = {}  # path -> the uri the client used for it

    def on_analysis(self, uri: str, analysis: Analysis | None) -> None:
        before = set(self.contributions.get(uri, {}))
        if analysis is None:
            self.contributions.pop(uri, None)
            after: dict[str, list[types.Diagnostic]] = {}
        else:
            self.uris[analysis.path] = uri
            after = self._diagnostics(analysis)
            if analysis.notebook is not None:
                for cell_uri in cell_uris(analysis.notebook):
                    self.uris[cell_uri] = cell_uri
                    after.setdefault(cell_uri, [])
            else:
                after.setdefault(analysis.path, [])
            self.contributions[uri] = after
            self.versions[analysis.path] = analysis.version
        own = analysis.path if analysis is not None else None
        # The analysed document's own list goes last: a client that sees it has
        # already seen the lists of every other file the analysis touched.
        for path in sorted(before | set(after), key=lambda p: p == own):
            self._publish(path)

    def _diagnostics(self, analysis: Analysis) -> dict[str, list[types.Diagnostic]]:
        server = self.server
        own_lines = analysis.lines

        def lines_for(path: str):
            return own_lines if path == analysis.path else server.lines_for(path)

        convert = server.converter(lines_for)
        overrides = server.settings_for(server.root_for(analysis.path)).editor_overrides()
        out: dict[str, list[types.Diagnostic]] = {}
        for finding in analysis.result.findings:
            try:
                diagnostic = convert.diagnostic(finding, overrides)
            except Exception:
                report_exception(server, f"converting {finding.code}")
                continue
            if diagnostic is None:
                continue
            target = os.path.normpath(finding.span.path)
            if analysis.notebook is not None:
                for related in diagnostic.related_information or []:
                    if related.location.uri == uri_for(analysis.path):  # the load call's cell
                        found = cell_of(analysis.notebook, related.location.range)
                        if found is not None:
                            related.location = types.Location(uri=found[0], range=found[1])
                if target == analysis.path:
                    found = cell_of(analysis.notebook, diagnostic.range)
                    if found is None:
                        continue
                    target, diagnostic.range = found
            out.setdefault(target, []).append(diagnostic)
        return out

    def _publish(self, path: str) -> None:
        diagnostics = _one_each([d for per_target in self.contributions.values() for d in per_target.get(path, [])])
        pd = self.server.client_capabilities.text_document
        version = None
        if pd and pd.publish_diagnostics and pd.publish_diagnostics.version_support:
            version = self.versions.get(path)
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=self.uris.get(path) or uri_for(path), diagnostics=diagnostics, version=version)
        )


def _one_each(diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
    """A helper's load judged in its own file's analysis and again in a script that calls it:
    one squiggle when they say the same thing but for the call path (the one without it stays)."""
    said: dict = {}
    for d in sorted(diagnostics, key=lambda d: " as called from " in d.message):
        key = (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
               str(d.code), d.severity, without_call_path(d.message))
        said.setdefault(key, d)
    kept = {id(d) for d in said.values()}
    return [d for d in diagnostics if id(d) in kept]


def path_of(uri: str) -> str | None:
    path = to_fs_path(uri)
    return os.path.normpath(path) if path else None


def setup(server: "WeightMatchServer") -> None:
    store = DocumentStore(server)
    server.documents = store
    publisher = DiagnosticsPublisher(server)
    store.listeners.append(publisher.on_analysis)
    server.settings_hooks.append(lambda: store.schedule_all())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @isolated()
    def did_open(ls: "WeightMatchServer", params: types.DidOpenTextDocumentParams) -> None:
        if store.open(params.text_document.uri):
            store.schedule(params.text_document.uri)

    last_change: dict[str, float] = {}

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @isolated()
    def did_change(ls: "WeightMatchServer", params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        # Leading edge: the first change after a quiet spell is analysed at once (the answer
        # comes in one analysis, ~15 ms with cached models); changes that follow within the
        # debounce are merged into one analysis after it, so typing is not analysed per key.
        now = time.monotonic()
        quiet = now - last_change.get(uri, 0.0) > DEBOUNCE
        last_change[uri] = now
        store.schedule(uri, 0.0 if quiet else DEBOUNCE)
        # Documents importing this one read its buffer: they follow, debounced too.
        if (path := path_of(uri)) is not None:
            for other in store.dependents(path):
                store.schedule(other, DEBOUNCE)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @isolated()
    def did_save(ls: "WeightMatchServer", params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if store.covers(uri):
            # The saved text is the last analysis's, or the running one's (a save right
            # behind its change): that analysis answers for it. Files changed on disk
            # still come through didChangeWatchedFiles / polling.
            ls.log("debug", f"Saved {uri}: its text is already analysed or being analysed")
            return
        # Otherwise analyse now; an analysis still pending (debounced, or waiting for the
        # running one) has not read the text yet and is superseded, not repeated.
        store.schedule(uri)
        if (path := path_of(uri)) is not None:
            for other in store.dependents(path):
                store.schedule(other)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @isolated()
    def did_close(ls: "WeightMatchServer", params: types.DidCloseTextDocumentParams) -> None:
        store.close(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    @isolated()
    def did_open_notebook(ls: "WeightMatchServer", params: types.DidOpenNotebookDocumentParams) -> None:
        if store.open_notebook(params.notebook_document.uri):
            store.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    @isolated()
    def did_change_notebook(ls: "WeightMatchServer", params: types.DidChangeNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        # an edit in any cell (or cells added, moved, removed) re-analyses the whole notebook,
        # debounced as a file's changes are
        now = time.monotonic()
        quiet = now - last_change.get(uri, 0.0) > DEBOUNCE
        last_change[uri] = now
        store.schedule(uri, 0.0 if quiet else DEBOUNCE)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    @isolated()
    def did_save_notebook(ls: "WeightMatchServer", params: types.DidSaveNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        if not store.covers(uri):
            store.schedule(uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    @isolated()
    def did_close_notebook(ls: "WeightMatchServer", params: types.DidCloseNotebookDocumentParams) -> None:
        store.close(params.notebook_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @isolated()
    async def did_change_watched(ls: "WeightMatchServer", params: types.DidChangeWatchedFilesParams) -> None:
        paths = [p for change in params.changes if (p := to_fs_path(change.uri))]
        if paths:
            ls.log("debug", f"Changed on disk: {', '.join(paths)}")
            from weightmatch.config_file import FILENAMES

            if any(os.path.basename(p) in FILENAMES for p in paths):
                await ls.reload_configuration_file()
            await store.files_changed(paths)

    async def watch_files() -> None:
        await _watch_files(server, store)

    server.initialized_hooks.append(watch_files)


async def _watch_files(server: "WeightMatchServer", store: DocumentStore) -> None:
    """Ask the client to watch the files analyses read; without its watchers, poll them."""
    caps = server.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    if watched is not None and watched.dynamic_registration:
        registration = types.Registration(
            id="weightmatch-watched-files",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                watchers=[types.FileSystemWatcher(glob_pattern=WATCHED_GLOB)]
            ),
        )
        try:
            await asyncio.wait_for(
                server.client_register_capability_async(types.RegistrationParams(registrations=[registration])),
                timeout=10,
            )
            return
        except Exception as e:
            server.log("warning", f"Could not register file watchers ({e!r}); polling instead")
    # Without watchers from the client, the files each analysis read are polled.
    task = asyncio.ensure_future(_poll(server, store))
    server.poll_task = task  # type: ignore[attr-defined]


async def _poll(server: "WeightMatchServer", store: DocumentStore) -> None:
    while True:
        await asyncio.sleep(POLL_INTERVAL)
        try:
            changed = await store.poll_dependencies()
            if changed:
                server.log("debug", f"Changed on disk (polled): {', '.join(changed)}")
                await store.files_changed(changed)
        except asyncio.CancelledError:
            raise
        except Exception:
            report_exception(server, "polling dependencies")
