"""Every quick-fix kind, applied to real code and run with real PyTorch: the load succeeds."""

from __future__ import annotations

import pytest

from weightmatch.textedit import apply_edits

HEAD = """
import torch
import torch.nn as nn
import torchvision.models as models
"""


def _fixes(project, main, code=None):
    result = project.analyze(str(main))
    found = [f for f in result.findings if code is None or f.code == code]
    return result, {fix.kind: fix for f in found for fix in f.fixes}


def _apply_and_run(case, main, fix):
    before = case.run()
    assert before.returncode != 0 and "load_state_dict" in before.stderr, "the script fails before the fix"
    main.write_text(apply_edits(main.read_text(), fix.edits))
    after = case.run()
    assert after.returncode == 0, after.stderr[-3000:] + "\n----\n" + main.read_text()
    return main.read_text()


def test_strict_false_for_missing_keys(project, case):
    case.torch(HEAD + "torch.save(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'a.pth')")
    main = case.write("main.py", HEAD + """
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model.load_state_dict(torch.load("a.pth"))
""")
    assert case.run().returncode != 0
    result, fixes = _fixes(project, main, "missing-keys")
    missing = [f for f in result.findings if f.code == "missing-keys"][0]
    assert missing.span.line + 1 == 5 and missing.keys == ["2.weight", "2.bias"]  # on the nn.Linear(8, 2) element
    text = _apply_and_run(case, main, fixes["strict-false"])
    assert 'torch.load("a.pth"), strict=False)' in text


def test_filter_shapes_and_checkpoint_sizes_for_a_changed_hidden_size(project, case):
    case.torch(HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 2)
torch.save(Net().state_dict(), "net.pth")
""")
    body = HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 30)
        self.fc2 = nn.Linear(30, 2)


model = Net()
model.load_state_dict(torch.load("net.pth"))
"""
    main = case.write("main.py", body)
    _, fixes = _fixes(project, main, "size-mismatch")
    assert set(fixes) == {"use-checkpoint-size", "filter-shapes"}
    text = _apply_and_run(case, main, fixes["use-checkpoint-size"])
    assert "nn.Linear(10, 20)" in text and "nn.Linear(20, 2)" in text
    main = case.write("main.py", body)
    _, fixes = _fixes(project, main, "size-mismatch")
    _apply_and_run(case, main, fixes["filter-shapes"])
    assert project.analyze(str(main)).findings == []


def test_checkpoint_size_for_conv_channels_and_a_flattened_linear(project, case):
    case.torch(HEAD + """
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.fc = nn.Linear(16 * 8 * 8, 10)
torch.save(CNN().state_dict(), "cnn.pth")
""")
    main = case.write("main.py", HEAD + """
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.fc = nn.Linear(32 * 8 * 8, 10)


model = CNN()
model.load_state_dict(torch.load("cnn.pth"))
""")
    _, fixes = _fixes(project, main, "size-mismatch")
    text = _apply_and_run(case, main, fixes["use-checkpoint-size"])
    assert "nn.Conv2d(3, 16, kernel_size=3, padding=1)" in text and "nn.Linear(1024, 10)" in text


def test_num_classes_of_a_torchvision_builder(project, case):
    case.torch(HEAD + "torch.save(models.resnet18(num_classes=1000).state_dict(), 'r18.pth')")
    main = case.write("main.py", HEAD + """
model = models.resnet18(num_classes=2)
model.load_state_dict(torch.load("r18.pth"))
""")
    result, fixes = _fixes(project, main, "size-mismatch")
    (finding,) = result.findings
    assert finding.span.line + 1 == 5 and finding.keys == ["fc.weight", "fc.bias"]  # on the builder call
    text = _apply_and_run(case, main, fixes["use-checkpoint-size"])
    assert "num_classes=1000" in text


def test_num_classes_shared_by_several_heads_is_one_edit(project, case):
    # issue 11.4: googlenet's fc, aux1.fc2 and aux2.fc2 all take their size from num_classes
    case.torch(HEAD + "torch.save(models.googlenet(weights=None, init_weights=False).state_dict(), 'g1000.pth')")
    main = case.write("main.py", HEAD + """
model = models.googlenet(weights=None, num_classes=10, init_weights=True)
model.load_state_dict(torch.load("g1000.pth"))
""")
    result, fixes = _fixes(project, main, "size-mismatch")
    (finding,) = [f for f in result.findings if f.code == "size-mismatch"]
    assert sorted(finding.keys) == sorted(f"{m}.{p}" for m in ("fc", "aux1.fc2", "aux2.fc2") for p in ("weight", "bias"))
    fix = fixes["use-checkpoint-size"]
    assert len(fix.edits) == 1 and fix.title == "Use the checkpoint's size: num_classes=1000"
    text = _apply_and_run(case, main, fix)
    assert "num_classes=1000, init_weights=True" in text


