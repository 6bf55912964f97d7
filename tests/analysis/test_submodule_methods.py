"""mmseg's `model.backbone.init_weights()`: a submodule's own method that loads into it, followed
when the model's `__init__` sets that submodule once, at its top level, from a workspace class.
Corpus CC; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, in_channels=3):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, 4, 7)

    def init_weights(self, pretrained=None):
        if pretrained is not None:
            state_dict = torch.load(pretrained)
            self.load_state_dict(state_dict, False)


class Segmentor(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
{init}
        self.head = nn.Conv2d(4, 6, 1)


model = Segmentor({n})
{after}model.backbone.init_weights(pretrained="mit.pth")
"""

ONCE = "        self.backbone = Backbone(in_channels=in_channels)"
BRANCHED = ("        if in_channels == 3:\n            self.backbone = Backbone()\n"
            "        else:\n            self.backbone = Backbone(in_channels=in_channels)")
SAVE = "import torch, torch.nn as nn\ntorch.save({'proj.' + k: v for k, v in nn.Conv2d(3, 4, 7).state_dict().items()}, 'mit.pth')"


@pytest.mark.parametrize("n", [3, 4])
def test_a_submodule_method_that_loads_is_followed(case, n) -> None:
    case.write("main.py", SCRIPT.format(init=ONCE, n=n, after=""))
    case.torch(SAVE)
    resolved_like_pytorch(case, False, "mismatched" if n != 3 else "")


@pytest.mark.parametrize(("init", "after"), [(BRANCHED, ""), (ONCE, "model.backbone = Backbone(in_channels=3)\n")],
                         ids=["set-on-branches", "replaced-after"])
def test_a_submodule_of_a_class_not_known_for_sure_is_not_followed(case, init, after) -> None:
    case.write("main.py", SCRIPT.format(init=init, n=4, after=after))
    case.torch(SAVE)
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error" and not truth["loads"][0]["raises"]]
    assert [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]


GETTER = """
import torch
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, in_channels=3):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, 4, 7)
{method}

class Wrapper(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.model = Backbone(in_channels=in_channels)
        self.lm_head = nn.Linear(4, 10, bias=False)

    def get_model(self):
        \"\"\"The inner model (LLaVA's accessor).\"\"\"
        return self.model


model = Wrapper({n})
model.get_model(){call}
"""


@pytest.mark.parametrize("call", ['.load_state_dict(torch.load("mit.pth"))', '.init_weights(pretrained="mit.pth")'])
@pytest.mark.parametrize("n", [3, 4])
def test_a_getter_of_a_submodule(case, n, call) -> None:
    """LLaVA's `def get_model(self): return self.model`: `model.get_model()` is `model.model`."""
    method = "\n    def init_weights(self, pretrained=None):\n        self.load_state_dict(torch.load(pretrained), False)\n"
    case.write("main.py", GETTER.format(n=n, call=call, method=method if "init_weights" in call else ""))
    case.torch(SAVE)
    resolved_like_pytorch(case, False, "mismatched" if n != 3 else "")
