"""Writes the examples' checkpoints: runs each example's make_ckpt.py in its folder.

The examples reproduce the scenarios of the shared oracle cases; each make_ckpt.py
writes its checkpoint(s) into the example's workspace/ with real PyTorch.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*/make_ckpt.py")):
        result = subprocess.run([sys.executable, script.name], cwd=script.parent, capture_output=True, text=True)
        if result.returncode != 0:
            failed += 1
            print(f"{script.parent.name}: make_ckpt.py failed:\n{result.stderr[-2000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
