"""A model pickled whole (`torch.save(model, p)`) whose `state_dict()` is loaded into a model
built from source: `torch.load(p, weights_only=False).state_dict()`, yolov5's
`ckpt["model"].float().state_dict()`. The keys and shapes are read from the pickle as data; the
classes it names are checked in the workspace. Judged by real PyTorch in both modes."""

from __future__ import annotations

import pytest
from analysis_helpers import analyze_alone, judged_like_pytorch

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2, bias=False)
{extra}
"""

LOADS = {
    "whole-file": ('model.load_state_dict(torch.load("full.pt", weights_only=False).state_dict())',
                   "torch.save(Net(hidden={saved}), 'full.pt')"),
    "yolov5-style": (('ckpt = torch.load("full.pt", map_location="cpu", weights_only=False)\n'
                      'csd = ckpt["model"].float().state_dict()\nmodel.load_state_dict(csd)'),
                     "torch.save({{'model': Net(hidden={saved}).half(), 'epoch': 3}}, 'full.pt')"),
}


def _case(case, load: str, saved: int, hidden: int, extra: str = "") -> None:
    case.write("net.py", NET.format(extra=extra))
    code, save = LOADS[load]
    case.write("main.py", f"import torch\n\nfrom net import Net\n\nmodel = Net(hidden={hidden})\n{code}\n")
    case.torch("import sys, torch\nsys.path.insert(0, '.')\nfrom net import Net\n" + save.format(saved=saved))


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("hidden", [4, 6], ids=["same-width", "other-width"])
@pytest.mark.parametrize("load", sorted(LOADS))
def test_a_pickled_models_state_dict(case, load, hidden, execute) -> None:
    _case(case, load, 4, hidden)
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")


UNFOLLOWED = {
    "overrides-state-dict": (
        "\n\nclass OldNet(Net):\n    def state_dict(self, *args, **kwargs):\n"
        "        return super().state_dict(*args, **kwargs)\n",
        "from net import OldNet\ntorch.save(OldNet(hidden=4), 'full.pt')",
        "`OldNet` defines `state_dict`"),
    "outside-the-workspace": (
        "",
        "import net\nnet.Net.__module__ = 'vendor_nets'\nsys.modules['vendor_nets'] = net\n"
        "torch.save(net.Net(hidden=4), 'full.pt')",
        "`vendor_nets.Net` is not defined in the workspace"),
}


@pytest.mark.parametrize("kind", sorted(UNFOLLOWED))
def test_a_class_not_followed_leaves_the_load_unresolved(case, kind) -> None:
    """A pickled class that changes what state_dict() gives, or one the workspace does not
    define: what `.state_dict()` gives is not known, and the reason names the class."""
    extra, save, said = UNFOLLOWED[kind]
    _case(case, "whole-file", 4, 6, extra)
    case.torch("import sys, torch\nsys.path.insert(0, '.')\n" + save)
    result = analyze_alone(case, False)
    assert not [f for f in result.findings if f.severity == "error"]
    assert any(said in f.message for f in result.findings), [f.message for f in result.findings]


def test_the_shape_filter_fix_on_a_pickled_models_state_dict_makes_the_load_succeed(case) -> None:
    """The quick fix offered on `ckpt["model"].float().state_dict()`, applied and run with PyTorch."""
    from weightmatch.textedit import apply_edits

    _case(case, "yolov5-style", 4, 6)
    before = case.run()
    assert before.returncode != 0 and "size mismatch" in before.stderr
    result = analyze_alone(case, False)
    fixes = {fix.kind: fix for f in result.findings if f.severity == "error" for fix in f.fixes}
    assert "filter-shapes" in fixes, [f.message for f in result.findings]
    main = case.dir / "main.py"
    main.write_text(apply_edits(main.read_text(), fixes["filter-shapes"].edits))
    after = case.run()
    assert after.returncode == 0, after.stderr[-2000:] + "\n----\n" + main.read_text()
