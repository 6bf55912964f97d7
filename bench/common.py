"""Shared helpers of the benchmarks: machine description, timing, /proc counters, processes."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
WEIGHTMATCH = str(Path(PYTHON).with_name("weightmatch"))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine -----------------------------------------------------------------
def machine() -> dict:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    torch_version = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True).stdout.strip() or "not installed"
    py = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                        capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "python": py,
        "torch": torch_version,
        "os": f"{platform.system()} {platform.release()}",
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


# -- statistics --------------------------------------------------------------------
def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of xs."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


# -- /proc -----------------------------------------------------------------------
def proc_io(pid: int | str = "self") -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        k, v = line.split(":")
        out[k.strip()] = int(v)
    return out


def proc_mem(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes (empty once it has exited)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def children(pid: int) -> list[int]:
    """Direct children of pid (from /proc/<pid>/task/*/children)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class MemorySampler:
    """Samples VmRSS of a process and of its model worker (a child running
    `weightmatch.worker`) every `interval` seconds, keeping the peaks and the
    kernel's high-water marks (VmHWM)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = {"server_rss": 0, "server_hwm": 0, "worker_rss": 0, "worker_hwm": 0}
        self.worker_pids: set[int] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sample(self) -> None:
        m = proc_mem(self.pid)
        if m:
            self.peak["server_rss"] = max(self.peak["server_rss"], m.get("VmRSS", 0))
            self.peak["server_hwm"] = max(self.peak["server_hwm"], m.get("VmHWM", 0))
        for child in children(self.pid):
            if "weightmatch.worker" in cmdline(child):
                if cmdline(child).startswith("unshare "):  # the sandboxed worker is unshare's child
                    inner = children(child)
                    if not inner:
                        continue
                    child = inner[0]
                self.worker_pids.add(child)
                w = proc_mem(child)
                self.peak["worker_rss"] = max(self.peak["worker_rss"], w.get("VmRSS", 0))
                self.peak["worker_hwm"] = max(self.peak["worker_hwm"], w.get("VmHWM", 0))
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


# -- page cache --------------------------------------------------------------------
def evict(path: str | os.PathLike) -> None:
    """Drop one file's pages from the page cache (posix_fadvise DONTNEED; no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path: str | os.PathLike) -> None:
    """Read a file through once so its pages are in the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 24):
            pass


def drop_caches_works() -> bool:
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        return True
    except OSError:
        return False


# -- subprocesses --------------------------------------------------------------------
def run_json(code: str, *args: str, timeout: float = 900, cwd: str | None = None) -> dict:
    """Run `code` in a fresh interpreter; its last stdout line is a JSON object."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([PYTHON, "-c", code, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def fmt_s(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float | None) -> str:
    if n is None or n != n:
        return "n/a"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def fmt_ratio(x: float) -> str:
    if x != x:
        return "n/a"
    return f"{x:,.0f}×" if x >= 10 else f"{x:.2f}×"
