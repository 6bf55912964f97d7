"""Jupyter notebooks as the engine sees them: one Python text, and a map back to the cells.

A notebook runs as its code cells in document order ("Run All"), so it is analysed as
their concatenation. IPython syntax that is not Python is made harmless without moving
any line: a line magic, a shell escape or a help line becomes `pass` (an assignment from
one, `files = !ls`, keeps its name: `files = None`; `%time stmt`, `%timeit`, `%prun` keep
their statement, moved left, its columns moved back when mapped); a cell magic whose body is Python
(`%%time`) loses only its first line; a cell in another language (`%%bash`,
`%%writefile`, …) is left out. `await` at the top level stays: `ast` parses it (only
compiling refuses it). Markdown and raw cells are left out too but keep their place in
the numbering: `cell` is a cell's 0-based position among all the notebook's cells (Ruff's
`cell N` is that plus one), and lines and columns in a cell are those of its own text.

The engine only ever sees `Notebook.text`; `Notebook.span` maps its spans back.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Iterable

from weightmatch import parsing
from weightmatch.types import Finding, Fix, Span, TextEdit

SUFFIX = ".ipynb"
# Cell magics whose body is still Python that runs in the notebook's namespace.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "python", "python3", "ipython"}
_MAGIC = re.compile(r"^(?P<indent>[ \t]*)(?P<assign>[A-Za-z_][\w., \t]*=[ \t]*)?(?:%{1,2}|!{1,2})\S")
_HELP = re.compile(r"^(?P<indent>[ \t]*)(?:\?{1,2}[\w.*]+|[\w.*]+(?:\(\))?\?{1,2})[ \t]*$")
_CELL_MAGIC = re.compile(r"^%%(?P<name>[\w.]+)")
# Line magics that run the Python statement after them (`%time model = Net()`): the
# statement stays, moved left over the magic; its columns are moved back when mapped.
_RUNS_STATEMENT = re.compile(
    r"^(?P<indent>[ \t]*)%(?:time|timeit|prun)[ \t]+(?:-[nrp][ \t]*\d+[ \t]+|-[a-z][ \t]+)*(?=\S)")


class NotebookError(Exception):
    """The file is not a notebook nbformat can read."""


def is_notebook(path: str) -> bool:
    return path.endswith(SUFFIX)


@dataclass(frozen=True)
class Cell:
    kind: str  # "code" | "markdown" | "raw"
    source: str
    uri: str | None = None  # the editor's URI of the cell (language server only)


@dataclass
class Notebook:
    """A notebook's code as one Python text, with where each of its lines came from."""

    path: str
    cells: list[Cell]
    text: str = ""
    # virtual line -> (cell index among all cells, line in that cell)
    origins: list[tuple[int, int]] = field(default_factory=list)
    # cell index -> its first virtual line (only cells that made it into the text)
    starts: dict[int, int] = field(default_factory=dict)
    # virtual line -> (indent, characters removed after it): `%time stmt` lines
    shifts: dict[int, tuple[int, int]] = field(default_factory=dict)

    # -- from virtual to cells ------------------------------------------------------
    def where(self, line: int) -> tuple[int, int]:
        """(cell, line in cell) of a virtual line; past the end: after the last line."""
        if 0 <= line < len(self.origins):
            return self.origins[line]
        if not self.origins:
            return (0, 0)
        cell, last = self.origins[-1]
        return (cell, last + 1 + (line - len(self.origins)))

    def span(self, span: Span) -> Span:
        """A span of the virtual text as a span in one cell (other files' spans unchanged)."""
        if span.path != self.path or span.cell is not None:
            return span
        cell, line = self.where(span.line)
        end_cell, end_line = self.where(span.end_line)
        column, end_column = self._column(span.line, span.column), self._column(span.end_line, span.end_column)
        if end_cell != cell:  # a range over several cells ends at its first cell's end
            end_line = self.cell_lines(cell) - 1
            end_column = len(self.cells[cell].source.splitlines()[end_line]) if end_line >= 0 else 0
        return Span(span.path, line, column, end_line, end_column, cell=cell)

    def _column(self, line: int, column: int) -> int:
        indent, removed = self.shifts.get(line, (0, 0))
        return column + removed if removed and column >= indent else column

    def finding(self, finding: Finding) -> Finding:
        return replace(
            finding,
            span=self.span(finding.span),
            load_call=self.span(finding.load_call),
            related=[(self.span(s), m) for s, m in finding.related],
            fixes=[self.fix(fix) for fix in finding.fixes],
        )

    def fix(self, fix: Fix) -> Fix:
        return replace(fix, edits=[TextEdit(self.span(e.span), e.new_text) for e in fix.edits])

    # -- from cells to virtual ------------------------------------------------------
    def virtual_line(self, cell: int, line: int) -> int | None:
        start = self.starts.get(cell)
        return None if start is None else start + line

    def cell_lines(self, cell: int) -> int:
        return len(self.cells[cell].source.splitlines()) if 0 <= cell < len(self.cells) else 0

    def cell_text(self, cell: int) -> str:
        return self.cells[cell].source if 0 <= cell < len(self.cells) else ""


