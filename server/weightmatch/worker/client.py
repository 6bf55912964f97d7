"""The engine's side of the model worker: process management, no torch.

One child process (`python -m weightmatch.worker` in the configured interpreter) serves
builds one at a time. It imports torch once, at `start()`, and is replaced whenever it
dies, runs past the time limit, or cannot be trusted any more.

Time limits: waiting for a fresh child to be ready (interpreter start + `import torch`,
2–3 s here, much more on a cold disk) is limited on its own by STARTUP_TIMEOUT (or
`timeout` when larger); each build then gets the full `timeout`. A slow torch import thus
never eats into a build's time, and a build's limit means the same on the first call as
on the hundredth.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from weightmatch.types import ExpectedState, Recipe
from weightmatch.worker import protocol
from weightmatch.worker.precheck import cannot_succeed, facts_for

STARTUP_TIMEOUT = 60.0
Log = Callable[[str, str], None]


class BuildError(Exception):
    """A build that produced no model. `kind` is one of KINDS."""

    KINDS = ("no-torch", "timeout", "memory", "crash", "user-code", "unresolved")

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def _package_parent() -> str:
    import weightmatch

    return os.path.dirname(os.path.dirname(os.path.abspath(weightmatch.__file__)))


@dataclass
class _Child:
    proc: subprocess.Popen
    replies: "queue.Queue[dict[str, Any] | None]" = field(default_factory=queue.Queue)
    ready: threading.Event = field(default_factory=threading.Event)
    hello: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    stderr_tail: "deque[str]" = field(default_factory=lambda: deque(maxlen=20))

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class _Cached:
    files: dict[str, int | None]  # workspace file -> mtime_ns when the build read it
    state: ExpectedState | None
    error: BuildError | None


class WorkerClient:
    def __init__(
        self,
        python: str = sys.executable,
        timeout: float = 30.0,
        memory_mb: int = 4096,
        log: Log | None = None,
    ) -> None:
        self.python = python
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._log = log or (lambda level, message: None)
        self._request_lock = threading.Lock()  # one build or probe at a time
        self._child_lock = threading.Lock()  # guards self._child (held briefly)
        self._child: _Child | None = None
        self._next_id = 0
        self._cache: dict[str, _Cached] = {}
        self.requests = 0  # builds sent to the worker
        self.skipped = 0  # builds answered without it: they could not succeed
        self._cache_lock = threading.Lock()
        self._closed = False
        self._last_hello: dict[str, Any] = {}  # the newest child's greeting (python, torch)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Spawn the child so it imports torch in the background; returns at once."""
        self._closed = False
        try:
            self._ensure_child()
        except BuildError as exc:
            self._log("error", f"model worker: {exc.message}")

    def close(self) -> None:
        self._closed = True
        with self._child_lock:
            child, self._child = self._child, None
        if child is not None:
            self._kill(child, "closed")

    def __enter__(self) -> "WorkerClient":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def build(self, recipe: Recipe, read: dict[str, Any] | None = None) -> ExpectedState:
        """The model `recipe` makes, built on the meta device in the child (how="executed").

        Results and deterministic failures are cached by what the build read (precheck.py:
        the replayed statements, the recipe, the mtimes of the workspace files it imported).
        A recipe whose constructor names what nothing at module level binds is answered
        without the worker. Raises BuildError. `read` receives the workspace files the build
        imported, with their mtimes.
        """
        facts = facts_for(recipe.source, recipe.file)
        keys = [recipe.cache_key()]
        if facts.definitions:
            keys.append("defs:" + recipe.key_with(facts.definitions, tag="definitions"))
            keys.append("fail:" + recipe.key_with(facts.definitions + "\0" + facts.failure_part
                                                  + "\0" + str(recipe.constructor_line), tag="failure"))
        hit = self._first_hit(keys, read)
        if hit is not None:
            return hit
        doomed = cannot_succeed(facts, recipe.file, recipe.var, recipe.constructor, recipe.constructor_line,
                                set(recipe.script_globals))
        if doomed is not None:
            self.skipped += 1
            self._log("info", f"model worker: not asked, cannot succeed: {doomed[0]}: {doomed[1]}")
            raise BuildError(*doomed)
        with self._request_lock:
            # another thread may have built it meanwhile
            hit = self._first_hit(keys, read)
            if hit is not None:
                return hit
            began = time.monotonic()
            self.requests += 1
            raw = self._request({"op": "build", "recipe": protocol.recipe_to_message(recipe)})
            try:  # untrusted: user code ran in the worker and can write to the channel
                reply = protocol.check_reply(raw, BuildError.KINDS)
                files = {path: _mtime(path) for path in reply["files"]}
                if read is not None:
                    read.update(files)
                state = protocol.unpack_state(reply["state"], reply["notes"]) if reply["ok"] else None
                if state is not None:
                    state.holder = str(reply.get("holder") or "")
            except protocol.BadReply as exc:
                self._replace_current(f"malformed reply: {exc}")
                raise BuildError("crash", f"the worker's reply was malformed ({exc}); it was restarted") from None
            if state is not None:
                self._log("info", f"model worker: built {state.model_type} ({len(state.modules)} modules) "
                                  f"in {time.monotonic() - began:.2f}s")
                for key in keys[:2]:  # not under the failure key: a success names no line
                    self._store(key, _Cached(files, state, None))
                return _copy(state)
            error = BuildError(reply["kind"], reply["message"])
            self._log("info", f"model worker: build failed: {error}")
            for key in keys[::2]:  # the full text's key and the failure key
                self._store(key, _Cached(files, None, error))
            raise error

    def probe(self) -> dict[str, Any]:
        """What the configured interpreter offers: python, torch and torchvision versions."""
        base = {"python": None, "torch": None, "torchvision": None, "torchvision_note": None, "error": None}
        with self._request_lock:
            try:
                reply = self._request({"op": "probe"})
            except BuildError as exc:
                return {**base, "python": self._last_hello.get("python"), "error": exc.message}
        found = reply.get("probe")
        return {**base, **(found if isinstance(found, dict) else {})}

    # ------------------------------------------------------------------ internals
    def _first_hit(self, keys: list[str], read: dict[str, Any] | None = None) -> ExpectedState | None:
        for key in keys:
            hit = self._cached(key, read)  # raises the cached BuildError of a failure
            if hit is not None:
                return hit
        return None

    def _cached(self, key: str, read: dict[str, Any] | None = None) -> ExpectedState | None:
        with self._cache_lock:
            entry = self._cache.get(key)
        if entry is None:
            return None
        if any(_mtime(path) != mtime for path, mtime in entry.files.items()):
            with self._cache_lock:
                self._cache.pop(key, None)
            return None
        if read is not None:
            read.update(entry.files)
        if entry.error is not None:
            raise BuildError(entry.error.kind, entry.error.message)
        return _copy(entry.state)  # type: ignore[arg-type]

    def _store(self, key: str, entry: _Cached) -> None:
        with self._cache_lock:
            if len(self._cache) >= 256:  # editors make a new recipe per keystroke
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = entry

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        child = self._ensure_child()
        startup_limit = max(STARTUP_TIMEOUT, self.timeout)
        if not child.ready.wait(max(0.0, startup_limit - (time.monotonic() - child.started))):
            self._replace(child, "did not finish importing torch in time")
            raise BuildError("timeout", f"the worker did not finish importing torch within {startup_limit:.0f}s")
        if child.hello.get("torch") is None:
            self._replace(child, "no torch", respawn=False)
            error = str(child.hello.get("error"))
            if any(sign in error for sign in ("MemoryError", "failed to map segment", "annot allocate memory")):
                raise BuildError("memory", f"importing torch needs more than the {self.memory_mb} MB "
                                           f"the worker may use: {child.hello['error']}")
            tail = [t for t in child.stderr_tail if t.strip()]
            detail = child.hello.get("error") or ("the worker exited during start-up"
                                                  + (f": {tail[-1]}" if tail else ""))
            raise BuildError("no-torch", f"torch cannot be imported by {self.python}: {detail}")
        self._next_id += 1
        message["id"] = self._next_id
        try:
            child.proc.stdin.write(protocol.dumps(message))  # type: ignore[union-attr]
            child.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # the child is gone; the reader reports it below
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                reply = child.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._replace(child, "time limit")
                raise BuildError("timeout", f"stopped after {self.timeout:g}s (the time limit)") from None
            if reply is None:
                code = child.proc.wait()
                self._replace(child, f"exited with {code}")
                how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
                if code == -signal.SIGKILL:
                    how += " (maybe the system ran out of memory)"
                raise BuildError("crash", f"the worker process {how} during the build")
            if reply.get("id") == message["id"]:
                return reply

    def _replace_current(self, why: str) -> None:
        with self._child_lock:
            child = self._child
        if child is not None:
            self._replace(child, why)

    def _ensure_child(self) -> _Child:
        with self._child_lock:
            if self._child is not None and self._child.alive():
                return self._child
            self._child = self._spawn()
            return self._child

    def _spawn(self) -> _Child:
        env = dict(os.environ)
        parent = _package_parent()
        env["PYTHONPATH"] = parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYTHONIOENCODING"] = "utf-8"
        cmd = [*sandbox_prefix(), self.python, "-m", "weightmatch.worker", "--memory-mb", str(int(self.memory_mb))]
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=parent, env=env,
                # own process group, so a stop kills whatever user code spawned too
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        except OSError as exc:
            raise BuildError("no-torch", f"cannot run {self.python}: {exc}") from exc
        child = _Child(proc)
        self._log("info", f"model worker: started pid {proc.pid} with {self.python}"
                          + (" (sandboxed: own pid and network namespaces)" if cmd[0] == "unshare" else ""))
        threading.Thread(target=self._read_replies, args=(child,), daemon=True, name="wm-worker-out").start()
        threading.Thread(target=self._read_stderr, args=(child,), daemon=True, name="wm-worker-err").start()
        return child

    def _read_replies(self, child: _Child) -> None:
        stream = child.proc.stdout
        assert stream is not None
        while True:
            line = stream.readline(protocol.MAX_LINE_BYTES + 1)  # bounded: a line without end cannot grow forever
            if not line:
                break
            if len(line) > protocol.MAX_LINE_BYTES:
                self._log("warning", "model worker: a reply line over the size limit; stopping the worker")
                self._kill(child, "reply over the size limit")
                break
            try:
                message = protocol.loads(line)
            except ValueError as exc:
                self._log("warning", f"model worker: bad line ({exc}): {line[:200]!r}")
                continue
            if message.get("event") == "ready" and not child.ready.is_set():
                child.hello = self._last_hello = message
                child.ready.set()
                self._log("info", f"model worker: ready in {time.monotonic() - child.started:.2f}s "
                                  f"(python {message.get('python')}, torch {message.get('torch')}; "
                                  f"{message.get('sandbox') or 'not confined'})")
            else:
                child.replies.put(message)
        child.ready.set()  # EOF: whoever waits for readiness learns the child is gone
        child.replies.put(None)

    def _read_stderr(self, child: _Child) -> None:
        stream = child.proc.stderr
        assert stream is not None
        for line in stream:
            text = line.decode("utf-8", "replace").rstrip()
            child.stderr_tail.append(text)
            self._log("debug", "worker: " + text)

    def _replace(self, child: _Child, why: str, respawn: bool = True) -> None:
        """Kill `child` (if still current, forget it) and start a fresh one for the next build."""
        self._kill(child, why)
        with self._child_lock:
            if self._child is child:
                self._child = None
        if respawn and not self._closed:
            self._ensure_child()

    def _kill(self, child: _Child, why: str) -> None:
        if child.alive():
            self._log("info", f"model worker: stopping pid {child.proc.pid} ({why})")
            try:
                if hasattr(os, "killpg"):
                    os.killpg(child.proc.pid, signal.SIGKILL)  # the child and anything it spawned
                else:
                    child.proc.kill()
            except (ProcessLookupError, PermissionError):
                child.proc.kill()
        try:
            child.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            child.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass  # stdout/stderr are left to the reader threads, which end at EOF


