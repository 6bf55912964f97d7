"""Module-level values that a script's classes read when the model is made (dcgan's
`nz = int(opt.nz)` read by `Generator.__init__`): the interpreter's value at that moment goes
into the recipe, for static inference and for the worker alike. PyTorch judges by running the
script."""

from __future__ import annotations

import pytest

from weightmatch.project import Project, Settings


@pytest.fixture(scope="module")
def worker_first(root):
    """The worker builds every model (`--exec-first`): the recipe's values reach it too."""
    p = Project(str(root), Settings(execute=True, worker_timeout=120, static_first=False))
    yield p
    p.close()

DCGAN_LIKE = """
import argparse
import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--nz", type=int, default=100)
parser.add_argument("--ngf", type=int, default=8)
parser.add_argument("--netG", default="")
opt = parser.parse_args()
nz = int(opt.nz)
ngf = int(opt.ngf)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1, bias=False),
        )


netG = Generator()
netG.apply(weights_init)
if opt.netG != "":
    netG.load_state_dict(torch.load(opt.netG))
"""


@pytest.mark.parametrize("saved_nz", [100, 50])
@pytest.mark.parametrize("mode", ["static", "worker"])
def test_globals_set_from_argparse_reach_the_class(case, worker_first, static_project, saved_nz, mode) -> None:
    case.torch(DCGAN_LIKE.replace('default=100', f'default={saved_nz}').replace('default=""', 'default="g.pth"')
               .split("netG = Generator()")[0] + "torch.save(Generator().state_dict(), 'g.pth')\n")
    main = case.write("main.py", DCGAN_LIKE.replace('parser.add_argument("--netG", default="")',
                                                    'parser.add_argument("--netG", default="g.pth")'))
    analysis = (static_project if mode == "static" else worker_first).analyze(str(main))
    ran = case.run()
    (report,) = analysis.reports
    assert report.how == ("static" if mode == "static" else "executed"), [f.message for f in analysis.findings]
    errors = [f for f in analysis.findings if f.severity == "error"]
    assert bool(errors) == (ran.returncode != 0) == (saved_nz != 100), (ran.stderr[-300:], [f.message for f in analysis.findings])
    if errors:
        assert "size mismatch for main.0.weight" in ran.stderr
        (f,) = errors
        assert "[50, 16, 4, 4]" in f.message and "[100, 16, 4, 4]" in f.message
        assert "--nz at its default, 100" in f.message  # the assumption, said aloud


@pytest.mark.parametrize("mode", ["static", "worker"])
def test_the_value_when_the_model_is_made_not_the_last_one(case, worker_first, static_project, mode) -> None:
    """`width` is 8 when Net() runs; the script sets it to 4 afterwards. The load succeeds."""
    case.torch("""
        import torch, torch.nn as nn
        torch.save({"fc.weight": torch.zeros(8, 2), "fc.bias": torch.zeros(8)}, "w.pt")
    """)
    main = case.write("main.py", """
        import torch
        import torch.nn as nn

        width = 8


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, width)


        model = Net()
        width = 4
        model.load_state_dict(torch.load("w.pt"))
    """)
    analysis = (static_project if mode == "static" else worker_first).analyze(str(main))
    assert case.run().returncode == 0
    (report,) = analysis.reports
    assert report.how == ("static" if mode == "static" else "executed"), [f.message for f in analysis.findings]
    assert not analysis.findings, [f.message for f in analysis.findings]
