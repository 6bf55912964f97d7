"""Research code that imitates Hugging Face's API without the library: a loader that adds or
strips the base model's prefix after `hasattr(model, cls.base_model_prefix)`, and a vocabulary
size taken as `len(tokenizer)` of a workspace class (corpus ZB08, ZB10). Judged by real PyTorch."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, resolved_like_pytorch

PREFIX = """
import torch
import torch.nn as nn


class PreTrainedModel(nn.Module):
    base_model_prefix = "bert"

    @classmethod
    def from_pretrained(cls, path, *args):
        model = cls(*args)
        state_dict = torch.load(path)
        prefix = cls.base_model_prefix
        if hasattr(model, prefix) and not any(k.startswith(prefix + ".") for k in state_dict):
            state_dict = {{f"{{prefix}}.{{k}}": v for k, v in state_dict.items()}}
        model.load_state_dict(state_dict)
        return model


class BertModel(PreTrainedModel):
    def __init__(self, dim=8):
        super().__init__()
        self.encoder = nn.Linear(dim, dim)


class BertForSequenceClassification(PreTrainedModel):
    def __init__(self, dim=8, num_labels=2):
        super().__init__()
        self.bert = BertModel(dim)
        self.classifier = nn.Linear(dim, num_labels)


{load}
"""


@pytest.mark.parametrize("load", ["BertModel.from_pretrained('seqcls.pt')",
                                  "BertModel.from_pretrained('seqcls.pt', 6)",
                                  "BertForSequenceClassification.from_pretrained('seqcls.pt')"],
                         ids=["base-from-head", "base-other-width", "head-from-head"])
# (a base model's checkpoint into the model with a head gets the prefix added: the checkpoint's
# keys are read there, which the tool does not follow into the `if` yet)
def test_hasattr_of_the_base_model_prefix(case, load) -> None:
    """`base_model_prefix = "bert"` is a class attribute's text: it names no attribute of
    `BertModel`, so `hasattr(model, "bert")` is False there and the prefixed checkpoint does not
    load (and True with the head, where it does)."""
    case.write("main.py", PREFIX.format(load=load))
    case.torch(PREFIX.format(load="") + "torch.save(BertForSequenceClassification().state_dict(), 'seqcls.pt')")
    judged_like_pytorch(case, False)
    codes = [f.code for f in analyze_alone(case, False).findings]
    assert codes == ([] if load.startswith("BertFor") else ["prefix-mismatch", "unexpected-keys"]), codes


VOCAB = """
import torch
import torch.nn as nn


class Tokenizer:
    def __init__(self, words, specials=("<pad>", "<eos>")):
        self.itos = list(specials) + list(words)

    def __len__(self):
        return len(self.itos)


def main():
    tokenizer = Tokenizer(["a", "b", "c"]{extra})
    model = nn.Embedding(len(tokenizer), 4)
    model.load_state_dict(torch.load("emb.pt"))


main()
"""


@pytest.mark.parametrize("extra", ["", ", specials=('<pad>', '<eos>', '<bos>')"], ids=["matches", "added-special"])
def test_len_of_a_workspace_object_with_its_own_len(case, extra) -> None:
    case.write("main.py", VOCAB.format(extra=extra))
    case.torch("import torch, torch.nn as nn\ntorch.save(nn.Embedding(5, 4).state_dict(), 'emb.pt')")
    resolved_like_pytorch(case, False, "mismatched")
