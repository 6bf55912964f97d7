"""Fixtures for the checkpoint reader's tests: small real checkpoints made with torch."""

from __future__ import annotations

import pytest

# Figures the fuzz test fills in; printed at the end of the session.
FUZZ_STATS: dict[str, dict[str, float]] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if not FUZZ_STATS:
        return
    terminalreporter.section("checkpoint fuzz")
    total = sum(s["inputs"] for s in FUZZ_STATS.values())
    for seed, s in sorted(FUZZ_STATS.items()):
        terminalreporter.write_line(
            f"{seed:12s} inputs={int(s['inputs']):6d} failures={int(s['failures'])} "
            f"max={s['max'] * 1000:.1f} ms mean={s['total'] / max(s['inputs'], 1) * 1000:.2f} ms"
        )
    terminalreporter.write_line(f"{'total':12s} inputs={int(total):6d}")


@pytest.fixture
def canary(tmp_path):
    """A path a malicious pickle tries to create; the test asserts it never exists."""
    path = tmp_path / "CANARY"
    yield path
    assert not path.exists(), "pickle code ran while reading a checkpoint"
