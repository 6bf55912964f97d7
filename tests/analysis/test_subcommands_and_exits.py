"""argparse subcommands (`add_subparsers` / `add_parser`: fast_neural_style's `eval --model m.pth`)
read as data, and `sys.exit()` / `parser.error()` that surely run: what follows them does not.
PyTorch judges by running each script with the same arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest

from weightmatch.argparse_values import ParserVal
from weightmatch.project import Project, Settings
from weightmatch.values import Const, Unknown

SCRIPT = """
import argparse
import sys
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width)


def stylize(args):
    model = Net(args.width)
    model.load_state_dict(torch.load(args.model))


def main():
    main_parser = argparse.ArgumentParser()
    main_parser.add_argument("--verbose", action="store_true")
    subparsers = main_parser.add_subparsers(title="subcommands", dest="subcommand")
    train = subparsers.add_parser("train")
    train.add_argument("--epochs", type=int, default=2)
    ev = subparsers.add_parser("eval", aliases=["stylize"])
    ev.add_argument("--model", type=str, required=True)
    ev.add_argument("--width", type=int, default=3)
    args = main_parser.parse_args()
    if args.subcommand is None:
        print("ERROR: specify either train or eval")
        sys.exit(1)
    if args.subcommand == "train":
        print("training")
    else:
        stylize(args)


if __name__ == "__main__":
    main()
"""


def _analyze(case, script_args: str | None):
    settings = Settings(execute=False, script_args={str(case.dir / "main.py"): script_args} if script_args else {})
    p = Project(str(case.dir), settings)
    try:
        return p.analyze(str(case.dir / "main.py"))
    finally:
        p.close()


@pytest.mark.parametrize("argv", ["eval --model m.pth", "--verbose stylize --width 5 --model m.pth",
                                  "eval --model m.pth --width=5", "train"])
def test_a_subcommand_s_options_reach_the_load(case, argv) -> None:
    case.torch("import torch, torch.nn as nn; "
               "torch.save({'fc.' + k: v for k, v in nn.Linear(4, 5).state_dict().items()}, 'm.pth')")
    case.write("main.py", SCRIPT)
    result = _analyze(case, argv)
    ran = subprocess.run([sys.executable, "main.py", *argv.split()], cwd=case.dir, capture_output=True, text=True,
                         timeout=300)
    errors = [f for f in result.findings if f.severity == "error"]
    assert bool(errors) == (ran.returncode != 0), (ran.stderr[-300:], [f.message for f in result.findings])
    if "eval" in argv or "stylize" in argv:
        (report,) = result.reports
        assert report.raises == (ran.returncode != 0) and report.how == "static"
    if errors:
        assert "size mismatch for fc.weight" in ran.stderr and "the configured script arguments" in errors[0].message


def test_no_subcommand_exits_before_the_load(case) -> None:
    """At the defaults the script exits (`sys.exit(1)`): the load is not reached, so nothing is
    assumed about `args.model`; the load is left unchecked, quietly."""
    case.write("main.py", SCRIPT)
    result = _analyze(case, None)
    ran = subprocess.run([sys.executable, "main.py"], cwd=case.dir, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 1 and "specify either" in ran.stdout
    (f,) = result.findings  # stylize() is not called at the defaults: checked as nothing calls it
    assert f.code.startswith("unresolved-") and "parameter of stylize()" in f.message, f.message
    assert "no option that sets" not in f.message


def test_a_load_after_an_exit_says_it_is_not_reached(case) -> None:
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 5).state_dict(), 'm.pth')")
    case.write("main.py", """
        import argparse, sys
        import torch, torch.nn as nn

        parser = argparse.ArgumentParser()
        parser.add_argument("--ckpt", default=None)
        args = parser.parse_args()
        if args.ckpt is None:
            parser.error("--ckpt is needed")
        model = nn.Linear(4, 3)
        model.load_state_dict(torch.load(args.ckpt))
    """)
    (f,) = _analyze(case, None).findings
    assert f.severity == "hint" and "exits before this load" in f.message and "main.py:8" in f.message, f.message
    assert case.run().returncode == 2  # argparse's error exit
    (g,) = _analyze(case, "--ckpt m.pth").findings  # with the checkpoint given, the load is checked
    assert g.code == "size-mismatch"
    assert "size mismatch" in subprocess.run([sys.executable, "main.py", "--ckpt", "m.pth"], cwd=case.dir,
                                             capture_output=True, text=True, timeout=300).stderr


@pytest.mark.parametrize("guard", ["try:\n    sys.exit(1)\nexcept SystemExit:\n    pass\n",
                                   "for _ in sys.argv[1:]:\n    sys.exit(1)\n",
                                   "if len(sys.argv) > 5:\n    sys.exit(1)\n"])
def test_an_exit_that_may_not_run_stops_nothing(case, guard) -> None:
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 5).state_dict(), 'm.pth')")
    case.write("main.py", "import sys\nimport torch, torch.nn as nn\n" + guard
               + "model = nn.Linear(4, 3)\nmodel.load_state_dict(torch.load('m.pth'))\n")
    result = _analyze(case, None)
    assert [f.code for f in result.findings] == ["size-mismatch"], [f.message for f in result.findings]


def test_parse_follows_argparse() -> None:
    """The namespaces argparse itself gives, for the same parser and argument lists."""
    import argparse

    def ours_and_theirs(argv):
        theirs = argparse.ArgumentParser()
        theirs.add_argument("--lr", type=float, default=0.1)
        sub = theirs.add_subparsers(dest="cmd")
        a = sub.add_parser("a", aliases=["alpha"])
        a.add_argument("--lr", type=float, default=0.5)  # the subcommand's default wins
        a.add_argument("n", type=int)
        b = sub.add_parser("b")
        b.add_argument("--flag", action="store_true")
        ours = ParserVal()
        ours.add_argument([Const("--lr")], {"type": Const("float"), "default": Const(0.1)})
        s = ours.add_subparsers({"dest": Const("cmd")})
        pa = s.add_parser([Const("a")], {"aliases": Const(["alpha"])})
        pa.add_argument([Const("--lr")], {"type": Const("float"), "default": Const(0.5)})
        pa.add_argument([Const("n")], {"type": Const("int")})
        pb = s.add_parser([Const("b")], {})
        pb.add_argument([Const("--flag")], {"action": Const("store_true")})
        parsed = ours.parse(argv)
        known = {k: v.value for k, v in parsed.attrs.items() if isinstance(v, Const)}
        unknown = {k for k, v in parsed.attrs.items() if isinstance(v, Unknown)}
        return known, unknown, vars(theirs.parse_args(argv))

    for argv in ([], ["a", "3"], ["--lr", "0.2", "alpha", "4"], ["b", "--flag"], ["--lr=0.3", "b"]):
        ours, unknown, theirs = ours_and_theirs(argv)
        assert ours == theirs, (argv, ours, theirs)
        # a subcommand's options without the subcommand: absent for argparse, unknown here
        assert not unknown & set(theirs) and (unknown == {"n", "flag"} if not argv else not unknown), (argv, unknown)
    required = ParserVal()
    required.add_subparsers({"dest": Const("cmd"), "required": Const(True)})
    assert isinstance(required.parse([]), Unknown)


def test_sys_exit_of_main_runs_main_first(case) -> None:
    """`sys.exit(main(args))`: the call inside runs before the exit, with its arguments."""
    case.torch("import torch, torch.nn as nn; torch.save(nn.Linear(4, 5).state_dict(), 'w.pt')")
    case.write("main.py", """
        import argparse
        import sys
        import torch
        import torch.nn as nn


        def main(width):
            model = nn.Linear(4, width)
            model.load_state_dict(torch.load("w.pt"))
            return 0


        if __name__ == "__main__":
            parser = argparse.ArgumentParser()
            parser.add_argument("--width", type=int, default=3)
            sys.exit(main(parser.parse_args().width))
    """)
    (f,) = _analyze(case, None).findings
    assert f.code == "size-mismatch" and "--width at its default, 3" in f.message and "main() as called" in f.message
    assert "size mismatch for weight" in case.run().stderr


RULED_OUT = """
import argparse

