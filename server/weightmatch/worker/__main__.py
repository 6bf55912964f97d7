"""The worker child: `python -m weightmatch.worker [--memory-mb N]`.

Protocol (protocol.py) on the original stdin/stdout, which are moved to private file
descriptors first; fd 0 then reads /dev/null and fd 1 writes to stderr, so neither user
code's `print`/`input` nor a C library's printf can touch the channel. Everything that
reaches stderr is the client's log.
"""

from __future__ import annotations

import gc
import os
import platform
import sys


def _private_channel() -> tuple[object, object]:
    fd_in = os.dup(0)
    fd_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd_in, "rb"), os.fdopen(fd_out, "wb", buffering=0)


def _die_with_parent(channel_fd: int | None = None) -> None:
    """An orphaned worker stuck in a user's endless loop must not run on: a thread watches
    the parent pid and the channel (when the client's end closes, the pipe reports a
    hang-up; in the sandbox's own pid namespace the parent pid is not visible, so the
    channel is what tells). (Not PR_SET_PDEATHSIG: it fires when the *thread* that
    spawned us exits, and the client may spawn from a short-lived thread.)"""
    import select
    import threading
    import time

    parent = os.getppid()
    poller = None
    if channel_fd is not None and hasattr(select, "poll"):
        poller = select.poll()
        poller.register(channel_fd, 0)  # no events asked: only POLLHUP/POLLERR wake it

    def watch() -> None:
        while os.getppid() == parent:
            if poller is not None:
                if poller.poll(1000):
                    break
            else:
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _limit_resources(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: MemoryError still maps to "memory"
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core file
    except (ValueError, OSError):
        pass
    if memory_mb <= 0:
        return
    try:
        limit = memory_mb * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def main(argv: list[str]) -> int:
    memory_mb = int(argv[argv.index("--memory-mb") + 1]) if "--memory-mb" in argv else 0
    channel_in, channel_out = _private_channel()
    from weightmatch.worker import protocol

    def send(message: dict) -> None:
        channel_out.write(protocol.dumps(message))

    _die_with_parent(channel_in.fileno())
    _limit_resources(memory_mb)
    hello = {"event": "ready", "python": platform.python_version(), "executable": sys.executable,
             "torch": None, "error": None}
    try:
        import torch

        hello["torch"] = torch.__version__
        torch.set_num_threads(1)  # building on meta computes nothing; leave the cores to the editor
        from weightmatch.worker import build
    except BaseException as exc:  # noqa: BLE001 - no torch (or a broken one): say so and stop
        hello["error"] = f"{type(exc).__name__}: {exc}"
        send(hello)
        return 0
    build.install_permanent_patches()
    # torch's own objects (hundreds of thousands) live as long as the worker: move them out
    # of the collector's reach, so the gc.collect() after each build scans only what the
    # build made (≈15 ms instead of ≈200 ms, which the next build had to wait for).
    gc.collect()
    gc.freeze()
    if os.environ.get("WEIGHTMATCH_WORKER_SANDBOX", "1") != "0":
        from weightmatch.worker import landlock

        hello["sandbox"] = landlock.confine()  # before any user code: writes, TCP, signals
    send(hello)

    for line in channel_in:
        if not line.strip():
            continue
        message = protocol.loads(line)
        mid = message.get("id")
        op = message.get("op")
        try:
            if op == "build":
                reply = build.build(message["recipe"])
            elif op == "probe":
                reply = {"ok": True, "probe": _probe(hello)}
            elif op == "exit":
                return 0
            else:
                reply = {"ok": False, "kind": "crash", "message": f"unknown op {op!r}"}
        except BaseException as exc:  # noqa: BLE001 - never let one request kill the worker
            reply = {"ok": False, "kind": "crash", "message": f"worker error: {type(exc).__name__}: {exc}"}
        reply["id"] = mid
        with protocol.gc_paused():
            data = protocol.dumps(reply)
        del reply
        channel_out.write(data)
        gc.collect()
    return 0


def _probe(hello: dict) -> dict:
    from weightmatch.worker import torchvision_compat

    out = {"python": hello["python"], "executable": hello["executable"], "torch": hello["torch"],
           "torchvision": None, "torchvision_note": None, "error": hello["error"]}
    try:
        import torchvision

        out["torchvision"] = torchvision.__version__
    except Exception as exc:  # noqa: BLE001
        out["torchvision_note"] = f"torchvision is not importable: {type(exc).__name__}: {exc}"
    else:
        out["torchvision_note"] = torchvision_compat.note()
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
