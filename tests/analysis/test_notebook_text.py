"""A notebook as one Python text: IPython syntax made harmless, lines kept, spans mapped back."""

from __future__ import annotations

import ast

from weightmatch.notebook import Cell, build
from weightmatch.types import Finding, Fix, Span, TextEdit

CELLS = [
    Cell("markdown", "# Title\n\nsome text"),
    Cell("code", "%matplotlib inline\nimport torch\n!pip install timm\nfiles = !ls\nt = %timeit -o f()\n"
                 "torch.load?\n??torch.save"),
    Cell("code", "%%bash\necho not python\nls"),
    Cell("code", "%%time\nfor i in range(2):\n    %time g()\n    !echo hi\nr = await h()"),
    Cell("raw", "raw text"),
    Cell("code", "%load_ext autoreload\nx = 1\n%timeit -n 3 -r1 model = Net()"),
    Cell("code", "%%writefile helper.py\nimport os"),
]


def test_lines_keep_their_numbers_and_parse():
    nb = build("/w/a.ipynb", CELLS)
    ast.parse(nb.text)  # top-level await included: ast accepts it
    lines = nb.text.splitlines()
    assert lines == [
        "pass", "import torch", "pass", "files = None", "t = None", "pass", "pass",
        "pass", "for i in range(2):", "    g()", "    pass", "r = await h()",
        "pass", "x = 1", "model = Net()",
    ]
    # cell index among all cells (markdown and raw included), line inside the cell
    assert nb.where(0) == (1, 0)
    assert nb.where(8) == (3, 1)
    assert nb.where(13) == (5, 1)
    assert nb.starts == {1: 0, 3: 7, 5: 12}  # %%bash and %%writefile cells are left out
    assert nb.virtual_line(5, 1) == 13
    # the statement `%timeit` runs stays, and its columns map back past the magic
    assert nb.span(Span("/w/a.ipynb", 14, 8, 14, 13)) == Span("/w/a.ipynb", 2, 8 + 17, 2, 13 + 17, cell=5)


def test_spans_map_to_cells_and_other_files_stay():
    nb = build("/w/a.ipynb", CELLS)
    span = Span("/w/a.ipynb", 13, 0, 13, 5)
    assert nb.span(span) == Span("/w/a.ipynb", 1, 0, 1, 5, cell=5)
    other = Span("/w/model.py", 13, 0, 13, 5)
    assert nb.span(other) == other
    # a range running into the next cell ends with its first cell
    across = nb.span(Span("/w/a.ipynb", 5, 0, 9, 3))
    assert (across.cell, across.line, across.end_line, across.end_column) == (1, 5, 6, len("??torch.save"))
    finding = Finding("size-mismatch", "error", "m", Span("/w/a.ipynb", 8, 0, 8, 3), Span("/w/a.ipynb", 13, 0, 13, 5),
                      fixes=[Fix("t", "strict-false", [TextEdit(Span("/w/a.ipynb", 13, 0, 13, 5), "y")])])
    mapped = nb.finding(finding)
    assert (mapped.span.cell, mapped.span.line) == (3, 1)
    assert (mapped.load_call.cell, mapped.load_call.line) == (5, 1)
    assert mapped.fixes[0].edits[0].span == Span("/w/a.ipynb", 1, 0, 1, 5, cell=5)


def test_python_spans_compare_as_before():
    assert Span("/w/m.py", 1, 2, 3, 4) == Span("/w/m.py", 1, 2, 3, 4, cell=None)
    assert Span("/w/a.ipynb", 1, 2, 3, 4, cell=0) != Span("/w/a.ipynb", 1, 2, 3, 4, cell=1)


def test_empty_and_markdown_only():
    nb = build("/w/b.ipynb", [Cell("markdown", "# only text"), Cell("code", "")])
    assert nb.text == ""
    assert nb.where(0) == (0, 0)
