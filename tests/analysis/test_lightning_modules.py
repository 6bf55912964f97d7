"""LightningModules loaded the way users load them, judged by real PyTorch and real Lightning:
a `pl.LightningModule` subclass is an nn.Module that adds nothing to the state dict, its
`self.save_hyperparameters()` keeps the `__init__` arguments in `self.hparams` (read while the
layers are made), and the checkpoint Lightning writes holds the `state_dict` and the
`hyper_parameters` the model is rebuilt from (corpus Y01, Y03)."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch, resolved_like_pytorch

from weightmatch.textedit import apply_edits

MODEL = """
import torch
import torch.nn as nn
import {module} as pl


class LitForecaster(pl.LightningModule):
    def __init__(self, n_features=4, hidden=8, num_layers=1, lr=1e-3):
        super().__init__()
        self.save_hyperparameters({selected})
        self.encoder = nn.GRU(self.hparams.n_features, self.hparams.hidden, num_layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.head(self.encoder(x)[0][:, -1]), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
"""

MAIN = MODEL + """

ckpt = torch.load("last.ckpt", weights_only=False)
model = LitForecaster(**ckpt["hyper_parameters"])
model.load_state_dict(ckpt["state_dict"])
"""


@pytest.mark.parametrize("module", ["pytorch_lightning", "lightning.pytorch"])
@pytest.mark.parametrize("selected", ["", "'n_features', 'hidden', 'num_layers'"], ids=["all", "named"])
@pytest.mark.parametrize("saved_hidden", [8, 12], ids=["matches", "differs"])
def test_a_lightning_module_rebuilt_from_its_hyper_parameters(case, module, selected, saved_hidden) -> None:
    case.write("main.py", MAIN.format(module=module, selected=selected))
    # the checkpoint as Lightning writes it (ModelCheckpoint's dict), from a model whose saved
    # hyper-parameters say 8 when `saved_hidden` differs: the tensors are 12 wide
    case.torch(MODEL.format(module=module, selected="") + f"""
trained = LitForecaster(hidden={saved_hidden})
torch.save({{"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.6.6",
            "state_dict": trained.state_dict(), "hyper_parameters": dict(LitForecaster().hparams)}}, "last.ckpt")
""")
    resolved_like_pytorch(case, False, "mismatched")


CLASSIFIER = """
import torch
import torch.nn as nn
import lightning as L


class LitClassifier(L.LightningModule):
    def __init__(self, hidden=8, num_classes=3, lr=1e-3{extra_param}):
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Linear(4, hidden)
        self.head = nn.Linear(hidden, num_classes){extra_layer}
{hook}
"""

SAVE_CLASSIFIER = """
m = LitClassifier(hidden=8, num_classes=3)
torch.save({"epoch": 1, "pytorch-lightning_version": "2.6.6", "state_dict": m.state_dict(),
            "hyper_parameters": dict(m.hparams), "hparams_name": "kwargs"}, "cls.ckpt")
"""

HOOK = """
    def on_load_checkpoint(self, checkpoint):
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("head.")}
"""

LOADS = {
    "hparams": ("model = LitClassifier.load_from_checkpoint('cls.ckpt')", ""),
    "override-same": ("model = LitClassifier.load_from_checkpoint('cls.ckpt', num_classes=3, map_location='cpu')", ""),
    "override-other": ("model = LitClassifier.load_from_checkpoint(checkpoint_path='cls.ckpt', num_classes=5)", ""),
    "override-not-taken": ("model = LitClassifier.load_from_checkpoint('cls.ckpt', dropout=0.5)", ""),
    "extra-layer": ("model = LitClassifier.load_from_checkpoint('cls.ckpt')", "\n        self.extra = nn.Linear(2, 2)"),
    "extra-layer-lenient": ("model = LitClassifier.load_from_checkpoint('cls.ckpt', strict=False)",
                            "\n        self.extra = nn.Linear(2, 2)"),
}


@pytest.mark.parametrize("load", LOADS)
def test_load_from_checkpoint(case, load) -> None:
    """`Model.load_from_checkpoint(path, **overrides)`: the model made from the checkpoint's
    hyper-parameters and the overrides (those its `__init__` takes), its state dict loaded
    strictly unless `strict=False` is given."""
    line, extra_layer = LOADS[load]
    classes = CLASSIFIER.format(extra_param="", extra_layer=extra_layer, hook="")
    case.write("main.py", classes + "\n" + line + "\n")
    case.torch(CLASSIFIER.format(extra_param="", extra_layer="", hook="") + SAVE_CLASSIFIER)
    judged_like_pytorch(case, False, "mismatched" if "strict=False" in line else "mismatched+missing")
    findings = analyze_alone(case, False).findings
    assert not [f.message for f in findings if f.code.startswith("unresolved")]
    if "strict=False" in line:  # (not raised: said as a warning, with the keys PyTorch returns)
        assert [k for f in findings if f.code == "missing-keys" for k in f.keys] == ["extra.weight", "extra.bias"]


def test_load_from_checkpoint_strict_false_fix_is_applied_and_runs(case) -> None:
    main = case.write("main.py", CLASSIFIER.format(extra_param="", extra_layer="\n        self.extra = nn.Linear(2, 2)",
                                                   hook="") + "\nmodel = LitClassifier.load_from_checkpoint('cls.ckpt')\n")
    case.torch(CLASSIFIER.format(extra_param="", extra_layer="", hook="") + SAVE_CLASSIFIER)
    assert case.run().returncode != 0
    (missing,) = [f for f in analyze_alone(case, False).findings if f.code == "missing-keys"]
    (fix,) = [x for x in missing.fixes if x.kind == "strict-false"]
    main.write_text(apply_edits(main.read_text(), fix.edits))
    assert "load_from_checkpoint('cls.ckpt', strict=False)" in main.read_text()
    after = case.run()
    assert after.returncode == 0, after.stderr[-2000:]


def test_a_hook_lightning_runs_while_loading_leaves_it_unresolved(case) -> None:
    """`on_load_checkpoint` may change the checkpoint before the load: not followed, said."""
    case.write("main.py", CLASSIFIER.format(extra_param="", extra_layer="", hook=HOOK)
               + "\nmodel = LitClassifier.load_from_checkpoint('cls.ckpt')\n")
    case.torch(CLASSIFIER.format(extra_param="", extra_layer="", hook="") + SAVE_CLASSIFIER)
    (finding,) = analyze_alone(case, False).findings
    assert finding.code == "unresolved-model" and "on_load_checkpoint" in finding.message, finding.message
