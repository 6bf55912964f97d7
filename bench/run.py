"""Weight Match benchmarks: one command writes bench/RESULTS.md.

    .venv/bin/python bench/run.py                 # the full run (several minutes, ~5 GB of disk)
    .venv/bin/python bench/run.py --quick --out /tmp/R.md --data /tmp/d   # tiny sizes, seconds

See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import b_answer, b_editor, b_read, b_scale  # noqa: E402
from bench.common import BENCH, drop_caches_works, log, machine  # noqa: E402
from bench.data import big_checkpoint, big_script, many_checkpoint  # noqa: E402
from bench.report import write_report  # noqa: E402

FULL = {
    "big_layers": 40, "big_dim": 4096, "many": 1000, "read_runs": 5, "read_modes": ("cold", "warm"),
    "answer_user_runs": 3, "answer_check_runs": 5, "answer_modes": ("warm", "cold"),
    "edits": 40, "hovers": 100,
    "scale_tensors": 100_000, "scale_shards": 10, "scale_warm_edits": 6, "project_files": 1000, "project_loads": 50,
}
QUICK = {
    "big_layers": 4, "big_dim": 256, "many": 50, "read_runs": 1, "read_modes": ("cold",),
    "answer_user_runs": 1, "answer_check_runs": 1, "answer_modes": ("warm",),
    "edits": 3, "hovers": 5,
    "scale_tensors": 200, "scale_shards": 2, "scale_warm_edits": 1, "project_files": 20, "project_loads": 3,
}
SECTIONS = ("read", "answer", "editor", "scale")


def run(config: dict, data: Path, sections=SECTIONS) -> dict:
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
                     "drop_caches_available": drop_caches_works()}
    big = data / f"big-{config['big_layers']}x{config['big_dim']}.pt"
    if "read" in sections or "answer" in sections:
        big_checkpoint(big, config["big_layers"], config["big_dim"])
    t0 = time.perf_counter()
    if "read" in sections:
        many = many_checkpoint(data / f"many-{config['many']}.pt", config["many"])
        warmup = many_checkpoint(data / "warmup-4.pt", 4)
        results["read"] = b_read.run({"big": big, "many": many}, warmup, config["read_runs"], config["read_modes"])
    if "answer" in sections:
        script = big_script(data / "answer", big, config["big_layers"], config["big_dim"])
        results["answer"] = b_answer.run(script, big, config["answer_user_runs"], config["answer_check_runs"],
                                         config["answer_modes"])
    if "editor" in sections:
        log("editor latency over LSP")
        results["editor"] = b_editor.run(data / "editor", config["edits"], config["hovers"])
    if "scale" in sections:
        results["scale"] = b_scale.run(data, config["scale_tensors"], config["scale_shards"], config["scale_warm_edits"],
                                       config["project_files"], config["project_loads"])
    results["seconds"] = time.perf_counter() - t0
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark runs")
    p.add_argument("--data", type=Path, default=BENCH / ".data", help="where generated inputs go (default bench/.data)")
    p.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="the report (default bench/RESULTS.md)")
    p.add_argument("--json", type=Path, help="also write the raw results here (default: <data>/results.json)")
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    p.add_argument("--keep-data", action="store_true", help="keep the big checkpoint (deleted by default)")
    args = p.parse_args(argv)
    config = QUICK if args.quick else FULL
    sections = tuple(args.only or SECTIONS)
    results = run(config, args.data, sections)
    results["quick"] = args.quick
    json_path = args.json or args.data / "results.json"
    json_path.write_text(json.dumps(results, indent=1, default=str))
    write_report(results, args.out)
    log(f"wrote {args.out} and {json_path} in {results['seconds']:.0f}s")
    if not args.keep_data:
        for big in args.data.glob("big-*.pt"):
            big.unlink()
            log(f"deleted {big}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
