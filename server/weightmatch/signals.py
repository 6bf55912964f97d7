"""How the interpreted program stops early: a `return` that surely runs ends its function, a
`sys.exit()` that surely runs ends the program."""

from __future__ import annotations


class ReturnSignal(Exception):
    """A `return` (or `raise`) that surely runs: the rest of the function does not."""


class ExitSignal(Exception):
    """`sys.exit()` (or `parser.error()`) that surely runs, outside any `try`: the program stops."""

    def __init__(self, where: str, path: str, line: int):
        super().__init__(where)
        self.where = where  # "`sys.exit(1)` at neural_style.py:252"
        self.path, self.line = path, line
