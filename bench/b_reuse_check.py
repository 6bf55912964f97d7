"""Is a reused analysis the analysis? Random comment edits on a real repository (issue 11, item 9).

    PYTHONPATH=server python bench/b_reuse_check.py /work/repos/litgpt [--files 1000] [--seed 5]

For every Python file of the repository with a load (up to `--files`, in a seeded random
order), three edits each: a comment line, a blank line, or both, inserted before a random
line (at that line's indentation). Each edited text is analysed by the editor's kind of
Project (`reuse=True`, static inference only), which reuses the file's last analysis when
the edit is a pure shift (server/weightmatch/reuse.py); every reused answer is compared
whole (findings and reports) with a new Project's analysis of the same text. A difference
is counted as the reuse's only when the Project's own analysis of the unedited text equals
a new Project's (else the engine's answer depended on what it analysed before, with or
without reuse). Nothing of the repository is copied here; the script skips when the folder
is absent.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from weightmatch.project import Project, Settings


def _new(root: str, path: str, text: str):
    project = Project(root, Settings(execute=False))
    project.set_document(path, text)
    return project.analyze(path)


def check(root: str, files: int, seed: int) -> dict:
    rng = random.Random(seed)
    paths = sorted(str(p) for p in Path(root).rglob("*.py") if "/." not in str(p))
    rng.shuffle(paths)
    project = Project(root, Settings(execute=False), reuse=True)
    out = {"edits": 0, "reused": 0, "differ": 0, "history": 0}
    for path in paths[:files]:
        text = Path(path).read_text(errors="replace")
        if len(text) > 200_000:
            continue
        project.set_document(path, text)
        base = project.analyze(path)
        if not base.findings and not base.reports:
            continue
        lines = text.split("\n")
        for _ in range(3):
            at = rng.randrange(len(lines) + 1)
            indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())] if at < len(lines) else ""
            added = rng.choice([[indent + "# a comment"], [""], ["", indent + "# two lines"]])
            new = "\n".join(lines[:at] + added + lines[at:])
            hits = project.reuse.hits
            project.set_document(path, new)
            reused = project.analyze(path)
            out["edits"] += 1
            if project.reuse.hits > hits:
                out["reused"] += 1
                fresh = _new(root, path, new)
                if (reused.findings, reused.reports) != (fresh.findings, fresh.reports):
                    before = _new(root, path, text)
                    if (base.findings, base.reports) != (before.findings, before.reports):
                        out["history"] += 1
                    else:
                        out["differ"] += 1
                        print(f"differs: {path}, {added!r} before line {at + 1}")
            project.set_document(path, text)
            project.analyze(path)
        project.close_document(path)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    if not a.root.is_dir():
        print(f"skipped: {a.root} is not there (fetch the repository first)")
        return 0
    began = time.perf_counter()
    r = check(str(a.root.resolve()), a.files, a.seed)
    print(f"{a.root.name}: {r['edits']} comment edits, {r['reused']} reused; differing from a new Project's "
          f"analysis: {r['differ']} (plus {r['history']} where the unedited text's answer already did) "
          f"({time.perf_counter() - began:.0f} s)")
    return 1 if r["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
