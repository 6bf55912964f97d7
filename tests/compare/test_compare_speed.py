"""compare() stays linear: a 100,000-key model and checkpoint in well under half a second."""

from __future__ import annotations

import time

from weightmatch.compare import compare
from weightmatch.types import ExpectedState, ModuleSpec, StateDict, TensorInfo


def big_model(blocks: int = 1000, layers: int = 10) -> ExpectedState:
    modules = {"": ModuleSpec("", "Net", children=["blocks", "head"])}
    modules["blocks"] = ModuleSpec("blocks", "torch.nn.modules.container.ModuleList",
                                   children=[str(i) for i in range(blocks)])
    for i in range(blocks):
        path = f"blocks.{i}"
        modules[path] = ModuleSpec(path, "Block", children=[f"l{j}" for j in range(layers)])
        for j in range(layers):
            modules[f"{path}.l{j}"] = ModuleSpec(
                f"{path}.l{j}", "torch.nn.modules.linear.Linear",
                params={"weight": TensorInfo((8, 8)), "bias": TensorInfo((8,))},
                buffers={"running_mean": TensorInfo((8,)), "running_var": TensorInfo((8,)),
                         "num_batches_tracked": TensorInfo((), "int64")},
                norm_fixup=True)
    modules["head"] = ModuleSpec("head", "torch.nn.modules.linear.Linear", params={"weight": TensorInfo((2, 8))})
    return ExpectedState(modules, "executed", "Net")


def test_hundred_thousand_keys_fast():
    expected = big_model(blocks=1600)
    keys = expected.keys()
    saved = StateDict(keys)
    saved.metadata = {}
    # A quarter as many keys again that do not line up, all through the slow path.
    for k, v in list(keys.items())[::4]:
        saved["module." + k] = v
    del saved["head.weight"]
    assert len(saved) >= 100_000
    best = min(_timed(expected, saved) for _ in range(3))
    got = compare(expected, saved, strict=False)
    assert got.missing == ["head.weight"] and len(got.unexpected) == len(saved) - len(keys) + 1
    assert best < 0.5, best


def _timed(expected, saved) -> float:
    # CPU time of this process: the test machine is shared, wall time is not ours.
    start = time.process_time()
    compare(expected, saved)
    return time.process_time() - start
