"""A state dict rebuilt key by key with `try: new[k] = saved[k]` / `except: new[k] = v` (VITS's
`utils.load_checkpoint`): a key the checkpoint lacks keeps the model's own tensor, the others
take the checkpoint's; a handler that does not catch the KeyError leaves the load unresolved.
Judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

MAIN = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_q = nn.Linear(8, 8)
        self.emb_g = nn.Embedding(4, 8)


def load_checkpoint(path, model):
    saved_state_dict = torch.load(path, map_location="cpu")["model"]
    state_dict = model.state_dict()
    new_state_dict = {{}}
    for k, v in state_dict.items():
        try:
            new_state_dict[k] = saved_state_dict[k]
        except {handler}:
            print("%s is not in the checkpoint" % k)
            new_state_dict[k] = v
    model.load_state_dict(new_state_dict)


load_checkpoint("G_0.pth", Net())
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("handler", ["", " KeyError", " (KeyError, IndexError)", " Exception"])
@pytest.mark.parametrize("speakers", [4, 6], ids=["matches", "differs"])
def test_a_key_missing_from_the_checkpoint_keeps_the_models_tensor(case, speakers, handler, execute) -> None:
    case.write("main.py", MAIN.format(handler=handler))
    case.torch(f"import torch\ntorch.save({{'model': {{'emb_g.weight': torch.zeros({speakers}, 8)}}}}, 'G_0.pth')")
    resolved_like_pytorch(case, execute, "mismatched")


@pytest.mark.parametrize("handler", [" ValueError", " MyError"])
def test_a_handler_that_does_not_catch_it_is_not_taken(case, handler) -> None:
    """`except ValueError:` lets the KeyError through (the script crashes); `except MyError:` of a
    class the loop does not know is not decided: neither is taken as the run's outcome."""
    case.write("main.py", "class MyError(Exception):\n    pass\n" + MAIN.format(handler=handler))
    case.torch("import torch\ntorch.save({'model': {'emb_g.weight': torch.zeros(6, 8)}}, 'G_0.pth')")
    assert pytorch_outcomes(case)["crash"] is not None
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"]
    assert any(f.code == "unresolved-checkpoint" for f in result.findings), [f.message for f in result.findings]
