"""What is loaded: paths, nested checkpoints, transforms, model-to-model, save-then-load."""

from analysis_helpers import codes, findings_at, pytorch_outcomes

MODEL = """
import os
import pathlib
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden=20):
        super().__init__()
        self.fc1 = nn.Linear(10, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 2)
"""

SAVE_NET = MODEL + """
torch.save(Net().state_dict(), "net.pth")
"""


def test_os_path_join_and_pathlib_paths_resolve_to_the_checkpoint(project, case):
    case.write("make.py", SAVE_NET)
    case.torch("exec(open('make.py').read())")
    main = case.write("main.py", MODEL + """
HERE = os.path.dirname(os.path.abspath(__file__))
a = Net(hidden=30)
a.load_state_dict(torch.load(os.path.join(HERE, "net.pth")))
b = Net(30)
b.load_state_dict(torch.load(pathlib.Path(__file__).parent / "net.pth"))
""")
    result = project.analyze(str(main))
    mism = [f for f in result.findings if f.code == "size-mismatch"]
    assert {f.load_call.line + 1 for f in mism} == {16, 18}
    assert {f.span.line + 1 for f in mism} == {10, 11, 12}  # fc1, bn, fc2 definition lines
    fc1 = next(f for f in mism if f.span.line + 1 == 10 and f.load_call.line + 1 == 16)
    assert fc1.keys == ["fc1.weight", "fc1.bias"]
    assert case.run().returncode != 0  # PyTorch agrees: it raises


def test_nested_training_checkpoint_is_one_finding_with_a_working_fix(project, case):
    case.torch(MODEL + """
torch.save({"epoch": 3, "model_state_dict": Net().state_dict(),
            "optimizer_state_dict": torch.optim.SGD(Net().parameters(), lr=0.1).state_dict()}, "ckpt.pt")
""")
    main = case.write("main.py", MODEL + """
model = Net()
checkpoint = torch.load("ckpt.pt")
model.load_state_dict(checkpoint)
""")
    result = project.analyze(str(main))
    assert codes(result) == [("not-a-state-dict", "error", 16)]
    finding = result.findings[0]
    assert "['model_state_dict']" in finding.message
    assert "epoch" in finding.keys and "fc1.weight" in finding.keys
    (fix,) = [f for f in finding.fixes if f.kind == "select-nested"]
    _apply_and_run(case, main, fix)


def test_prefix_from_dataparallel_and_strip_fix(project, case):
    case.torch(MODEL + """
torch.save(nn.DataParallel(Net()).state_dict(), "dp.pth")
""")
    main = case.write("main.py", MODEL + """
model = Net()
model.load_state_dict(torch.load("dp.pth", map_location="cpu"))
""")
    result = project.analyze(str(main))
    assert codes(result) == [("prefix-mismatch", "error", 15)]
    assert set(result.findings[0].keys) >= {"module.fc1.weight", "fc1.weight"}
    (fix,) = [f for f in result.findings[0].fixes if f.kind == "strip-prefix"]
    _apply_and_run(case, main, fix)


def test_consume_prefix_and_dataparallel_wrapper_load_clean(project, case):
    case.torch(MODEL + """
torch.save(nn.DataParallel(Net()).state_dict(), "dp.pth")
""")
    main = case.write("main.py", MODEL + """
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
sd = torch.load("dp.pth")
consume_prefix_in_state_dict_if_present(sd, "module.")
Net().load_state_dict(sd)
wrapped = nn.DataParallel(Net())
wrapped.load_state_dict(torch.load("dp.pth"))
wrapped.module.load_state_dict(sd)
""")
    result = project.analyze(str(main))
    assert [f for f in result.findings if f.severity == "error"] == []
    assert len(result.reports) == 3 and all(r.raises is False for r in result.reports)
    assert case.run().returncode == 0


