"""Jupyter notebooks over LSP 3.17 notebook document sync, with VS Code's and Neovim's capabilities.

The fine-tune example notebook (examples/n01-notebook-finetune-head) is opened with
notebookDocument/didOpen, its cells as VS Code sends them (cell URIs of the
`vscode-notebook-cell` scheme, markdown cells included). The squiggle must land on the
cell that defines the head, the hover must show both shapes, the code lens must sit on
the load's cell, and every quick fix offered, applied to the cells and run in a real
Jupyter kernel with PyTorch (tests/notebook_oracle.py), must make every load succeed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_helpers import PYTHON, REPO, apply_edit, lsp_client_fixture, wait_for_diagnostics, wait_for_published

sys.path.insert(0, str(REPO / "tests"))
from notebook_oracle import run_notebook  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(params=["visual-studio-code", "neovim", "neovim-inline"])

EXAMPLE = REPO / "examples" / "n01-notebook-finetune-head"
HEAD_CELL, LOAD_CELL = 3, 5  # 0-based among all cells (markdown included)
_reruns: dict[str, dict] = {}  # notebook JSON -> what PyTorch did with it, across both clients


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The example's workspace with the checkpoint its make_ckpt.py writes (once per module)."""
    dest = tmp_path_factory.mktemp("n01")
    shutil.copytree(EXAMPLE, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.pth"))
    done = subprocess.run([PYTHON, "make_ckpt.py"], cwd=dest, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dest / "workspace"


class Notebook:
    """A notebook the test client has open, cell by cell."""

    def __init__(self, client, path: Path):
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.data = json.loads(path.read_text())
        self.cells = [c for c in self.data["cells"]]
        self.uris = [f"vscode-notebook-cell:{path}#W{i}sZmlsZQ%3D%3D" for i in range(len(self.cells))]
        self.texts = {u: "".join(c["source"]) for u, c in zip(self.uris, self.cells)}
        self.versions = {u: 1 for u in self.uris}
        self.version = 1

    def open(self) -> "Notebook":
        kinds = [types.NotebookCellKind.Code if c["cell_type"] == "code" else types.NotebookCellKind.Markup
                 for c in self.cells]
        self.client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=self.uri, notebook_type="jupyter-notebook", version=1,
                cells=[types.NotebookCell(kind=k, document=u) for k, u in zip(kinds, self.uris)]),
            cell_text_documents=[types.TextDocumentItem(
                uri=u, language_id="python" if k == types.NotebookCellKind.Code else "markdown",
                version=1, text=self.texts[u]) for k, u in zip(kinds, self.uris)],
        ))
        return self

    def edit_cell(self, index: int, text: str) -> None:
        uri = self.uris[index]
        old = self.texts[uri]
        end = types.Position(line=len(old.splitlines(keepends=True)), character=0)
        self.version += 1
        self.versions[uri] += 1
        self.client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=self.uri, version=self.version),
            change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[
                types.NotebookDocumentCellContentChanges(
                    document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                    changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line=0, character=0), end=end), text=text)])])),
        ))
        self.texts[uri] = text

    def insert_cells(self, at: int, cells: list[tuple[str, str]]) -> list[str]:
        """notebookDocument/didChange with cells added (structure change): their URIs."""
        uris = [f"vscode-notebook-cell:{self.path}#new{at}-{i}" for i in range(len(cells))]
        kinds = [types.NotebookCellKind.Code if k == "code" else types.NotebookCellKind.Markup for k, _ in cells]
        self.version += 1
        self.client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=self.uri, version=self.version),
            change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(
                structure=types.NotebookDocumentCellChangeStructure(
                    array=types.NotebookCellArrayChange(start=at, delete_count=0, cells=[
                        types.NotebookCell(kind=k, document=u) for k, u in zip(kinds, uris)]),
                    did_open=[types.TextDocumentItem(uri=u, language_id="python" if k == "code" else "markdown",
                                                     version=1, text=t) for u, (k, t) in zip(uris, cells)])))))
        self.uris[at:at] = uris
        for u, (_, t) in zip(uris, cells):
            self.texts[u] = t
            self.versions[u] = 1
        return uris

    def close(self) -> None:
        self.client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=self.uri),
            cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in self.uris]))

    def position(self, index: int, needle: str, offset: int = 0) -> types.Position:
        for n, line in enumerate(self.texts[self.uris[index]].splitlines()):
            if needle in line:
                return types.Position(line=n, character=line.index(needle) + offset)
        raise AssertionError(f"{needle!r} not in cell {index}")

    def written(self, texts: dict[str, str], folder: Path) -> Path:
        """The notebook with these cell texts, written next to its checkpoint."""
        data = json.loads(json.dumps(self.data))
        for cell, uri in zip(data["cells"], self.uris):
            cell["source"] = texts[uri].splitlines(keepends=True)
        out = folder / "fixed.ipynb"
        out.write_text(json.dumps(data, indent=1))
        return out


