"""Benchmark: an nn.Sequential of N nn.Linear against a checkpoint of its 2N tensors,
through `weightmatch check --no-exec` (issue 14, item 8: this was quadratic — N=1,000
2 s, 4,000 31 s, 10,000 did not finish — because the load-wide quick fixes were computed
again for each layer's finding).

    .venv/bin/python bench/b_layers.py [N ...]      (default 1000 2000 4000 10000)

Two checkpoints per N: one whose every layer is [5, 4] where the model has [4, 4] (N
size-mismatch findings, each with its fixes), one that matches (no finding). Prints the
wall time of each run and its time per layer; near-linear means the per-layer time
stays flat as N grows. Needs no torch: the checkpoints are written as safetensors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable


def write_case(folder: Path, n: int, out: int) -> Path:
    header, offset = {}, 0
    for i in range(n):
        for name, shape in ((f"{i}.weight", [out, 4]), (f"{i}.bias", [out])):
            size = 4 * shape[0] * (shape[1] if len(shape) > 1 else 1)
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * offset)
    layers = ",\n    ".join("nn.Linear(4, 4)" for _ in range(n))
    script = folder / "main.py"
    script.write_text("from safetensors.torch import load_file\nfrom torch import nn\n\n"
                      f"model = nn.Sequential(\n    {layers},\n)\n"
                      "model.load_state_dict(load_file('model.safetensors'))\n")
    return script


def run_case(n: int, mismatched: bool) -> tuple[float, int]:
    """Seconds of one `weightmatch check` run and the number of diagnostics."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_case(folder, n, 5 if mismatched else 4)
        env = {**os.environ, "PYTHONPATH": str(REPO / "server")}
        start = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "weightmatch", "check", "--no-exec", "--format", "json", "main.py"],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        took = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr[-2000:])
        return took, len(json.loads(proc.stdout)["diagnostics"])


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1000, 2000, 4000, 10000]
    print("| layers | mismatched: s | µs/layer | findings | matching: s | µs/layer |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        bad, findings = run_case(n, True)
        good, _ = run_case(n, False)
        print(f"| {n:,} | {bad:.2f} | {bad / n * 1e6:,.0f} | {findings:,} | {good:.2f} | {good / n * 1e6:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
