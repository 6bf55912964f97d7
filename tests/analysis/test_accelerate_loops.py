"""Hugging Face Accelerate training loops (denoising-diffusion's Trainer): `accelerator.prepare`
gives the model back wrapped in DistributedDataParallel or not, depending on how the script is
launched; `accelerator.unwrap_model` gives the module back. Judged by running the script with
real Accelerate (one CPU process) and PyTorch, in both modes; a load into the prepared model
itself is not judged, and says why."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone, judged_like_pytorch

TRAINER = """
import torch
import torch.nn as nn
from accelerate import Accelerator


class Trainer:
    def __init__(self, model):
        self.accelerator = Accelerator(cpu=True)
        self.model = model
        self.opt = torch.optim.Adam(model.parameters())
        self.model, self.opt = self.accelerator.prepare(self.model, self.opt)

    def load(self, path):
        data = torch.load(path)
        model = {receiver}
        model.load_state_dict(data["model"])


Trainer(nn.Sequential(nn.Linear(4, {n}))).load("w.pt")
"""


def _checkpoint(case):
    case.torch("import torch, torch.nn as nn; torch.save({'model': nn.Sequential(nn.Linear(4, 8)).state_dict()}, 'w.pt')")


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("n", [8, 6], ids=["matches", "differs"])
def test_the_unwrapped_model_is_the_one_prepared(case, n, execute) -> None:
    case.write("main.py", TRAINER.format(receiver="self.accelerator.unwrap_model(self.model)", n=n))
    _checkpoint(case)
    judged_like_pytorch(case, execute, "mismatched")


def test_the_prepared_model_itself_depends_on_the_launch(case) -> None:
    case.write("main.py", TRAINER.format(receiver="self.model", n=6))
    _checkpoint(case)
    result = analyze_alone(case, False)
    (report,) = result.reports
    assert report.how is None and not [f for f in result.findings if f.severity == "error"]
    assert "depending on how the script is launched" in " ".join(f.message for f in result.findings)


MAIN_PROCESS = """
import torch
import torch.nn as nn
from accelerate import Accelerator


class Trainer:
    def __init__(self, n):
        self.accelerator = Accelerator(cpu=True)
        if self.accelerator.is_main_process:
            self.ema = nn.Linear(4, n)

    def load(self, path):
        data = torch.load(path)
        if self.accelerator.is_main_process:
            self.ema.load_state_dict(data["ema"])
        if self.accelerator.scaler is not None:
            self.accelerator.scaler.load_state_dict(data["scaler"])


Trainer({n}).load("w.pt")
"""


@pytest.mark.parametrize("n", [8, 6], ids=["matches", "differs"])
def test_the_main_process_is_the_one_process_run(case, n) -> None:
    """denoising-diffusion's `if self.accelerator.is_main_process: self.ema = EMA(...)` and the
    same test around its load: true in a plain one-process run; the accelerator's own scaler
    load is no model's."""
    case.write("main.py", MAIN_PROCESS.format(n=n))
    case.torch("import torch, torch.nn as nn; torch.save({'ema': nn.Linear(4, 8).state_dict(), 'scaler': {}}, 'w.pt')")
    judged_like_pytorch(case, False, "mismatched")
    result = analyze_alone(case, False)
    assert not [f.message for f in result.findings if f.code.startswith("unresolved")]
