"""Issue 11.1: a value known only at run time never becomes a definite error.

Each script puts values the engine cannot follow into what is loaded (`torch.tensor(...)`,
a call's result, a filter over such values). Real PyTorch runs the script; the engine may
stay undecided (a hint) but must not report an error PyTorch contradicts, and where the load
fails for a reason that does not depend on those values, that reason is still reported.
"""

from __future__ import annotations

import pytest

HEAD = """
import torch
import torch.nn as nn


def make(shape):
    return torch.zeros(shape)

"""

LOADS_OK = {
    # timm tests/test_optim.py: tensors of the right shape assigned into model.state_dict()
    "setitem_into_state_dict": """
model = nn.Linear(3, 2)
sd = model.state_dict()
sd["weight"] = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
sd["bias"] = torch.tensor([0.5, 0.5])
model.load_state_dict(sd)
""",
    "dict_literal_of_calls": """
model = nn.Linear(3, 2)
model.load_state_dict({"weight": make((2, 3)), "bias": make((2,))})
""",
    "subscript_of_an_unknown_value": """
model = nn.Linear(3, 2)
ckpt = {"model": make_sd() if False else model.state_dict(), "step": 1}
ckpt = {"model": {k: v.clone() for k, v in ckpt["model"].items()}}
wrapper = {"inner": dict(ckpt)}
model.load_state_dict(wrapper["inner"]["model"])
""",
    "filter_asking_about_unknown_values": """
model = nn.Linear(3, 2)
sd = model.state_dict()
sd["weight"] = make((2, 3))
model.load_state_dict({k: v for k, v in sd.items() if v is not None and isinstance(v, torch.Tensor)})
""",
    "fstring_of_unknown_value": """
model = nn.Linear(3, 2)
sd = {"weight": make((2, 3)), "bias": make((2,))}
model.load_state_dict({k: v for k, v in sd.items() if f"{v.dtype}" != "x"})
""",
    "whole_state_dict_unknown": """
model = nn.Linear(3, 2)
holder = {"sd": make_state(model)}
model.load_state_dict(holder["sd"])
""",
}

FAILS_ANYWAY = {
    # the unknown value does not matter: a key is missing, and strict=True raises for it
    "missing_key_beside_unknown_value": """
model = nn.Linear(3, 2)
model.load_state_dict({"weight": make((2, 3))})
""",
    # a definite size mismatch beside an unknown value
    "mismatch_beside_unknown_value": """
model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 4))
sd = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 5)).state_dict()
sd["0.weight"] = make((2, 3))
model.load_state_dict(sd)
""",
}

EXTRA = """
def make_sd():
    return {}


def make_state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}

"""


def _errors(static_project, main):
    result = static_project.analyze(str(main))
    return result, [f for f in result.findings if f.severity == "error"]


@pytest.mark.parametrize("name", sorted(LOADS_OK))
def test_unknown_values_never_make_an_error(static_project, case, name):
    main = case.write("main.py", HEAD + EXTRA + LOADS_OK[name])
    run = case.run()
    assert run.returncode == 0, run.stderr[-2000:]  # PyTorch: the load succeeds
    result, errors = _errors(static_project, main)
    assert errors == [], [(f.code, f.message) for f in errors]
    loads = [r for r in result.reports if r.findings or r.raises is not None]
    assert all(r.raises is not True for r in loads)


@pytest.mark.parametrize("name", sorted(FAILS_ANYWAY))
def test_definite_failures_beside_unknown_values_are_still_reported(static_project, case, name):
    main = case.write("main.py", HEAD + EXTRA + FAILS_ANYWAY[name])
    run = case.run()
    assert run.returncode != 0 and "load_state_dict" in run.stderr
    _, errors = _errors(static_project, main)
    reported = {f.code for f in errors}
    assert reported, "a failure that does not depend on the unknown values is reported"
    for code, needle in (("missing-keys", "Missing key(s)"), ("size-mismatch", "size mismatch")):
        assert (code in reported) == (needle in run.stderr), (reported, run.stderr[-1500:])


def test_a_model_passed_instead_of_its_state_dict_is_still_an_error(static_project, case):
    # a call's result is a module only when it builds as one: then the load raises, as PyTorch says
    main = case.write("main.py", HEAD + """
model = nn.Linear(3, 2)
other = nn.Linear(3, 2)
model.load_state_dict(other)
""")
    run = case.run()
    assert run.returncode != 0 and "Expected state_dict to be dict-like" in run.stderr
    _, errors = _errors(static_project, main)
    assert [f.code for f in errors] == ["not-a-state-dict"]
    assert errors[0].message in run.stderr
