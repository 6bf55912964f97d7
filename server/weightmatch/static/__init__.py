"""The static fallback: a model's expected state inferred from source without running
it (and without importing torch). Exact or nothing: `build_static` either returns an
ExpectedState(how="static") or raises StaticUnsupported with a reason for the user."""

from .builder import build_static
from .values import StaticUnsupported

__all__ = ["build_static", "StaticUnsupported"]
