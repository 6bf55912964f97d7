"""One helper for every string a user sees that may come from a file: a checkpoint's keys
and globals, paths, messages quoting them, source lines.

A checkpoint is untrusted, and its keys end up in the terminal (`weightmatch check`),
in hover markdown and in the viewer. A key holding `ESC[2J` would clear the screen, a
newline would forge an extra `= …` line, a right-to-left override would reorder what
is shown. `visible` writes such characters as escapes (`\\x1b`, `\\n`, `\\u202e`), the
way Python's repr does, and leaves every other character alone.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible formatting characters that change how the
# text around them reads: zero-width characters, bidirectional embeddings, overrides and
# isolates, line/paragraph separators, BOM, interlinear annotations.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, keep_tabs: bool = False) -> str:
    """`text` with control and invisible formatting characters written as escapes."""
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():  # the usual case, one C call (isprintable is False for all of the above)
        return text
    if keep_tabs:
        return "\t".join(_UNSAFE.sub(_escape, part) for part in text.split("\t"))
    return _UNSAFE.sub(_escape, text)


def markdown_code(text: object) -> str:
    """`text` as inline code in Markdown: visible, and fenced so backticks cannot end it."""
    text = visible(text)
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
