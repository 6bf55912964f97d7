"""Reach on real repositories: how many of their model loads Weight Match resolves.

    .venv/bin/python bench/real_repos.py /work/repos [--no-exec] [--out bench/REAL_REPOS.md]

The folder holds public repositories as fetched (one folder each: pytorch/examples, timm,
nanoGPT, yolov5, stable-diffusion, detectron2, CLIP, denoising-diffusion-pytorch, stargan,
litgpt, Swin-Transformer, dino). Nothing of theirs is copied into this repository; the script
skips when the folder is absent. For each repository it analyses every Python file the way
`weightmatch check` does (with the cross-file merge) and counts the `load_state_dict` calls on
modules: resolved (the model and what is loaded are known, so the verdict is PyTorch's) or not,
and why not (the first words of the reason).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from weightmatch.cli import python_files  # noqa: E402
from weightmatch.project import Project, Settings, resolved  # noqa: E402

REPOS = ("examples", "pytorch-image-models", "nanoGPT", "yolov5", "stable-diffusion", "detectron2", "CLIP",
         "denoising-diffusion-pytorch", "stargan", "litgpt", "Swin-Transformer", "dino")


def measure(repo: Path, execute: bool) -> dict:
    project = Project(str(repo), Settings(execute=execute, worker_timeout=20))
    calls: dict = {}
    known: dict = {}
    why: dict = {}
    errors = 0
    start = time.perf_counter()
    try:
        for path in python_files([str(repo)]):
            analysis = project.analyze(path, consult_importers=False)
            for report in analysis.reports:
                ok = resolved(report)
                calls[report.call] = calls.get(report.call, False) or ok
                known[report.call] = known.get(report.call, False) or report.how is not None
                for f in report.findings:
                    if f.code.startswith("unresolved"):
                        why[report.call] = _reason(f.message)
            errors += sum(1 for f in analysis.findings if f.severity == "error")
    finally:
        project.close()
    seconds = time.perf_counter() - start
    reasons = collections.Counter(why[c] for c, ok in calls.items() if not ok and c in why)
    return {"calls": len(calls), "resolved": sum(calls.values()), "known": sum(known.values()),
            "errors": errors, "seconds": seconds,
            "reasons": reasons}


def _reason(message: str) -> str:
    """The kind of reason, without the names of this repository: its first clause."""
    head = message.split(": ", 1)[-1] if message.startswith("Cannot") else message
    for cut in (" (", ": ", ", "):
        head = head.split(cut, 1)[0]
    words = [w for w in head.split() if not w.startswith("`")]
    return " ".join(words[:8])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--no-exec", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if not a.folder.is_dir():
        print(f"skipped: {a.folder} is not there (fetch the repositories first)")
        return 0
    rows = []
    for name in REPOS:
        repo = a.folder / name
        if not repo.is_dir():
            continue
        r = measure(repo, not a.no_exec)
        rows.append((name, r))
        print(f"{name}: {r['resolved']}/{r['calls']} loads resolved, model known for {r['known']}, "
              f"{r['errors']} error diagnostics, "
              f"{r['seconds']:.1f} s", flush=True)
    total_calls = sum(r["calls"] for _, r in rows)
    total_resolved = sum(r["resolved"] for _, r in rows)
    total_known = sum(r["known"] for _, r in rows)
    lines = ["| repository | module loads | model known | fully resolved | error diagnostics | check time |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {r['calls']} | {r['known']} | {r['resolved']} | {r['errors']} | {r['seconds']:.1f} s |"
              for n, r in rows]
    lines.append(f"| **total** | **{total_calls}** | **{total_known}** ({100 * total_known / max(total_calls, 1):.0f}%) "
                 f"| **{total_resolved}** ({100 * total_resolved / max(total_calls, 1):.0f}%) | | |")
    common = collections.Counter()
    for _, r in rows:
        common.update(r["reasons"])
    lines += ["", "Most common reasons a load stays unresolved (all repositories):", ""]
    lines += [f"- {n}× {reason}" for reason, n in common.most_common(12)]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