def test_add_prefix_when_the_model_is_wrapped(project, case):
    case.torch(HEAD + "torch.save(nn.Linear(3, 2).state_dict(), 'plain.pth')")
    main = case.write("main.py", HEAD + """
model = nn.DataParallel(nn.Linear(3, 2))
model.load_state_dict(torch.load("plain.pth"))
""")
    result, fixes = _fixes(project, main, "prefix-mismatch")
    assert [f.code for f in result.findings] == ["prefix-mismatch"]
    text = _apply_and_run(case, main, fixes["add-prefix"])
    assert '"module." + k' in text


@pytest.mark.parametrize("change", ["rename", "shift"])
def test_rename_keys_for_renamed_layers_and_index_shifts(project, case, change):
    if change == "rename":
        old = "nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))"
        new = "nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 3))"
    else:
        old = "nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3))"
        new = "nn.Sequential(nn.Identity(), nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3))"
    case.torch(HEAD + f"torch.save({old}.state_dict(), 'seq.pth')")
    main = case.write("main.py", HEAD + f"""
model = {new}
model.load_state_dict(torch.load("seq.pth"))
""")
    assert case.run().returncode != 0
    result, fixes = _fixes(project, main)
    assert {f.code for f in result.findings} <= {"missing-keys", "unexpected-keys", "size-mismatch"}
    assert "rename-keys" in fixes
    _apply_and_run(case, main, fixes["rename-keys"])


def test_edits_on_the_same_text_merge_or_the_fix_is_not_offered():
    from weightmatch.fixes import merge_edits
    from weightmatch.types import Span, TextEdit

    def edit(line, col, end, text):
        return TextEdit(Span("/x.py", line, col, line, end), text)

    same = [edit(3, 10, 12, "1000"), edit(3, 10, 12, "1000"), edit(5, 0, 0, "x = 1\n")]
    assert merge_edits(same) == [same[0], same[2]]
    assert merge_edits([edit(3, 10, 12, "1000"), edit(3, 10, 12, "20")]) is None  # one argument, two values
    assert merge_edits([edit(3, 10, 14, "a"), edit(3, 12, 16, "b")]) is None  # overlapping
    assert merge_edits([edit(3, 4, 4, "a"), edit(3, 4, 4, "b")]) is None  # two insertions at one point
    assert merge_edits([edit(3, 0, 2, "a"), edit(3, 2, 4, "b")]) is not None  # adjacent


def test_a_fix_that_does_not_parse_is_not_offered():
    from weightmatch.fixes import _parses_after
    from weightmatch.pyfile import parse
    from weightmatch.types import Span, TextEdit

    pf = parse("/x.py", "import torch\nm = f(a=1, b=2)\n")
    good = [TextEdit(Span("/x.py", 1, 8, 1, 9), "5")]
    repeated = [TextEdit(Span("/x.py", 1, 11, 1, 12), "a")]  # f(a=1, a=2): compile refuses it
    broken = [TextEdit(Span("/x.py", 1, 8, 1, 9), "(")]
    assert _parses_after(pf, good, "/x.py")
    assert not _parses_after(pf, repeated, "/x.py") and not _parses_after(pf, broken, "/x.py")


TIED = HEAD + """

class TinyLM(nn.Module):
    def __init__(self, vocab=11, dim=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.body = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.wte.weight


model = TinyLM()
"""


def test_strict_false_for_a_tied_weight_saved_once(project, case):
    """A tied embedding saved once (safetensors' save_model keeps one name): the missing key is
    the same tensor as a loaded one, so strict=False loads it too; neither the fix nor the
    message says it keeps its initial value (corpus W11). PyTorch shows it."""
    case.torch(TIED + "sd = model.state_dict()\ndel sd['wte.weight']\ntorch.save(sd, 'lm.pt')")
    main = case.write("main.py", TIED + """
sd = torch.load("lm.pt")
model.load_state_dict(sd)
assert torch.equal(model.wte.weight, sd["lm_head.weight"])
""")
    result, fixes = _fixes(project, main, "missing-keys")
    (missing,) = [f for f in result.findings if f.code == "missing-keys"]
    assert missing.keys == ["wte.weight"]
    assert fixes["strict-false"].title == "Load with strict=False (the missing keys are tied to loaded ones)"
    _apply_and_run(case, main, fixes["strict-false"])  # loads, and the assert on its values holds
    result, _ = _fixes(project, main, "missing-keys")
    (warning,) = [f for f in result.findings if f.code == "missing-keys"]
    assert warning.severity == "warning" and "wte.weight is lm_head.weight" in warning.message, warning.message
    assert "initial value" not in warning.message