def as_of(nb: Notebook, cell: int) -> str | None:
    """The joined text as it stands when `cell` has run, when that differs from the whole
    text in a way the engine would read differently; else None.

    The engine reads a notebook as one file, where a class or function defined twice is
    taken at its first definition; a notebook runs top to bottom, where the later one wins
    from its cell on. So when a notebook defines a name twice, a cell's loads are read in
    this text: the cells after it blanked, and a definition redefined up to it blanked when
    no class or function defined between the two mentions the name (a subclass, a factory:
    those keep the old one alive). A model built from the old class and loaded after the
    redefinition is the case this reads wrongly. Lines are blanked, never removed."""
    end = _cell_end(nb, cell)
    every = _definitions(nb)
    names = [d[0] for d in every]
    if end is None or len(set(names)) == len(names):
        return None
    defs = [d for d in every if d[1] <= end]
    lines = nb.text.splitlines()
    dead: set[int] = set()
    by_name: dict[str, list[tuple[str, int, int]]] = {}
    for d in defs:
        by_name.setdefault(d[0], []).append(d)
    for name, found in by_name.items():
        if len(found) < 2:
            continue
        used = re.compile(rf"\b{re.escape(name)}\b")
        found.sort(key=lambda d: d[1])
        for (_, start, stop), (_, next_start, _) in zip(found, found[1:]):
            between = [d for d in defs if stop < d[1] and d[2] < next_start]
            if not any(used.search(lines[n]) for d in between for n in range(d[1], d[2] + 1)):
                dead.update(range(start, stop + 1))
    kept = [("" if n in dead or n > end else line) for n, line in enumerate(lines)]
    return "".join(line + "\n" for line in kept)


def _cell_end(nb: Notebook, cell: int) -> int | None:
    start = nb.starts.get(cell)
    if start is None:
        return None
    end = start
    while end + 1 < len(nb.origins) and nb.origins[end + 1][0] == cell:
        end += 1
    return end


def _definitions(nb: Notebook) -> list[tuple[str, int, int]]:
    """(name, first line, last line) in the joined text of every top-level class and
    function definition (decorators included), cell by cell; a cell that does not parse
    has none."""
    import ast

    cached = getattr(nb, "_definitions", None)
    if cached is not None:
        return cached
    out: list[tuple[str, int, int]] = []
    lines = nb.text.splitlines()
    for cell, start in nb.starts.items():
        end = _cell_end(nb, cell)
        try:
            tree = parsing.parse("\n".join(lines[start:end + 1]))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                out.append((node.name, start + first - 1, start + (node.end_lineno or node.lineno) - 1))
    nb._definitions = out  # type: ignore[attr-defined]
    return out


def build(path: str, cells: Iterable[Cell]) -> Notebook:
    """The notebook of these cells, its code cells joined into one Python text."""
    nb = Notebook(path, list(cells))
    parts: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.kind != "code":
            continue
        converted = python_lines(cell.source)
        if converted is None:
            continue
        lines, shifts = converted
        nb.starts[index] = len(nb.origins)
        for number, line in enumerate(lines):
            if number in shifts:
                nb.shifts[len(nb.origins)] = shifts[number]
            parts.append(line + "\n")
            nb.origins.append((index, number))
    nb.text = "".join(parts)
    return nb


def python_lines(source: str) -> tuple[list[str], dict[int, tuple[int, int]]] | None:
    """A code cell's lines with IPython syntax made harmless, and the lines whose start
    moved (line -> (indent, characters removed)); None for a cell that is not Python (a
    cell magic in another language)."""
    shifts: dict[int, tuple[int, int]] = {}
    lines = source.splitlines()
    if not lines:
        return [], shifts
    first = _CELL_MAGIC.match(lines[0].lstrip())
    if first is not None:
        if first.group("name") not in PYTHON_CELL_MAGICS:
            return None
        lines[0] = "pass"
    out = []
    for number, line in enumerate(lines):
        runs = _RUNS_STATEMENT.match(line)
        if runs is not None:
            indent = runs.group("indent")
            shifts[number] = (len(indent), runs.end() - len(indent))
            out.append(indent + line[runs.end():])
            continue
        m = _MAGIC.match(line)
        if m is not None:
            assign = m.group("assign")
            line = m.group("indent") + (assign.rstrip() + " None" if assign and "==" not in assign else "pass")
        elif (h := _HELP.match(line)) is not None:
            line = h.group("indent") + "pass"
        out.append(line)
    return out, shifts


def read(path: str) -> Notebook:
    """Read an .ipynb file with nbformat (version 4; older ones are converted)."""
    try:
        import nbformat
    except ImportError as exc:  # a server bundle without it: notebooks come from the editor there
        raise NotebookError("nbformat is not installed (pip install nbformat)") from exc
    try:
        with open(path, encoding="utf-8") as fh, warnings.catch_warnings():
            # a notebook without cell ids (nbformat < 4.5) reads fine; nbformat warns about it
            warnings.simplefilter("ignore")
            node = nbformat.read(fh, as_version=4)
    except OSError as exc:
        raise NotebookError(f"cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds (NotJSONError, ValueError, KeyError …)
        raise NotebookError(_why(exc)) from None
    try:
        cells = node.get("cells")
        if not isinstance(cells, list):
            raise NotebookError("it has no list of cells")
        out = []
        for i, cell in enumerate(cells):
            kind = cell.get("cell_type") if isinstance(cell, dict) else None
            source = cell.get("source", "") if isinstance(cell, dict) else None
            if isinstance(source, list):
                source = "".join(s for s in source if isinstance(s, str))
            if kind not in ("code", "markdown", "raw") or not isinstance(source, str):
                raise NotebookError(f"cell {i + 1} is not a code, markdown or raw cell with a source")
            out.append(Cell(kind, source))
    except NotebookError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise NotebookError(_why(exc)) from None
    return build(path, out)


def _why(exc: Exception) -> str:
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if isinstance(exc, (AttributeError, TypeError)):  # JSON, but not an object with cells
        return "it is JSON but not a Jupyter notebook (nbformat 4)"
    if name == "NotJSONError" or isinstance(exc, ValueError) and "JSON" in text:
        return "it is not valid JSON" + (f" ({text[:160]})" if text and name != "NotJSONError" else "")
    return f"{name}: {text[:200]}" if text else name
