"""Layer sizes from a text file of the workspace, read as data (never run): `len(open(
"labels.txt").read().splitlines())`, `readlines()`, `Path(p).read_text().split()`. Judged by real
PyTorch in both modes; a file opened in binary mode, or missing, leaves the size unknown."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

READS = {
    "read-splitlines": 'len(open("labels.txt").read().splitlines())',
    "readlines": 'len(open("labels.txt", "r").readlines())',
    "path-read-text": 'len(Path("labels.txt").read_text().split())',
}

MAIN = """
from pathlib import Path

import torch
import torch.nn as nn


def main():
    num_classes = {read}
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, num_classes))
    model.load_state_dict(torch.load("w.pt"))


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("labels", [["cat", "dog", "bird"], ["cat", "dog", "bird", "fish"]], ids=["matches", "grew"])
@pytest.mark.parametrize("read", sorted(READS))
def test_a_size_read_from_a_text_file(case, read, labels, execute) -> None:
    case.write("main.py", MAIN.format(read=READS[read]))
    (case.dir / "labels.txt").write_text("\n".join(labels) + "\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")


def test_a_binary_read_is_not_taken_for_text(case) -> None:
    case.write("main.py", MAIN.format(read='len(open("labels.txt", "rb").read().splitlines())'))
    (case.dir / "labels.txt").write_text("cat\ndog\nbird\nfish\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).state_dict(), 'w.pt')")
    (report,) = analyze_alone(case, False).reports
    assert report.how is None


HANDLE = """
import torch
import torch.nn as nn

with open("labels.txt") as f:
{read}
model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, len(labels)))
model.load_state_dict(torch.load("w.pt"))
"""

ITERATED = {
    "comprehension": "    labels = [line.strip() for line in f if line.strip()]",
    "loop": "    labels = []\n    for line in f:\n        if line.strip():\n            labels.append(line.strip())",
    "header-skipped": "    header = next(f)\n    labels = [line.strip() for line in f if line.strip()]",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("labels", [["cat", "dog", "bird"], ["cat", "dog", "bird", "fish"]], ids=["matches", "grew"])
@pytest.mark.parametrize("read", sorted(ITERATED))
def test_the_lines_of_an_open_file(case, read, labels, execute) -> None:
    """`[l.strip() for l in f if l.strip()]` over a file opened in text mode: its lines (a file
    read from before, `next(f)` of a header, is not walked again from its start)."""
    case.write("main.py", HANDLE.format(read=ITERATED[read]))
    (case.dir / "labels.txt").write_text("\n".join(labels) + "\n\n")
    case.torch("import torch, torch.nn as nn\n"
               "torch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")
