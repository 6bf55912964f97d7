"""codes.py lists every code: the engine's, the README's (the SARIF rules and --select use it)."""

from __future__ import annotations

import re

from cli_helpers import REPO
from weightmatch.codes import CODES


def test_every_code_the_engine_emits_is_listed():
    emitted = set()
    for path in (REPO / "server" / "weightmatch").rglob("*.py"):
        text = path.read_text()
        emitted |= set(re.findall(r'(?:Finding|Problem|unresolved|CheckpointError)\(\s*"([a-z]+(?:-[a-z]+)+)"', text))
    assert emitted >= {"size-mismatch", "missing-keys", "unresolved-model"}  # the search finds them
    assert emitted <= set(CODES), emitted - set(CODES)


def test_every_code_the_readme_names_is_listed():
    readme = (REPO / "README.md").read_text()
    para = readme[readme.index("\nCodes: "):]
    para = para[:para.index("\n\n")]
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", para))
    assert len(named) >= 14 and named <= set(CODES), named - set(CODES)