import torch
import torch.nn as nn


class Solver:
    def __init__(self, config):
        self.G = nn.Linear(4, 5)
        self.optimizer = torch.optim.SGD(self.G.parameters(), lr=0.1)
        self.resume_iters = config.resume_iters

    def restore_model(self, iters):
        self.G.load_state_dict(torch.load(f"{iters}-G.ckpt"))

    def train(self):
        if self.resume_iters:
            self.restore_model(self.resume_iters)


def load(model, path, resume):
    if resume:
        model.load_state_dict(torch.load(path))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resume_iters", type=int, default=None)
    parser.add_argument("--resume", default="")
    config = parser.parse_args()
    model = nn.Linear(4, 5)
    optimizer = None
    if config.resume:
        model.load_state_dict(torch.load(config.resume))
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(config.resume)["optimizer"])
    Solver(config).train()
    load(nn.Linear(4, 5), "w.pt", True)
    load(nn.Linear(4, 5), "w.pt", False)


if __name__ == "__main__":
    main()
"""


def test_a_load_the_assumed_values_rule_out_says_which_test(tmp_path) -> None:
    """`if config.resume:` with --resume at its default: the load is not judged, and says why;
    a method only such a branch calls says it in its reason; an optimizer's load says nothing;
    a helper whose load one call reaches is judged there only."""
    import torch

    (tmp_path / "main.py").write_text(RULED_OUT)
    torch.save(torch.nn.Linear(4, 4).state_dict(), tmp_path / "w.pt")
    project = Project(str(tmp_path), Settings(execute=False))
    try:
        analysis = project.analyze(str(tmp_path / "main.py"))
    finally:
        project.close()
    by_line = {f.load_call.line + 1: f for f in analysis.findings}
    assert sorted(by_line) == [15, 24, 35], [(line, f.message) for line, f in by_line.items()]
    assert by_line[35].severity == "hint" and by_line[35].message == (
        "Not checked: this load runs only if `config.resume` is true, and it is not with --resume at its "
        "default, '' (main.py:34)")
    assert "its call runs only if `self.resume_iters` is true, and it is not with --resume_iters at its " \
        "default, None (main.py:18)" in by_line[15].message, by_line[15].message
    assert by_line[24].code == "size-mismatch" and "Not checked" not in by_line[24].message
