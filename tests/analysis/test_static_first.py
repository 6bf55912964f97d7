"""Static inference answers first where it resolves the model (exact or nothing); the
worker builds what it cannot follow. PyTorch judges both answers."""

from __future__ import annotations

import pytest

from analysis_helpers import codes
from weightmatch.project import Project, Settings

NET = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, hidden=20):
        super().__init__()
{setup}        self.fc1 = {layer}
        self.fc2 = nn.Linear(hidden, 2)

if __name__ == "__main__":
    model = Net({args})
    model.load_state_dict(torch.load("net.pth"))
"""
SAVE = "import torch\nfrom main import Net\ntorch.save(Net().state_dict(), 'net.pth')\n"


@pytest.fixture
def fresh(root):
    """A project of its own, so whether its worker started is this test's doing."""
    p = Project(str(root), Settings(execute=True, worker_timeout=120))
    yield p
    p.close()


def _write(case, layer: str, args: str, setup: str = "") -> str:
    main = case.write("main.py", NET.format(layer=layer, args=args, setup=setup))
    case.torch(SAVE)
    return str(main)


def test_a_model_of_known_layers_is_answered_without_starting_the_worker(fresh, case):
    main = _write(case, "nn.Linear(10, hidden)", "hidden=30")
    result = fresh.analyze(main)
    assert codes(result) == [("size-mismatch", "error", 7), ("size-mismatch", "error", 8)]
    assert {f.how for f in result.findings} == {"static"}
    assert fresh._builder._worker is None  # torch was never imported for this answer
    run = case.run()
    assert run.returncode != 0 and "size mismatch for fc1.weight" in run.stderr


def test_what_static_inference_cannot_follow_is_built_by_the_worker(fresh, case):
    # weight_norm splits fc1.weight into weight_g / weight_v: static inference does not model it
    main = _write(case, "nn.utils.weight_norm(nn.Linear(10, hidden))", "hidden=30")
    result = fresh.analyze(main)
    assert {f.code for f in result.findings} == {"size-mismatch"}
    assert {f.how for f in result.findings} == {"executed"}
    assert {k for f in result.findings for k in f.keys} >= {"fc1.weight_v", "fc1.weight_g", "fc2.weight"}
    run = case.run()
    assert run.returncode != 0 and "size mismatch for fc1.weight_v" in run.stderr


def test_a_call_that_could_change_a_shape_sends_the_model_to_the_worker(fresh, case):
    # an unknown call receives the dict the layer size is read from: never guessed
    setup = "        import json\n        json.loads('{}', object_hook=CFG.update)\n"
    main = case.write("main.py", NET.format(layer="nn.Linear(10, CFG['h'])", args="", setup=setup)
                      .replace("class Net", "CFG = {'h': 20}\n\nclass Net"))
    case.torch(SAVE)
    result = fresh.analyze(main)
    assert codes(result) == []
    assert [r.how for r in result.reports] == ["executed"]
    assert case.run().returncode == 0


def test_exec_first_asks_the_worker_even_when_static_inference_resolves(root, case):
    main = _write(case, "nn.Linear(10, hidden)", "hidden=30")
    p = Project(str(root), Settings(execute=True, worker_timeout=120, static_first=False))
    try:
        result = p.analyze(main)
    finally:
        p.close()
    assert codes(result) == [("size-mismatch", "error", 7), ("size-mismatch", "error", 8)]
    assert {f.how for f in result.findings} == {"executed"}


def _imported_model(case):
    """models.py defines Net, main.py loads a checkpoint of it: (models, main, models edited)."""
    models = case.write("models.py", NET.format(layer="nn.Linear(10, hidden)", args="", setup="")
                        .split("if __name__")[0])
    main = case.write("main.py", "import torch\nfrom models import Net\n\nmodel = Net()\n"
                                 "model.load_state_dict(torch.load('net.pth'))\n")
    case.torch("import torch\nfrom models import Net\ntorch.save(Net().state_dict(), 'net.pth')\n")
    return models, main, models.read_text().replace("nn.Linear(10, hidden)", "nn.Linear(12, hidden)")


def test_an_edit_to_an_imported_model_file_is_seen(fresh, case):
    models, main, edited = _imported_model(case)
    assert codes(fresh.analyze(str(main))) == []
    models.write_text(edited)
    assert codes(fresh.analyze(str(main))) == [("size-mismatch", "error", 7)]
    assert case.run("main.py").returncode != 0


def test_a_wrapped_model_and_the_same_model_unwrapped_keep_their_own_answers(fresh, case):
    classes = NET.format(layer="nn.Linear(10, hidden)", args="", setup="").split("if __name__")[0]
    case.write("main.py", classes)
    case.torch(SAVE)
    main = case.write("main.py", classes + "plain = Net()\nplain.load_state_dict(torch.load('net.pth'))\n"
                                           "wrapped = nn.DataParallel(Net())\nwrapped.load_state_dict(torch.load('net.pth'))\n")
    result = fresh.analyze(str(main))
    assert [(f.code, f.load_call.line + 1) for f in result.findings] == [("prefix-mismatch", 13)]
    run = case.run()
    assert run.returncode != 0 and 'Missing key(s) in state_dict: "module.fc1.weight"' in run.stderr


def test_an_unsaved_edit_to_an_imported_model_file_is_seen(fresh, case):
    # The editor's buffer of models.py (not yet saved) is what static inference reads.
    models, main, edited = _imported_model(case)
    assert codes(fresh.analyze(str(main))) == []
    fresh.set_document(str(models), edited)
    result = fresh.analyze(str(main))
    assert codes(result) == [("size-mismatch", "error", 7)]
    assert result.findings[0].span.path == str(models) and result.findings[0].how == "static"
    fresh.close_document(str(models))  # closed without saving: the disk's text again
    assert codes(fresh.analyze(str(main))) == []
    models.write_text(edited)  # saved: PyTorch agrees with what the buffer showed
    run = case.run()
    assert run.returncode != 0 and "size mismatch for fc1.weight" in run.stderr