def test_save_then_load_in_the_same_file_resolves_before_the_file_exists(project, case):
    main = case.write("main.py", MODEL + """
old = Net(hidden=20)
torch.save(old.state_dict(), "made_here.pth")
new = Net(hidden=25)
new.load_state_dict(torch.load("made_here.pth"))
""")
    assert not (case.dir / "made_here.pth").exists()
    result = project.analyze(str(main))
    (load,) = pytorch_outcomes(case)["loads"]
    assert load["raises"] and load["mismatched"]
    assert {f.code for f in result.findings} == {"size-mismatch"}
    assert sorted(k for f in result.findings for k in f.keys) == sorted(load["mismatched"])
    lines = main.read_text().splitlines()
    for f in result.findings:  # each on the line that defines its layer
        layers = {k.rsplit(".", 1)[0] for k in f.keys}
        assert all(f"self.{layer} = " in lines[f.span.line] for layer in layers), (f.keys, lines[f.span.line])


def test_model_to_model_and_filters(project, case):
    main = case.write("main.py", MODEL + """
src = Net(hidden=20)
dst = Net(hidden=20)
dst.fc2 = nn.Linear(20, 5)
own = dst.state_dict()
filtered = {k: v for k, v in src.state_dict().items() if k in own and v.shape == own[k].shape}
own.update(filtered)
dst.load_state_dict(own)
sd = src.state_dict()
sd.pop("fc2.weight")
sd.pop("fc2.bias")
dst.load_state_dict(sd, strict=False)
dst.load_state_dict({k: v for k, v in src.state_dict().items() if not k.startswith("fc2")})
""")
    result = project.analyze(str(main))
    loads = pytorch_outcomes(case)["loads"]
    assert [(x["raises"], x["missing"]) for x in loads] == [
        (False, []), (False, ["fc2.weight", "fc2.bias"]), (True, ["fc2.weight", "fc2.bias"])]
    for load in loads:
        found = findings_at(result, load["line"])
        if not load["missing"]:
            assert found == []
            continue
        (missing,) = found
        assert missing.code == "missing-keys" and missing.keys == load["missing"]
        # strict=True raises: an error; strict=False loads, the layer keeps its initial values: a warning
        assert missing.severity == ("error" if load["raises"] else "warning")
        assert "dst.fc2 = " in main.read_text().splitlines()[missing.span.line]  # where dst got its fc2


def test_unsafe_checkpoint_is_reported_at_torch_load(project, case):
    case.torch(MODEL + """
import argparse
torch.save({"args": argparse.Namespace(lr=0.1), "model": Net().state_dict()}, "run.pt")
""")
    main = case.write("main.py", MODEL + """
model = Net()
ckpt = torch.load("run.pt")
model.load_state_dict(ckpt["model"])
trusted = torch.load("run.pt", weights_only=False)
model.load_state_dict(trusted["model"])
""")
    result = project.analyze(str(main))
    assert codes(result) == [("unsafe-checkpoint", "error", 15)]
    assert "argparse.Namespace" in result.findings[0].message
    run = case.run()
    assert "weights_only" in run.stderr  # PyTorch refuses it at that line


def test_safetensors_and_key_errors(project, case):
    case.torch(MODEL + """
from safetensors.torch import save_file
save_file(Net(hidden=8).state_dict(), "w.safetensors")
torch.save({"state_dict": Net().state_dict()}, "lit.ckpt")
""")
    main = case.write("main.py", MODEL + """
from safetensors.torch import load_file
m = Net(hidden=8)
m.load_state_dict(load_file("w.safetensors"), strict=False)
n = Net()
n.load_state_dict(torch.load("lit.ckpt")["model"])
""")
    result = project.analyze(str(main))
    truth = pytorch_outcomes(case)
    (safetensors_load,) = truth["loads"]
    assert not safetensors_load["raises"] and safetensors_load["missing"] == []
    # the safetensors load: nothing to report (every tensor there, and loaded)
    assert findings_at(result, safetensors_load["line"]) == []
    # then the script stops at `["model"]`: KeyError, on that line
    assert truth["crash"]["type"] == "KeyError"
    assert [(f.code, f.span.line + 1) for f in result.findings if f.severity == "error"] == [
        ("key-error", truth["crash"]["line"])]