# -- the sandbox ------------------------------------------------------------------------
# Where util-linux's `unshare` can create namespaces (Linux with user namespaces allowed),
# the worker runs in its own user, pid and network namespaces: it sees no process outside
# (so it cannot signal the CLI or the language server that started it) and has no
# network (only a loopback interface that is down). It still reads and writes files as
# the user; see README, "Reliability". WEIGHTMATCH_WORKER_SANDBOX=0 turns it off.
_SANDBOX = ["unshare", "--user", "--map-current-user", "--pid", "--net", "--kill-child", "--"]
_sandbox_checked: list[str] | None = None
_sandbox_lock = threading.Lock()


def sandbox_prefix() -> list[str]:
    """The command prefix that starts the worker sandboxed, or [] where that is not possible."""
    global _sandbox_checked
    if os.environ.get("WEIGHTMATCH_WORKER_SANDBOX", "1") == "0" or not sys.platform.startswith("linux"):
        return []
    with _sandbox_lock:
        if _sandbox_checked is None:
            _sandbox_checked = []
            try:
                probe = subprocess.run([*_SANDBOX, "true"], capture_output=True, timeout=10)
                if probe.returncode == 0:
                    _sandbox_checked = list(_SANDBOX)
            except (OSError, subprocess.SubprocessError):
                pass
        return list(_sandbox_checked)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _copy(state: ExpectedState) -> ExpectedState:
    # Callers may add notes or re-home modules; the cached object stays as built.
    return ExpectedState(dict(state.modules), state.how, state.model_type, list(state.notes), state.holder,
                         dict(state.tied))
