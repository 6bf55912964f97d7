"""Every handler isolates its failures: log the traceback, answer with an empty result.

A language server that dies on a corrupt checkpoint or a half-typed line takes the
editor's squiggles, hovers and lenses with it, so no exception leaves a handler.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def report_exception(server: Any, where: str) -> None:
    text = f"{where} failed:\n{traceback.format_exc()}"
    print(f"weightmatch: {text}", file=sys.stderr, flush=True)
    try:
        server.log("error", text)
    except Exception:  # the log itself must not fail the handler either
        pass


def isolated(default: Callable[[], Any] = lambda: None) -> Callable[[F], F]:
    """Wrap a feature handler `(ls, params)` so an exception becomes `default()` and a log line."""

    def wrap(handler: F) -> F:
        name = handler.__qualname__
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(ls, *args, **kwargs):
                try:
                    return await handler(ls, *args, **kwargs)
                except Exception:
                    report_exception(ls, name)
                    return default()

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(ls, *args, **kwargs):
            try:
                return handler(ls, *args, **kwargs)
            except Exception:
                report_exception(ls, name)
                return default()

        return run  # type: ignore[return-value]

    return wrap
