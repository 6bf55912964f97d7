"""Editor latency on a real repository's file over real LSP (issue 11, item 9).

    python bench/b_real_edits.py /work/repos/litgpt tests/test_model.py [--edits 20] [--gap 0.3] [--at top]

Starts `python -m weightmatch serve` over stdio (bench/lsp_session.py: pygls's client with
VS Code's recorded capabilities, workspace trusted, so the model worker may build), opens
the file, waits for its first diagnostics, then makes `--edits` comment edits `--gap`
seconds apart (a different comment line at the end each time: edits that cannot change
any model, each a text the server has not seen) and times each didChange → publishDiagnostics of that version.
`--at top` puts the comment line first instead, so every line below it moves.
Prints the cold first-diagnostics time and the edits' p50/p95/max, and how many builds
the worker was asked for (its log lines). Nothing of the repository is copied here; the
script skips when the folder is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lsp_session import Session  # noqa: E402


async def measure(root: Path, rel: str, edits: int, gap: float, at: str = "end") -> dict:
    session = Session(root)
    await session.start()
    try:
        path = root / rel
        uri, t0 = session.open(path)
        t1, diagnostics = await session.publish_for(uri, t0, version=1)
        first = t1 - t0
        codes = sorted({str(d.code) for d in diagnostics})
        base = session.texts[uri]
        latencies = []
        for i in range(edits):
            await asyncio.sleep(gap)
            comment = f"# weightmatch bench: comment edit {i}\n"  # a new text each time
            text = comment + base if at == "top" else base + comment
            version, t = session.change(uri, text)
            t2, _ = await session.publish_for(uri, t, version=version)
            latencies.append(t2 - t)
        builds = len(session.worker_logs("model worker: built")) + len(session.worker_logs("model worker: build failed"))
    finally:
        await session.stop()
    latencies.sort()
    return {"first": first, "codes": codes, "latencies": latencies, "builds": builds,
            "p50": statistics.median(latencies),
            "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
            "max": latencies[-1]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("file")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.3)
    ap.add_argument("--at", choices=("end", "top"), default="end")
    a = ap.parse_args()
    if not (a.root / a.file).is_file():
        print(f"skipped: {a.root / a.file} is not there (fetch the repository first)")
        return 0
    began = time.perf_counter()
    r = asyncio.run(measure(a.root.resolve(), a.file, a.edits, a.gap, a.at))
    print(f"{a.root.name}/{a.file}: first diagnostics {r['first'] * 1000:.0f} ms ({', '.join(r['codes'])}); "
          f"{len(r['latencies'])} comment edits at the {a.at} {a.gap * 1000:.0f} ms apart: didChange -> publish "
          f"p50 {r['p50'] * 1000:.1f} ms, p95 {r['p95'] * 1000:.1f} ms, max {r['max'] * 1000:.1f} ms; "
          f"worker builds logged: {r['builds']} (session {time.perf_counter() - began:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
