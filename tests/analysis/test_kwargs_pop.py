"""transformers' old `from_pretrained(cls, path, *model_args, **kwargs)`: `config = kwargs.pop(
"config", None)`, then `cls(config, *model_args, **kwargs)`: the popped value is the caller's, and
the dict no longer holds it. Corpus CE; truth by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import resolved_like_pytorch

SCRIPT = """
import os

import torch
import torch.nn as nn


class Config:
    def __init__(self, num_labels=2, hidden_size=8):
        self.num_labels = num_labels
        self.hidden_size = hidden_size


class PreTrainedModel(nn.Module):
    @classmethod
    def from_pretrained(cls, path, *model_args, **kwargs):
        config = kwargs.pop("config", None)
        if config is None:
            config = Config()
        model = cls(config, *model_args, **kwargs)
        state_dict = torch.load(os.path.join(path, "pytorch_model.bin"), map_location="cpu")
        model.load_state_dict(state_dict)
        return model


class TokenClassifier(PreTrainedModel):
    def __init__(self, config, dropout=0.1):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)


model = TokenClassifier.from_pretrained("out", {call})
"""


@pytest.mark.parametrize(("call", "keys"), [
    ("config=Config(num_labels=13)", ""), ("config=Config(num_labels=5), dropout=0.2", "mismatched"),
    ("dropout=0.3", "mismatched")])
def test_a_keyword_popped_from_kwargs(case, call, keys) -> None:
    case.write("main.py", SCRIPT.format(call=call))
    case.torch("import os, torch, torch.nn as nn\nos.makedirs('out')\n"
               "torch.save({'classifier.' + k: v for k, v in nn.Linear(8, 13).state_dict().items()},"
               " 'out/pytorch_model.bin')")
    resolved_like_pytorch(case, False, keys)
