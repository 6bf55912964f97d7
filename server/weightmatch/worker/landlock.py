"""Confine the worker's writes with Linux Landlock (issue 14, item 11).

After the worker has imported torch, and before it runs any user code, it calls `confine()`.
From then on the worker thread and every thread or process it starts can:
- write, create, rename or remove files only beneath a private temporary folder (TMPDIR points
  there) and write to /dev/null;
- not bind or connect TCP sockets (ABI 4 and later), which also covers machines where the
  network namespace is not available;
- not send signals to processes outside the sandbox, nor reach their abstract unix sockets
  (ABI 6 and later): user code cannot kill the CLI or the language server that started it.

Reading files stays allowed: building a model imports the user's modules.

Written by hand with ctypes, not with the `landlock` package on PyPI. That package is an alpha
release with no network or scope rules. The worker also runs in the *user's* interpreter,
where only our own package is on the path, so a dependency-free module is what lets the
sandbox apply wherever the worker runs. Everything here is a few syscalls, with the structure
layouts from linux/landlock.h.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import platform
import shutil
import sys
import tempfile

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_VERSION = 1  # LANDLOCK_CREATE_RULESET_VERSION
_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# LANDLOCK_ACCESS_FS_*: the rights that change the file system (reads and execution stay free)
_WRITE_FILE = 1 << 1
_WRITES_ABI1 = _WRITE_FILE | sum(1 << b for b in range(4, 13))  # REMOVE_DIR .. MAKE_SYM
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3
_NET_TCP = 1 | 2  # LANDLOCK_ACCESS_NET_BIND_TCP | CONNECT_TCP (ABI 4)
_SCOPES = 1 | 2  # LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | SIGNAL (ABI 6)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (not Linux, disabled, too old)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64", "arm64", "riscv64"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def confine() -> str:
    """Apply the confinement to this thread and what it starts. Returns what was done, for the
    log: "writes only to <folder>…", or why nothing could be done."""
    abi = abi_version()
    if abi < 1:
        return "no Landlock on this system: writes are not confined"
    libc = ctypes.CDLL(None, use_errno=True)
    writes = _WRITES_ABI1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(writes, _NET_TCP if abi >= 4 else 0, _SCOPES if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # the attribute's size this ABI knows
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"Landlock refused the ruleset ({os.strerror(ctypes.get_errno())}): writes are not confined"
    try:
        private = tempfile.mkdtemp(prefix="weightmatch-worker-")
        rules = [(private, writes), (os.devnull, _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0))]
        # folders the user (or a test's canary) lets the worker write to: WEIGHTMATCH_WORKER_WRITABLE=a:b
        rules += [(p, writes) for p in os.environ.get("WEIGHTMATCH_WORKER_WRITABLE", "").split(os.pathsep)
                  if p and os.path.isdir(p)]
        for path, allowed in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(allowed, fd)
                if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_PATH_BENEATH), ctypes.byref(rule),
                                ctypes.c_uint32(0)) < 0:
                    return f"Landlock refused a rule ({os.strerror(ctypes.get_errno())}): writes are not confined"
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 or \
                libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            return f"Landlock could not be applied ({os.strerror(ctypes.get_errno())}): writes are not confined"
    finally:
        os.close(ruleset)
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    atexit.register(shutil.rmtree, private, True)
    extra = "".join([", no TCP" if abi >= 4 else "", ", no signals or abstract sockets outside it" if abi >= 6 else ""])
    return f"Landlock ABI {abi}: writes only to {private}{extra}"
