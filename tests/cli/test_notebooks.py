"""Notebooks in `weightmatch check`, judged against PyTorch running the notebook.

Each example notebook (examples/n*) is run cell by cell in a real Jupyter kernel with
real PyTorch (tests/notebook_oracle.py records what every load_state_dict did, where it
was called and where each mismatched layer was made); the CLI's JSON must say the same:
the same loads fail, with the same keys, at the same cell and line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, run_cli

sys.path.insert(0, str(REPO / "tests"))
from notebook_oracle import run_notebook  # noqa: E402

EXAMPLES = {
    "n01-notebook-finetune-head": "finetune.ipynb",
    "n02-notebook-clean": "evaluate.ipynb",
}


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """The notebook examples, copied with the checkpoints their make_ckpt.py writes."""
    dest = tmp_path_factory.mktemp("notebooks")
    for name in EXAMPLES:
        shutil.copytree(REPO / "examples" / name, dest / name, ignore=shutil.ignore_patterns("*.pth", "*.pt"))
        made = subprocess.run([sys.executable, "make_ckpt.py"], cwd=dest / name, capture_output=True, text=True,
                              timeout=300)
        assert made.returncode == 0, made.stderr
    return dest


def check(path: Path, *extra: str) -> tuple[int, list[dict]]:
    p = run_cli("check", "--format", "json", "--root", str(path.parent), *extra, str(path), cwd=path.parent)
    assert p.returncode in (0, 1), p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout)["diagnostics"]


def assert_matches_pytorch(notebook: Path) -> None:
    """The CLI's JSON for the notebook says what PyTorch did running it: the same loads fail,
    with the same size-mismatched keys, squiggled at the cell and line where PyTorch made
    the layer, with `load_call` at the cell and line of the call."""
    truth = run_notebook(notebook)
    events = truth["events"]
    assert events, "the notebook calls load_state_dict"
    status, diagnostics = check(notebook)
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert status == (1 if any(e["raised"] for e in events) else 0), diagnostics
    for event in events:
        call = event["call"]
        at_call = [d for d in errors if d["load_call"].get("cell") == call["cell"] + 1
                   and d["load_call"]["line"] == call["line"]]
        if not event["raised"]:
            assert not at_call, (event, at_call)
            assert not event["missing"] and not event["unexpected"]
            continue
        assert at_call, (event, errors)
        mismatched = [d for d in at_call if d["code"] == "size-mismatch"]
        assert sorted(k for d in mismatched for k in d["keys"]) == sorted(event["size_mismatch"])
        for d in mismatched:  # the squiggle sits where PyTorch says the layer was made
            for key in d["keys"]:
                origin = event["origins"][key]
                assert (d["cell"], d["line"]) == (origin["cell"] + 1, origin["line"]), (key, d, origin)
    # nothing else fails: the only cells that raise are the failing loads'
    raised_cells = {e["call"]["cell"] for e in events if e["raised"]}
    assert {cell for cell, _, _ in truth["errors"]} == raised_cells, truth["errors"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_notebook_matches_pytorch(examples, name):
    assert_matches_pytorch(examples / name / "workspace" / EXAMPLES[name])


def _net(out: int) -> str:
    return ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"        self.fc = nn.Linear(4, {out})")


LOAD = 'model = Net()\nmodel.load_state_dict(torch.load("net.pth"))'
# Cells run top to bottom: what a later cell redefines or rebinds counts from there on.
# IPython syntax on the way (magics, shell escapes, help, %%bash, %%time, top-level await).
ORDER_NOTEBOOKS = {
    "fixed_later": [("markdown", "# the head was wrong, then fixed"),
                    ("code", "%load_ext autoreload\nimport torch\nimport torch.nn as nn"), ("code", _net(5)),
                    ("markdown", "fixed:"), ("code", _net(3)), ("code", "%%time\n" + LOAD)],
    "broken_later": [("code", "import torch\nimport torch.nn as nn\n!echo shell"), ("code", _net(3)), ("code", LOAD),
                     ("code", "%%bash\necho not python"), ("code", _net(6) + "\n\nNet?"), ("code", LOAD)],
    "rebound": [("code", "import asyncio\nimport torch\nimport torch.nn as nn"), ("code", _net(3)),
                ("code", "model = Net()\nawait asyncio.sleep(0)\nmodel.fc = nn.Linear(4, 7)"),
                ("code", "%time model = Net()"), ("code", 'model.load_state_dict(torch.load("net.pth"))'),
                ("code", "model.fc = nn.Linear(4, 8)\nmodel.load_state_dict(torch.load(\"net.pth\"))")],
}


@pytest.fixture(scope="module")
def order_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("order")
    made = subprocess.run([sys.executable, "-c", "import torch, torch.nn as nn\n" + _net(3)
                           + "\ntorch.save(Net().state_dict(), 'net.pth')"], cwd=folder, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    for name, cells in ORDER_NOTEBOOKS.items():
        (folder / f"{name}.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": text,
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for i, (kind, text) in enumerate(cells)]}))
    return folder


@pytest.mark.parametrize("name", sorted(ORDER_NOTEBOOKS))
def test_cells_take_effect_in_order(order_folder, name):
    assert_matches_pytorch(order_folder / f"{name}.ipynb")


def test_text_output_names_cells(examples):
    notebook = examples / "n01-notebook-finetune-head" / "workspace" / "finetune.ipynb"
    p = run_cli("check", "--root", str(notebook.parent), str(notebook), cwd=notebook.parent)
    assert p.returncode == 1, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.startswith("finetune.ipynb:cell 4:8:9: size-mismatch "), p.stdout
    assert "8 |         self.fc = nn.Linear(32, 5)  # 5 classes now" in p.stdout
    assert "= loaded at finetune.ipynb:cell 6:4" in p.stdout
    quiet = run_cli("check", "--quiet", "--root", str(notebook.parent), str(notebook), cwd=notebook.parent)
    assert quiet.stdout.startswith("finetune.ipynb:cell 4:8:9: size-mismatch "), quiet.stdout


def test_folders_include_notebooks(examples):
    p = run_cli("check", "--format", "json", "--root", str(examples), str(examples), cwd=examples)
    paths = {d["path"] for d in json.loads(p.stdout)["diagnostics"]}
    assert "n01-notebook-finetune-head/workspace/finetune.ipynb" in paths


def test_suppression_comment_in_a_cell(examples, tmp_path):
    source = examples / "n01-notebook-finetune-head" / "workspace"
    shutil.copytree(source, tmp_path / "ws")
    notebook = tmp_path / "ws" / "finetune.ipynb"
    data = json.loads(notebook.read_text())
    cell = data["cells"][3]
    text = "".join(cell["source"]).replace("# 5 classes now", "# weightmatch: ignore[size-mismatch]")
    cell["source"] = text.splitlines(keepends=True)
    notebook.write_text(json.dumps(data))
    status, diagnostics = check(notebook)
    assert (status, diagnostics) == (0, [])


@pytest.mark.parametrize("content, why", [
    ('{"cells": [', "not valid JSON"),
    ("[1, 2]", "not a Jupyter notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 5}]}',
     "ValidationError"),
])
def test_malformed_notebook_gets_one_diagnostic(tmp_path, content, why):
    (tmp_path / "broken.ipynb").write_text(content)
    (tmp_path / "fine.py").write_text("x = 1\n")
    p = run_cli("check", "--format", "json", "--root", str(tmp_path), str(tmp_path), cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    diagnostics = json.loads(p.stdout)["diagnostics"]
    assert [(d["path"], d["code"], d["line"]) for d in diagnostics] == [("broken.ipynb", "notebook-unreadable", 1)]
    assert why in diagnostics[0]["message"]
    assert "cell" not in diagnostics[0]


def test_other_output_formats_name_the_cell():
    from weightmatch.formats.github import command
    from weightmatch.formats.sarif import _location
    from weightmatch.report import position, to_json
    from weightmatch.types import Finding, Span

    span = Span("/w/nb.ipynb", 7, 8, 7, 34, cell=3)
    call = Span("/w/nb.ipynb", 3, 0, 3, 28, cell=5)
    finding = Finding("size-mismatch", "error", "Size mismatch", span, call)
    assert position(span, "/w") == "nb.ipynb:cell 4:8:9"
    assert position(Span("/w/m.py", 7, 8, 7, 34), "/w") == "m.py:8:9"
    out = to_json([finding], "/w")["diagnostics"][0]
    assert list(out)[:3] == ["path", "cell", "line"]
    assert (out["cell"], out["line"], out["column"], out["load_call"]) == (
        4, 8, 9, {"path": "nb.ipynb", "cell": 6, "line": 4})
    # a cell's lines are not the .ipynb file's: GitHub annotates the file, SARIF keeps the region aside
    assert command(finding, "/w") == ("::error file=nb.ipynb,title=weightmatch (size-mismatch)::"
                                      "cell 4, line 8: Size mismatch")
    location = _location(span, "/w")
    assert "region" not in location["physicalLocation"]
    assert location["properties"] == {"cell": 4, "region": {"startLine": 8, "startColumn": 9, "endLine": 8,
                                                            "endColumn": 35}}


def test_layer_in_a_python_file_loaded_from_a_notebook(tmp_path):
    """The squiggle goes to the imported file's line; `load_call` names the notebook's cell."""
    (tmp_path / "models.py").write_text("import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                                        "    def __init__(self):\n        super().__init__()\n"
                                        "        self.fc = nn.Linear(4, 6)\n")
    made = subprocess.run([sys.executable, "-c", "import torch; torch.save({'fc.weight': torch.zeros(3, 4), "
                           "'fc.bias': torch.zeros(3)}, 'net.pth')"], cwd=tmp_path, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    (tmp_path / "use.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# load"},
        {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "import torch\nfrom models import Net"},
        {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "model = Net()\nmodel.load_state_dict(torch.load('net.pth'))"}]}))
    truth = run_notebook(tmp_path / "use.ipynb")
    [event] = truth["events"]
    status, diagnostics = check(tmp_path / "use.ipynb")
    assert status == 1 and event["raised"]
    [d] = diagnostics
    assert (d["path"], d["line"], "cell" in d) == ("models.py", 7, False)
    assert d["load_call"] == {"path": "use.ipynb", "cell": event["call"]["cell"] + 1, "line": event["call"]["line"]}
