"""ABINet's `Config`: `yaml.load(file, Loader=yaml.FullLoader)` of a file with `!!python/tuple`
values, every item set by `self.__setattr__(f"{prefix}{k}", v)`. The full loaders give that tag
as a tuple (read so; other python tags are still never read); `obj.__setattr__(name, value)` is
`setattr`. Corpus CE; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, pytorch_outcomes, resolved_like_pytorch

SCRIPT = """
import torch
import torch.nn as nn
import yaml


class Config(object):
    def __init__(self, config_path):
        with open(config_path) as file:
            config_dict = yaml.load(file, Loader={loader})
        for k, v in config_dict["model"].items():
            self.__setattr__(f"model_{{k}}", v)


class Net(nn.Module):
    def __init__(self, n, betas):
        super().__init__()
        self.fc = nn.Linear(4, n + len(betas))


config = Config("c.yaml")
model = Net(config.model_n, config.model_betas)
model.load_state_dict(torch.load("net.pth"))
"""

YAML = "model:\n  n: {n}\n  betas: !!python/tuple [0.9, 0.999]\n"
SAVE = "import torch, torch.nn as nn\ntorch.save({'fc.' + k: v for k, v in nn.Linear(4, 7).state_dict().items()}, 'net.pth')"


@pytest.mark.parametrize("loader", ["yaml.FullLoader", "yaml.UnsafeLoader"])
@pytest.mark.parametrize("n", [5, 6])
def test_a_tuple_tag_read_by_a_full_loader(case, loader, n) -> None:
    case.write("main.py", SCRIPT.format(loader=loader))
    case.write("c.yaml", YAML.format(n=n))
    case.torch(SAVE)
    resolved_like_pytorch(case, False, "mismatched" if n != 5 else "")


def test_the_safe_loader_still_refuses_it(case) -> None:
    """(`yaml.SafeLoader` raises ConstructorError on the tag: the run never reaches the load.)"""
    case.write("main.py", SCRIPT.format(loader="yaml.SafeLoader"))
    case.write("c.yaml", YAML.format(n=6))
    case.torch(SAVE)
    assert pytorch_outcomes(case)["loads"] == []
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
