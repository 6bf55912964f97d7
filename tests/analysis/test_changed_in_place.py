"""Values changed in place: known data (`kw.setdefault(...)`, `kw["n"] = 5`, `cfg.pop("type")`),
objects changed under an `if` the tool cannot decide (`args.width = 16`), by a function it does
not follow, or through `vars(args).update(...)`. Each script is run with real PyTorch; where the
tool answers it must agree, and a change it cannot know makes the value unknown, never stale."""

from __future__ import annotations

import pytest

from analysis_helpers import agrees_with_pytorch, analyze_alone, pytorch_outcomes

NET = """
import json
import os
import argparse
import torch
import torch.nn as nn


class TextCNN(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)


"""

SCRIPTS = {
    "setdefault": """
kw = dict(vocab_size=12, embed_dim=8)
kw.setdefault("num_classes", {n})
model = TextCNN(**kw)
""",
    "setitem-after-dict-call": """
kw = dict(vocab_size=12, embed_dim=8)
kw["num_classes"] = {n}
model = TextCNN(**kw)
""",
    "pop-then-update": """
kw = {{"vocab_size": 12, "embed_dim": 8, "type": "cnn"}}
kind = kw.pop("type")
kw.update(num_classes={n})
model = TextCNN(**kw)
""",
    "changed-in-a-function": """
DEFAULTS = dict(vocab_size=12, embed_dim=8)


def configure():
    DEFAULTS.update(num_classes={n})


configure()
model = TextCNN(**DEFAULTS)
""",
    "vars-update-from-json": """
parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=2)
args = parser.parse_args([])
with open("hparams.json") as f:
    vars(args).update(json.load(f))
model = TextCNN(12, 8, args.num_classes)
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [5, 4], ids=["matches", "differs"])
@pytest.mark.parametrize("shape", sorted(SCRIPTS))
def test_data_changed_in_place_is_followed(case, shape, n, execute) -> None:
    case.write("main.py", NET + SCRIPTS[shape].format(n=n) + "model.load_state_dict(torch.load('w.pt'))\n")
    (case.dir / "hparams.json").write_text(f'{{"num_classes": {n}}}')
    case.torch("import torch, torch.nn as nn\n"
               "sd = {'embed.weight': torch.zeros(12, 8), 'fc.weight': torch.zeros(5, 8), 'fc.bias': torch.zeros(5)}\n"
               "torch.save(sd, 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1
    agrees_with_pytorch(analyze_alone(case, execute), truth["loads"][0])


BRANCHES = {
    "undecided-if": """
parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=5)
args = parser.parse_args([])
if os.environ.get("WM_TEST_BIG"):
    args.num_classes = 4
model = TextCNN(12, 8, args.num_classes)
""",
    "loop-that-may-not-run": """
parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=5)
args = parser.parse_args([])
for extra in (os.environ.get("WM_TEST_EXTRA") or "").split():
    args.num_classes = 4
model = TextCNN(12, 8, args.num_classes)
""",
    "recursive-helper": """
class Config:
    def __init__(self):
        self.num_classes = 5


def apply(cfg, files):
    if files:
        cfg.num_classes = 4
        apply(cfg, files[1:])


cfg = Config()
apply(cfg, (os.environ.get("WM_TEST_FILES") or "").split())
model = TextCNN(12, 8, cfg.num_classes)
""",
    "setattr-with-unknown-name": """
parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=5)
args = parser.parse_args([])
for k, v in json.loads(os.environ.get("WM_TEST_OVERRIDES") or "{}").items():
    setattr(args, k, v)
model = TextCNN(12, 8, args.num_classes)
""",
}


@pytest.mark.parametrize("shape", sorted(BRANCHES))
def test_a_change_that_may_not_happen_is_not_taken_as_done(case, shape) -> None:
    """The script loads fine as run (the change does not happen); taking the change as done
    predicted a size mismatch. The value is unknown instead: no error, and the reason says why."""
    case.write("main.py", NET + BRANCHES[shape] + "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch\n"
               "sd = {'embed.weight': torch.zeros(12, 8), 'fc.weight': torch.zeros(5, 8), 'fc.bias': torch.zeros(5)}\n"
               "torch.save(sd, 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and not truth["loads"][0]["raises"]
    result = analyze_alone(case, execute=False)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
    (report,) = result.reports
    assert report.how is None
    assert any("num_classes" in f.message for f in result.findings), [f.message for f in result.findings]


ALIASES = {
    "item-of-a-config": """
cfg = json.loads('{{"model": {{"vocab_size": 12, "embed_dim": 8, "num_classes": 2}}}}')
model_cfg = cfg["model"]
model_cfg["num_classes"] = {n}
model = TextCNN(**cfg["model"])
""",
    "update-through-an-alias": """
base = dict(vocab_size=12, embed_dim=8, num_classes=2)
alias = base
alias.update(num_classes={n})
model = TextCNN(**base)
""",
    "deepcopy-is-another-object": """
base = dict(vocab_size=12, embed_dim=8, num_classes={n})
other = __import__("copy").deepcopy(base)
other["num_classes"] = 7
model = TextCNN(**base)
""",
    "vars-item": """
parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=2)
args = parser.parse_args([])
vars(args)["num_classes"] = {n}
model = TextCNN(12, 8, args.num_classes)
""",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [5, 4], ids=["matches", "differs"])
@pytest.mark.parametrize("shape", sorted(ALIASES))
def test_a_change_through_another_name_is_seen(case, shape, n, execute) -> None:
    """Two names for one dict (or a namespace's `vars`): a change through one is seen through the
    other, as in Python; a deep copy is another object."""
    case.write("main.py", NET + ALIASES[shape].format(n=n) + "model.load_state_dict(torch.load('w.pt'))\n")
    case.torch("import torch\n"
               "sd = {'embed.weight': torch.zeros(12, 8), 'fc.weight': torch.zeros(5, 8), 'fc.bias': torch.zeros(5)}\n"
               "torch.save(sd, 'w.pt')")
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and len(truth["loads"]) == 1
    agrees_with_pytorch(analyze_alone(case, execute), truth["loads"][0])
