"""What real code does that must not become noise or a false alarm (issue 11, points 3, 7, 8):
allowed globals are read from what the script allows, a data file read with torch.load is not a
checkpoint, a missing checkpoint says where it would come from, a method of a tracked object is
not a model. Truth from running the scripts with PyTorch where a verdict is involved."""

from __future__ import annotations

import pytest

MODEL = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
"""

SAVE_RUN = MODEL + """
import argparse, datetime
torch.save({"args": argparse.Namespace(lr=0.1), "when": datetime.date(2020, 1, 1), "model": Net().state_dict()},
           "run.pt")
"""


def test_add_safe_globals_allows_only_what_it_names(project, case) -> None:
    case.torch(SAVE_RUN)
    main = case.write("main.py", MODEL + """
import argparse
torch.serialization.add_safe_globals([argparse.Namespace])
model = Net()
model.load_state_dict(torch.load("run.pt")["model"])
""")
    result = project.analyze(str(main))
    (f,) = [f for f in result.findings if f.code == "unsafe-checkpoint"]
    assert "datetime.date" in f.message and "argparse.Namespace" not in f.message
    assert "weights_only" in case.run().stderr  # PyTorch still refuses the date

    both = case.write("main.py", MODEL + """
import argparse, datetime
torch.serialization.add_safe_globals([argparse.Namespace, datetime.date])
model = Net()
model.load_state_dict(torch.load("run.pt")["model"])
""")
    assert not project.analyze(str(both)).findings
    assert case.run().returncode == 0


def test_a_data_file_is_not_a_checkpoint_but_a_missing_checkpoint_says_who_writes_it(project, case) -> None:
    case.write("train.py", MODEL + """
import os
model = Net()
torch.save(model.state_dict(), os.path.join("out", "best.pt"))
""")
    main = case.write("main.py", MODEL + """
data = torch.load("traindata.pt")
model = Net()
model.load_state_dict(torch.load("out/best.pt"))
""")
    result = project.analyze(str(main))
    (f,) = result.findings
    assert f.code == "checkpoint-not-found" and f.span.line == 11
    assert "train.py:12 saves a file of that name" in f.message
    assert "project root" in f.message


def test_a_method_of_a_tracked_object_is_not_a_model(static_project, case) -> None:
    main = case.write("main.py", MODEL + """
class Lit:
    def __init__(self):
        self.model = Net()

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=0.1)


lit = Lit()
opt = lit.configure_optimizers()
sched = lit.model.make_scheduler()
opt.load_state_dict(torch.load("opt.pt"))
sched.load_state_dict(torch.load("sched.pt"))
""")
    result = static_project.analyze(str(main))
    messages = [f.message for f in result.findings]
    assert not any("Cannot build the model" in m for m in messages), messages


def test_a_load_guarded_by_an_existence_check_is_not_a_missing_checkpoint(static_project, case) -> None:
    main = case.write("main.py", MODEL + """
import os
model = Net()
if os.path.exists("snapshot.pt"):
    model.load_state_dict(torch.load("snapshot.pt"))
""")
    result = static_project.analyze(str(main))
    # the file is not there: the load is not reached on this run, which a hint says (no error)
    (hint,) = result.findings
    assert hint.severity == "hint" and "snapshot.pt absent" in hint.message, hint.message
    assert case.run().returncode == 0  # PyTorch never opens it


def test_a_subcommand_option_without_the_subcommand_is_unknown_and_said(static_project, case) -> None:
    main = case.write("main.py", MODEL + """
import argparse
parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="cmd")
ev = sub.add_parser("eval")
ev.add_argument("--model", required=True)
args = parser.parse_args()
model = Net()
model.load_state_dict(torch.load(args.model))
""")
    result = static_project.analyze(str(main))
    (f,) = result.findings
    assert f.code == "unresolved-checkpoint" and "`--model` belongs to the subcommand `eval`" in f.message, f.message


def test_an_empty_default_path_under_isfile_is_quiet_and_said(static_project, case) -> None:
    """dino's `--pretrained_weights ''` then `if os.path.isfile(args.pretrained_weights): torch.load(...)`:
    the empty path is "no file", not the project folder; a folder under `isfile` is never loaded."""
    case.write("main.py", MODEL + """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--pretrained_weights", default="", type=str)
parser.add_argument("--folder", default=".")
args = parser.parse_args()
model = Net(
    # a constructor written over several lines
)
if os.path.isfile(args.pretrained_weights):
    model.load_state_dict(torch.load(args.pretrained_weights, map_location="cpu"))
if os.path.isfile(args.folder):
    model.load_state_dict(torch.load(args.folder))
