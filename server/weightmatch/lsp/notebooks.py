"""Notebooks over LSP 3.17 notebook document sync: cells in, per-cell answers out.

A notebook is one document of the DocumentStore (its notebook URI, its .ipynb path) whose
text is the joined code of its cells (`weightmatch.notebook`); the engine and the
features work on that text. Only here are its lines turned into cells: a request on a
cell URI is moved down by the cell's first line, an answer moved back up, and a
diagnostic or an edit lands on the URI of the cell it falls in. Cells are whole lines
of the joined text, so columns (and UTF-16 conversions of them) never change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from weightmatch.notebook import Cell, Notebook, build

if TYPE_CHECKING:
    from weightmatch.lsp.documents import Analysis
    from weightmatch.lsp.server import WeightMatchServer

NOTEBOOK_TYPE = "jupyter-notebook"
SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithNotebook(
        notebook=NOTEBOOK_TYPE, cells=[types.NotebookCellLanguage(language="python")])],
    save=True,
)


def notebook_path(uri: str) -> str | None:
    path = to_fs_path(uri)
    return os.path.normpath(path) if path and path.endswith(".ipynb") else None


def current(server: "WeightMatchServer", uri: str, path: str) -> Notebook | None:
    """The notebook as the editor has it now: its cells in order, code cells in Python
    only (a cell in another language counts as not code), with their URIs."""
    doc = server.workspace.get_notebook_document(notebook_uri=uri)
    if doc is None:
        return None
    cells = []
    for cell in doc.cells:
        try:
            text_doc = server.workspace.get_text_document(cell.document)
            source, language = text_doc.source, text_doc.language_id
        except Exception:  # noqa: BLE001 - a cell the client never sent: empty
            source, language = "", None
        code = cell.kind == types.NotebookCellKind.Code and language in (None, "python")
        cells.append(Cell("code" if code else "markdown", source, cell.document))
    return build(path, cells)


@dataclass
class CellView:
    """A cell URI seen from its notebook's analysis: virtual line = cell line + offset."""

    analysis: "Analysis"
    cell: int
    offset: int

    def down(self, position: types.Position) -> types.Position:
        return types.Position(line=position.line + self.offset, character=position.character)

    def down_range(self, r: types.Range) -> types.Range:
        return types.Range(start=self.down(r.start), end=self.down(r.end))

    def up_range(self, r: types.Range) -> types.Range:
        return shift(r, -self.offset)

    def owns(self, r: types.Range) -> bool:
        """Whether a range of the joined text starts in this cell."""
        nb = self.analysis.notebook
        return nb is not None and nb.where(r.start.line)[0] == self.cell


def view(server: "WeightMatchServer", cell_uri: str) -> CellView | None:
    """The last analysis of the notebook holding this cell, if it is one of ours."""
    store = server.documents
    if store is None:
        return None
    doc = server.workspace.get_notebook_document(cell_uri=cell_uri)
    if doc is None:
        return None
    analysis = store.latest(doc.uri)
    return view_of(analysis, cell_uri)


def view_of(analysis: "Analysis | None", cell_uri: str) -> CellView | None:
    nb = analysis.notebook if analysis is not None else None
    if nb is None:
        return None
    for index, cell in enumerate(nb.cells):
        if cell.uri == cell_uri:
            start = nb.starts.get(index)
            return None if start is None else CellView(analysis, index, start)
    return None


def shift(r: types.Range, lines: int) -> types.Range:
    return types.Range(start=types.Position(line=r.start.line + lines, character=r.start.character),
                       end=types.Position(line=r.end.line + lines, character=r.end.character))


def cell_of(nb: Notebook, r: types.Range) -> tuple[str, types.Range] | None:
    """The URI of the cell a range of the joined text starts in, and the range in it (an end
    past the cell is brought back to the cell's last line)."""
    cell, line = nb.where(r.start.line)
    uri = nb.cells[cell].uri if 0 <= cell < len(nb.cells) else None
    start = nb.starts.get(cell)
    if uri is None or start is None:
        return None
    moved = shift(r, -start)
    last = max(nb.cell_lines(cell) - 1, 0)
    if moved.end.line > last:
        text = nb.cell_text(cell).splitlines()
        moved.end = types.Position(line=last, character=len(text[last]) if text else 0)
    return uri, moved


def cell_uris(nb: Notebook) -> list[str]:
    return [c.uri for i, c in enumerate(nb.cells) if c.uri and i in nb.starts]


def split_edit(edit: types.WorkspaceEdit, nb: Notebook, notebook_uri: str,
               versions: dict[str, Any]) -> types.WorkspaceEdit:
    """A workspace edit on the joined text, as edits on the cells it falls in."""
    from weightmatch.lsp.convert import uri_for

    ours = {notebook_uri, uri_for(nb.path)}
    per_cell: dict[str, list[types.TextEdit]] = {}
    others_changes: dict[str, list[types.TextEdit]] = {}
    others_docs: list[types.TextDocumentEdit] = []
    if edit.document_changes is not None:
        for change in edit.document_changes:
            if isinstance(change, types.TextDocumentEdit) and change.text_document.uri in ours:
                for e in change.edits:
                    _add(per_cell, nb, e)
            else:
                others_docs.append(change)
        cells = [types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=versions.get(uri)),
            edits=edits) for uri, edits in per_cell.items()]
        return types.WorkspaceEdit(document_changes=[*others_docs, *cells])
    for uri, edits in (edit.changes or {}).items():
        if uri in ours:
            for e in edits:
                _add(per_cell, nb, e)
        else:
            others_changes[uri] = edits
    return types.WorkspaceEdit(changes={**others_changes, **per_cell})


def _add(per_cell: dict[str, list[types.TextEdit]], nb: Notebook, e: Any) -> None:
    found = cell_of(nb, e.range)
    if found is not None:
        uri, r = found
        per_cell.setdefault(uri, []).append(types.TextEdit(range=r, new_text=e.new_text))


def retarget(edit: types.WorkspaceEdit, uri: str, version: int | None) -> types.WorkspaceEdit:
    """An edit of one document (built against a cell's own lines) as an edit of the cell."""
    edits = [e for change in edit.document_changes or [] if isinstance(change, types.TextDocumentEdit)
             for e in change.edits]
    edits += [e for changes in (edit.changes or {}).values() for e in changes]
    if edit.document_changes is not None:
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})
