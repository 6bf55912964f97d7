"""Fixtures for the model worker: one warm client per test module, recipes from source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from weightmatch.types import Recipe
from weightmatch.worker import WorkerClient


@pytest.fixture(scope="module")
def client():
    logs: list[tuple[str, str]] = []
    c = WorkerClient(timeout=30.0, log=lambda level, message: logs.append((level, message)))
    c.logs = logs  # type: ignore[attr-defined]
    c.start()
    yield c
    c.close()


@pytest.fixture
def make_recipe(tmp_path: Path):
    """make_recipe(source, constructor, steps=(), var="model", files={"models.py": "..."})"""

    def make(source: str, constructor: str, steps=(), var: str = "model", files=None, name="train.py") -> Recipe:
        for rel, text in (files or {}).items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        script = tmp_path / name
        text = textwrap.dedent(source)
        script.write_text(text)
        return Recipe(file=str(script), source=text, root=str(tmp_path), var=var,
                      constructor=constructor, steps=list(steps))

    return make


def real_keys(model) -> dict[str, tuple[tuple[int, ...] | None, str]]:
    """state_dict keys of a model built normally in this process, as (shape, dtype)."""
    import torch
    from torch.nn.parameter import is_lazy

    out = {}
    for key, t in model.state_dict().items():
        if not isinstance(t, torch.Tensor):
            out[key] = (None, "object")
            continue
        out[key] = (None if is_lazy(t) else tuple(t.shape), str(t.dtype).removeprefix("torch."))
    return out


def built_keys(state) -> dict[str, tuple[tuple[int, ...] | None, str]]:
    return {k: (v.shape, v.dtype) for k, v in state.keys().items()}