""")
    assert case.run().returncode == 0  # neither branch runs
    result = static_project.analyze(str(case.dir / "main.py"))
    assert not [f for f in result.findings if f.severity in ("error", "warning")], [f.message for f in result.findings]
    # `os.path.isfile('')` is False whatever the disk holds, and the project folder is a folder:
    # both branches are decided, like any `if` over known values, and their loads are not
    # judged on a run that never reaches them; a hint says what keeps each from running
    first, second = result.findings
    assert first.severity == "hint" and first.load_call.line + 1 == 19, first
    assert second.severity == "hint" and second.load_call.line + 1 == 21 and ". being a folder" in second.message, second
    assert first.message == ("Not checked: this load runs only if `os.path.isfile(args.pretrained_weights)` is true, "
                             "and it is not with --pretrained_weights at its default, '' (main.py:18)"), first.message


def test_a_constructor_over_several_lines_is_named_on_one(static_project, case) -> None:
    case.write("main.py", MODEL + """
class Wide(nn.Module):
    def __init__(self, *sizes, **kw):
        super().__init__()
        self.fc = nn.Linear(sum(sizes), 2)
        for s in range(int(torch.randint(1, 3, (1,)))):
            pass

model = Wide(
    1, 2,
    3)
model.load_state_dict(torch.load("w.pt"))
""")
    case.torch("import torch; torch.save({'fc.weight': torch.zeros(2, 6), 'fc.bias': torch.zeros(2)}, 'w.pt')")
    result = static_project.analyze(str(case.dir / "main.py"))
    (f,) = [f for f in result.findings if f.code == "unresolved-model"]
    assert "Cannot build the model `Wide(1, 2, 3)`" in f.message and "\n" not in f.message


def test_an_early_return_guards_what_follows(static_project, case) -> None:
    """dino's `if not os.path.isfile(ckp_path): return` before `torch.load(ckp_path)`: a missing
    file is never opened. And a change made after an early return whose test is known only at
    run time is not taken as done: the load stays unresolved, never a wrong verdict."""
    case.torch(MODEL + "\ntorch.save({'module.' + k: v for k, v in Net().state_dict().items()}, 'dp.pt')")
    main = case.write("main.py", MODEL + """
import os

def restart_from_checkpoint(ckp_path, model):
    if not os.path.isfile(ckp_path):
        return
    checkpoint = torch.load(ckp_path, map_location="cpu")
    model.load_state_dict(checkpoint["model"])

def maybe_strip(sd, strip):
    if not strip:
        return
    for k in list(sd):
        sd[k[len("module."):]] = sd.pop(k)

model = Net()
restart_from_checkpoint("checkpoint.pth", model)
sd = torch.load("dp.pt")
maybe_strip(sd, os.environ.get("STRIP"))
model.load_state_dict(sd)
""")
    ran = case.run()
    assert ran.returncode == 1 and "Missing key(s)" in ran.stderr  # STRIP unset: nothing stripped
    result = static_project.analyze(str(main))
    assert not [f for f in result.findings if f.code == "checkpoint-not-found"], [f.message for f in result.findings]
    assert not [f for f in result.findings if f.severity == "error"]  # the strip may or may not run
    reasons = [f.message for f in result.findings if f.code == "unresolved-checkpoint"]
    assert any("`not strip` is known only at run time" in r for r in reasons), [f.message for f in result.findings]


def test_an_optimizers_own_load_state_dict_is_not_a_model_load(static_project, case) -> None:
    """timm's `class Kron(torch.optim.Optimizer)` with `super().load_state_dict(state_dict)` in its override."""
    main = case.write("kron.py", """
import torch
from torch.optim import Optimizer


class Kron(Optimizer):
    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.step_count = state_dict.get("step", 0)


class Net(torch.nn.Module):
    def load(self, state_dict):
        super().load_state_dict(state_dict)
""")
    result = static_project.analyze(str(main))
    lines = sorted(f.span.line for f in result.findings if f.code.startswith("unresolved"))
    assert lines == [12], [(f.span.line, f.message) for f in result.findings]  # only the module's own load (0-based)



