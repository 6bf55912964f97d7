"""`weightmatch check --help` describes every option."""

from __future__ import annotations

import argparse

from ci_helpers import cli
from weightmatch.cli import build_parser


def _check_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["check"]


def test_every_option_has_help_text_and_shows_in_help(tmp_path):
    parser = _check_parser()
    options = [a for a in parser._actions if a.option_strings]
    assert len(options) >= 18
    p = cli("check", "--help", cwd=tmp_path)
    assert p.returncode == 0
    for action in options:
        assert action.help and action.help != argparse.SUPPRESS and len(action.help) > 15, action.option_strings
        for flag in action.option_strings:
            assert flag in p.stdout, flag
    for needle in ("--output-format", "github", "sarif", "--format is an alias", "# weightmatch: ignore",
                   "[tool.weightmatch]", "weightmatch.toml", "Exit status"):
        assert needle in p.stdout, needle
