"""The one exception a checkpoint reader lets out."""

from __future__ import annotations

NOT_FOUND = "checkpoint-not-found"
UNREADABLE = "checkpoint-unreadable"


class CheckpointError(Exception):
    """A checkpoint that cannot be read; `str(e)` is one line naming the file and the problem.

    `code` is the diagnostic code the editor and CLI show: "checkpoint-not-found" or
    "checkpoint-unreadable".
    """

    def __init__(self, code: str, message: str, path: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.shard = ""  # a sharded index's shard that is missing (the index itself is there)

    def __reduce__(self):  # picklable, so a worker process can hand one back
        return (type(self), (self.code, self.message, self.path))


def unreadable(path: str, why: str) -> CheckpointError:
    return CheckpointError(UNREADABLE, f"cannot read checkpoint {path}: {why}", path)


def not_found(path: str, why: str = "no such file") -> CheckpointError:
    return CheckpointError(NOT_FOUND, f"checkpoint {path} not found: {why}", path)
