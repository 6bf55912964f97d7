"""A namespace saved in the checkpoint (`torch.save({"args": args, ...})`) and changed by the
script before the model is built: `ckpt["args"].n = len(CLASSES)`, `vars(a).update(n=12)`,
`vars(a)["n"] = 12`. The checkpoint holds one object there, so every later read sees the
change, as it does when the script runs. Each script runs with real PyTorch (the namespace is
saved by real torch); the tool must agree, in both modes."""

from __future__ import annotations

import pytest

from analysis_helpers import judged_like_pytorch

HEAD = """
import torch
import torch.nn as nn

CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
ckpt = torch.load("w.pt", weights_only=False)
"""

CHANGES = {
    "attribute-of-a-name": "train_args = ckpt['args']\ntrain_args.n = {n}\n",
    "attribute-of-the-item": "ckpt['args'].n = {n}\ntrain_args = ckpt['args']\n",
    "vars-update-keywords": "train_args = ckpt['args']\nvars(train_args).update(n={n})\n",
    "vars-update-dict": "vars(ckpt['args']).update({{'n': {n}}})\ntrain_args = ckpt['args']\n",
    "vars-item": "train_args = ckpt['args']\nvars(train_args)['n'] = {n}\n",
}


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", ["len(CLASSES)", "12"], ids=["matches", "differs"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_saved_namespace_changed_before_the_model_is_built(case, change, n, execute) -> None:
    case.write("main.py", HEAD + CHANGES[change].format(n=n) + """
model = nn.Linear(train_args.hidden, ckpt["args"].n)
model.load_state_dict(ckpt["model"])
""")
    case.torch("import argparse, torch, torch.nn as nn\n"
               "torch.save({'args': argparse.Namespace(n=1000, hidden=8), 'model': nn.Linear(8, 10).state_dict()},"
               " 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched")