async def opened(client, folder: Path, made: Path) -> tuple[Notebook, list[types.Diagnostic]]:
    for f in made.iterdir():
        shutil.copyfile(f, folder / f.name)
    nb = Notebook(client, folder / "finetune.ipynb").open()
    diagnostics = await wait_for_diagnostics(client, nb.uris[HEAD_CELL], lambda ds: bool(ds))
    return nb, diagnostics


async def test_squiggle_on_the_cell_that_defines_the_head(client, folder, made):
    nb, diagnostics = await opened(client, folder, made)
    assert [(d.code, d.severity, d.range.start.line, d.range.start.character) for d in diagnostics] == [
        ("size-mismatch", types.DiagnosticSeverity.Error, 7, 8)]
    assert "checkpoint [10, 32], model [5, 32]" in diagnostics[0].message
    if client.client_name == "visual-studio-code":  # it shows related information: the load's cell
        assert diagnostics[0].related_information
    for related in diagnostics[0].related_information or []:
        assert (related.location.uri, related.location.range.start.line) == (nb.uris[LOAD_CELL], 3)
    # every other code cell gets its (empty) list; no diagnostics on the .ipynb file itself
    for index in (1, 4, LOAD_CELL):
        assert await wait_for_diagnostics(client, nb.uris[index]) == []
    assert not client.diagnostics.get(nb.uri)

    # hover on the layer line: both shapes
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uris[HEAD_CELL]),
        position=nb.position(HEAD_CELL, "self.fc", 2)))
    assert hover is not None and "[10, 32]" in hover.contents.value and "[5, 32]" in hover.contents.value
    assert hover.range.start.line == 7
    # hover on the load call, in its own cell
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uris[LOAD_CELL]),
        position=nb.position(LOAD_CELL, "load_state_dict", 3)))
    assert hover is not None and "raises RuntimeError" in hover.contents.value
    assert hover.range.start.line == 3
    # the code lens sits above the load, in the load's cell only
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uris[LOAD_CELL])))
    assert [(lens.range.start.line, lens.command.title) for lens in lenses] == [(3, "✗ 2 size mismatches")]
    assert not await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uris[HEAD_CELL])))

    # an edit in the head's cell re-analyses the notebook: the checkpoint's size clears it
    nb.edit_cell(HEAD_CELL, nb.texts[nb.uris[HEAD_CELL]].replace("nn.Linear(32, 5)", "nn.Linear(32, 10)"))
    assert await wait_for_diagnostics(client, nb.uris[HEAD_CELL], lambda ds: not ds) == []
    nb.close()