def test_unresolved_model_is_information_never_a_guess(project, case):
    main = case.write("main.py", MODEL + """
def restore(model, path):
    model.load_state_dict(torch.load(path))
""")
    result = project.analyze(str(main))
    assert codes(result) == [("unresolved-model", "information", 15)]


def test_static_inference_answers_when_execution_is_off(static_project, case):
    case.torch(SAVE_NET + "\n")
    main = case.write("main.py", MODEL + """
model = Net(hidden=30)
model.load_state_dict(torch.load("net.pth"))
""")
    result = static_project.analyze(str(main))
    (load,) = pytorch_outcomes(case)["loads"]
    assert load["raises"] and load["mismatched"]
    assert {f.code for f in result.findings} == {"size-mismatch"}
    assert sorted(k for f in result.findings for k in f.keys) == sorted(load["mismatched"])
    assert {f.how for f in result.findings} == {"static"}
    assert result.reports[0].how == "static"


def test_half_typed_code_keeps_the_calls_above(project, case):
    case.torch(SAVE_NET + "\n")
    main = case.write("main.py", MODEL + """
model = Net(hidden=30)
model.load_state_dict(torch.load("net.pth"))
x = model(
""")
    result = project.analyze(str(main))
    assert result.errors and "SyntaxError" in result.errors[0]
    assert {f.code for f in result.findings} == {"size-mismatch"}


def _apply_and_run(case, main, fix) -> None:
    from weightmatch.textedit import apply_edits

    text = main.read_text()
    main.write_text(apply_edits(text, fix.edits))
    run = case.run()
    assert run.returncode == 0, run.stderr[-2000:] + "\n" + main.read_text()


def test_conditions_and_program_order(project, case):
    """`if "state_dict" in ckpt` is decided on the real checkpoint; a pop changes later loads of
    the same dict (and its aliases) but not earlier ones; `len(sys.argv) > 1` is false in the
    run analysed (no arguments), so the last load is judged: it raises, as PyTorch says."""
    case.torch(MODEL + """
torch.save({"state_dict": {"model." + k: v for k, v in Net().state_dict().items()}, "epoch": 1}, "lit.ckpt")
""")
    main = case.write("main.py", MODEL + """
import sys
model = Net()
ckpt = torch.load("lit.ckpt")
if "state_dict" in ckpt:
    ckpt = ckpt["state_dict"]
sd = {k.replace("model.", "", 1): v for k, v in ckpt.items()}
model.load_state_dict(sd)
same = ckpt.get("not there", sd)
model.load_state_dict(same)
sd.pop("fc2.weight")
model.load_state_dict(sd, strict=False)
model.load_state_dict(same, strict=False)
if len(sys.argv) > 1:
    model.fc2 = nn.Linear(20, 3)
model.load_state_dict(same)
""")
    result = project.analyze(str(main))
    assert codes(result) == [("missing-keys", "error", 12), ("missing-keys", "warning", 12),
                             ("missing-keys", "warning", 12)]
    assert sorted(f.load_call.line + 1 for f in result.findings if f.code == "missing-keys") == [24, 25, 28]
    assert [r.raises for r in result.reports] == [False, False, False, False, True]
    run = case.run()  # PyTorch: the first four loads pass, the last one (strict, fc2.weight popped) raises
    assert 'line 28' in run.stderr and '"fc2.weight"' in run.stderr


def test_a_long_unfinished_block_below_keeps_the_calls_above(project, case):
    case.torch(SAVE_NET + "\n")
    main = case.write("main.py", MODEL + """
model = Net(hidden=30)
model.load_state_dict(torch.load("net.pth"))
try:
""" + "".join(f"    x{i} = {i}\n" for i in range(60)))
    result = project.analyze(str(main))
    assert result.errors
    assert {f.code for f in result.findings} == {"size-mismatch"}
