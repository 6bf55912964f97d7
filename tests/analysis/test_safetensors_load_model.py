"""`safetensors.torch.load_model(model, path, strict=...)`: the file loaded with
`load_state_dict(strict=False)` (size mismatches raise there), then missing/unexpected keys
raise when strict — except a missing key that shares memory with a loaded one (tied weights,
written once by `save_model`), on which no verdict is given. Each script runs with real
safetensors and PyTorch; the tool must agree, in both modes; the strict=False fix is applied
and run."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_alone
from weightmatch.textedit import apply_edits

SAVE = "import torch, torch.nn as nn\nfrom safetensors.torch import save_file, save_model\n"

SCRIPTS = {  # name: (saved by, the script's model and load, PyTorch raises)
    "clean": ("save_file(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'w.safetensors')",
              "model = nn.Sequential(nn.Linear(4, 8))\nload_model(model, 'w.safetensors')", False),
    "size-mismatch": ("save_file(nn.Sequential(nn.Linear(4, 6)).state_dict(), 'w.safetensors')",
                      "model = nn.Sequential(nn.Linear(4, 8))\nload_model(model, 'w.safetensors', strict=False)", True),
    "missing-strict": ("save_file(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'w.safetensors')",
                       "model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))\n"
                       "load_model(model, filename='w.safetensors')", True),
    "missing-not-strict": ("save_file(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'w.safetensors')",
                           "model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))\n"
                           "load_model(model, 'w.safetensors', False)", False),
    "unexpected-strict": ("save_file(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).state_dict(), 'w.safetensors')",
                          "model = nn.Sequential(nn.Linear(4, 8))\nload_model(model, 'w.safetensors')", True),
}

HEAD = "import torch\nimport torch.nn as nn\nfrom safetensors.torch import load_model\n\n"


def _raises(case) -> bool:
    run = case.run()
    assert run.returncode == 0 or "RuntimeError" in run.stderr, run.stderr[-2000:]
    return run.returncode != 0


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_load_model_is_judged_like_safetensors(case, name, execute) -> None:
    saver, script, raises = SCRIPTS[name]
    case.torch(SAVE + saver)
    case.write("main.py", HEAD + script + "\n")
    assert _raises(case) is raises
    result = analyze_alone(case, execute)
    (report,) = result.reports
    errors = [f for f in result.findings if f.severity == "error"]
    assert report.how is not None and bool(errors) is raises, [f.message for f in result.findings]


TIED = """
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


model = LM()
load_model(model, "w.safetensors")
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
def test_a_tied_weight_written_once_gets_no_error(case, execute) -> None:
    """`save_model` writes tied weights once; `load_model` forgives the twin's absence. Which
    weights are tied is not known from shapes, so the missing twin gets no verdict, never an error."""
    case.write("main.py", HEAD + TIED)
    case.torch(SAVE + TIED.split("\n\nmodel = ")[0] + "\n\nsave_model(LM(), 'w.safetensors')")
    assert not _raises(case)
    result = analyze_alone(case, execute)
    assert not [f for f in result.findings if f.severity == "error"], [f.message for f in result.findings]
    (hint,) = result.findings
    assert hint.keys == ["head.weight"] and "tied weights" in hint.message, hint.message


def test_the_strict_false_fix_lands_on_the_strict_argument(project, case) -> None:
    case.torch(SAVE + "save_file(nn.Sequential(nn.Linear(4, 8)).state_dict(), 'w.safetensors')")
    main = case.write("main.py", HEAD + "model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))\n"
                                        "load_model(model, 'w.safetensors', True)\n")
    assert _raises(case)
    result = project.analyze(str(main))
    fixes = {fix.kind: fix for f in result.findings for fix in f.fixes}
    assert set(fixes) == {"strict-false"}, fixes
    main.write_text(apply_edits(main.read_text(), fixes["strict-false"].edits))
    assert "load_model(model, 'w.safetensors', False)" in main.read_text()
    assert not _raises(case)
