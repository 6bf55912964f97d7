"""Helpers shared by the analysis tests."""


def codes(analysis) -> list[tuple[str, str, int]]:
    """(code, severity, 1-based line) of each finding, sorted."""
    return sorted((f.code, f.severity, f.span.line + 1) for f in analysis.findings)