async def test_every_quick_fix_makes_the_notebook_load(client, folder, made):
    nb, diagnostics = await opened(client, folder, made)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uris[HEAD_CELL]),
        range=diagnostics[0].range,
        context=types.CodeActionContext(diagnostics=diagnostics)))
    fixes = [a for a in actions if (a.data or {}).get("fixKind") != "suppress"]
    kinds = sorted(a.data["fixKind"] for a in fixes)
    assert kinds == ["filter-shapes", "use-checkpoint-size"], kinds
    silence = [a for a in actions if (a.data or {}).get("fixKind") == "suppress"]
    assert len(silence) == 1 and silence[0].edit is not None
    # "Silence size-mismatch on this line" writes its comment into the head's cell, at the line
    texts_silenced = apply_edit(silence[0].edit, nb.texts)
    assert [u for u in nb.uris if texts_silenced[u] != nb.texts[u]] == [nb.uris[HEAD_CELL]]
    assert ("self.fc = nn.Linear(32, 5)  # 5 classes now  # weightmatch: ignore[size-mismatch]"
            in texts_silenced[nb.uris[HEAD_CELL]])
    for action in fixes:
        if action.edit is None:
            action = await client.code_action_resolve_async(action)
        assert action.edit is not None, action.title
        changed = set()
        for change in action.edit.document_changes or []:
            changed.add(change.text_document.uri)
        changed |= set((action.edit.changes or {}).keys())
        assert changed and changed <= set(nb.uris), changed  # edits land on cells, never on the .ipynb text
        texts = apply_edit(action.edit, nb.texts)
        out = nb.written(texts, folder)
        key = out.read_text()
        if key not in _reruns:
            _reruns[key] = run_notebook(out)
        truth = _reruns[key]
        assert truth["events"] and not any(e["raised"] for e in truth["events"]), (action.title, truth)
        assert not truth["errors"], (action.title, truth["errors"])
    # the silenced line, typed into the cell, silences the diagnostic
    nb.edit_cell(HEAD_CELL, texts_silenced[nb.uris[HEAD_CELL]])
    assert await wait_for_diagnostics(client, nb.uris[HEAD_CELL], lambda ds: not ds) == []
    nb.close()
    assert await wait_for_diagnostics(client, nb.uris[HEAD_CELL], lambda ds: not ds) == []


async def test_isolated_cell_edits_are_answered_like_a_file(client, folder, made):
    """An edit in one cell after a quiet spell is analysed at once (no debounce wait): the
    cell's new diagnostics arrive within 50 ms at the median, as for a .py file."""
    nb, _ = await opened(client, folder, made)
    uri = nb.uris[HEAD_CELL]
    base = nb.texts[uri]
    took = []
    for n in range(12):
        await asyncio.sleep(0.3)  # quiet for longer than the debounce: each edit stands alone
        size = 10 if n % 2 == 0 else 5
        since = len(client.published)
        nb.edit_cell(HEAD_CELL, base.replace("nn.Linear(32, 5)", f"nn.Linear(32, {size})"))
        start = time.monotonic()
        published = await wait_for_published(
            client, uri, lambda p: client.published.index(p) >= since and bool(p.diagnostics) == (size == 5))
        took.append(published.at - start)
    assert statistics.median(took) < 0.05, took
    nb.close()


async def test_cells_added_above_move_nothing_but_the_numbering(client, folder, made):
    """Cells inserted above (a markdown cell and a code cell that rebinds nothing) keep the
    squiggle on the head's cell URI, at the same line; a cell added below that rebinds the
    head to the checkpoint's size makes the notebook load, so the squiggle goes."""
    nb, before = await opened(client, folder, made)
    head_uri = nb.uris[HEAD_CELL]
    nb.insert_cells(0, [("markdown", "# notes"), ("code", "import math\nSEED = 0")])
    assert nb.uris[HEAD_CELL + 2] == head_uri
    since = len(client.published)
    published = await wait_for_published(
        client, head_uri, lambda p: client.published.index(p) >= since and bool(p.diagnostics))
    assert [(d.code, d.range.start.line) for d in published.diagnostics] == [("size-mismatch", 7)]
    # the load's cell is now the 8th: a cell inserted just before it rebinds the head
    nb.insert_cells(7, [("code", "model = Classifier()\nmodel.fc = nn.Linear(32, 10)")])
    load_uri = nb.uris[8]
    nb.edit_cell(8, nb.texts[load_uri].replace("model = Classifier()\n", ""))
    assert await wait_for_diagnostics(client, head_uri, lambda ds: not ds) == []
    nb.close()