def test_a_trainers_own_load_state_dict_is_not_a_model_load(static_project, case) -> None:
    """detectron2's `TrainerBase.load_state_dict` and its subclass's `super().load_state_dict(...)`:
    plain classes, not modules; a module's own `self.load_state_dict` is still a model load."""
    main = case.write("train_loop.py", """
import torch


class TrainerBase:
    def __init__(self):
        self.iter = 0

    def load_state_dict(self, state_dict):
        self.iter = state_dict["iteration"]


class SimpleTrainer(TrainerBase):
    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.optimizer.load_state_dict(state_dict["optimizer"])


class Net(torch.nn.Module):
    def load(self, path):
        self.load_state_dict(torch.load(path))
""")
    result = static_project.analyze(str(main))
    lines = sorted(f.span.line for f in result.findings if f.code.startswith("unresolved"))
    assert lines == [19], [(f.span.line, f.message) for f in result.findings]  # only the module's own load (0-based)


INIT_WEIGHTS = """
import torch
import torch.nn as nn


class Head(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(8, width)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            torch.nn.init.zeros_(tensor=module.bias)
"""


def test_an_init_that_fills_a_weight_in_place_is_not_the_layer_line(static_project, case) -> None:
    """nanoGPT's `_init_weights`: `nn.init.normal_(module.weight)` gives back the tensor it filled;
    the squiggle stays on the line that made the layer, not on the init line."""
    case.torch(INIT_WEIGHTS + "\ntorch.save(Head(4).state_dict(), 'head.pt')\n")
    main = case.write("main.py", INIT_WEIGHTS + """
model = Head(6)
model.load_state_dict(torch.load("head.pt"))
""")
    findings = static_project.analyze(str(main)).findings
    assert {f.code for f in findings} == {"size-mismatch"}, findings
    layer_line = INIT_WEIGHTS.lstrip("\n").splitlines().index("        self.proj = nn.Linear(8, width)")
    assert {f.span.line for f in findings} == {layer_line}  # 0-based, as every span
    assert "size mismatch for proj.weight" in case.run().stderr


NANOGPT_LIKE = """
import torch
import torch.nn as nn
from dataclasses import dataclass


@dataclass
class Config:
    width: int = 4


class Net(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.fc = nn.Linear(2, config.width)


init_from = "resume"
exec("")  # nanoGPT's configurator: names may change out of sight
if init_from == "resume":
    checkpoint = torch.load("out/ckpt.pt")
    conf = Config(**checkpoint["model_args"])
    model = Net(conf)
    model.load_state_dict(checkpoint["model"])
"""


@pytest.mark.parametrize("execute", [False, True])
def test_a_config_from_a_checkpoint_that_is_not_there_says_so(root, case, execute) -> None:
    """nanoGPT's `sample.py` before training: the model's sizes come from the checkpoint, which
    is not there yet. The reason names the file, in both modes; with the file, the load is checked."""
    from weightmatch.project import Project, Settings

    main = case.write("main.py", NANOGPT_LIKE)
    p = Project(str(case.dir), Settings(execute=execute, worker_timeout=120))
    try:
        findings = p.analyze(str(main)).findings
        (f,) = [f for f in findings if f.code == "unresolved-model"]
        assert "`conf` is known only at run time" in f.message and "the checkpoint out/ckpt.pt is not there" in f.message, f.message
        assert {g.code for g in findings} == {"unresolved-model", "checkpoint-not-found"}
        case.torch("""
            import os, torch
            os.makedirs("out", exist_ok=True)
            torch.save({"model_args": {"width": 3}, "model": {"fc.weight": torch.zeros(5, 2), "fc.bias": torch.zeros(5)}},
                       "out/ckpt.pt")
        """)
        p.close()
        p = Project(str(case.dir), Settings(execute=execute, worker_timeout=120))
        errors = [g for g in p.analyze(str(main)).findings if g.severity == "error"]
        assert [g.code for g in errors] == ["size-mismatch"] and "model [3, 2]" in errors[0].message
        assert "size mismatch for fc.weight" in case.run().stderr
    finally:
        p.close()


def test_a_library_scheduler_is_not_a_model(static_project, case) -> None:
    """Swin's `lr_scheduler = build_scheduler(...)` returns timm's `CosineLRScheduler(...)`: its
    `load_state_dict` is the scheduler's own, not a model whose making is unknown."""
    main = case.write("main.py", MODEL + """
from timm.scheduler.cosine_lr import CosineLRScheduler


def build_scheduler(optimizer):
    return CosineLRScheduler(optimizer, t_initial=10)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
warmup = build_scheduler(optimizer)
ckpt = torch.load("run.pt")
warmup.load_state_dict(ckpt["lr_scheduler"])
model.load_state_dict(ckpt["model"])
""")
    case.torch(MODEL + "\ntorch.save({'model': Net().state_dict(), 'lr_scheduler': {}}, 'run.pt')")
    result = static_project.analyze(str(main))
    assert [r.call.line + 1 for r in result.reports] == [22]  # only the model's load
    assert not [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]
