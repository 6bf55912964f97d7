"""How real entry points hand values to the load, beyond a module-level argparse: a
`parse_args(argv=None)` helper, environment variables with defaults (a bare run has them unset;
a launch configuration's `env` sets them), click commands and typer apps. Each judged by real
PyTorch running the script, in both modes; the assumption is said in the message."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import agrees_with_pytorch, analyze_alone, judged_like_pytorch, pytorch_outcomes

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, width=8):
        super().__init__()
        self.body = nn.Linear(4, width)
        self.head = nn.Linear(width, num_classes)
"""

SAVE = "import sys, torch\nsys.path.insert(0, '.')\nfrom net import Net\ntorch.save(Net(10).state_dict(), 'w.pt')"

PARSE_ARGS_HELPER = """
import argparse
import sys

import torch

from net import Net


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-classes", type=int)
    parser.set_defaults(num_classes={classes})
    return parser.parse_args(argv)


def main(args):
    model = Net(args.num_classes)
    model.load_state_dict(torch.load("w.pt"))
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
"""

ENV_SERVICE = """
import os

import torch

from net import Net

NUM_CLASSES = int(os.environ.get("NUM_CLASSES", {classes}))
WEIGHTS = os.getenv("WEIGHTS", "w.pt")


def load_model():
    model = Net(NUM_CLASSES)
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu"))
    return model.eval()


if __name__ == "__main__":
    load_model()
"""

CLICK_APP = """
import click
import torch

from net import Net


@click.command()
@click.option("--num-classes", "-n", default={classes}, type=int, help="label count")
@click.option("--width", default="8", type=int)
@click.option("--verbose", is_flag=True)
@click.argument("weights", default="w.pt")
def main(num_classes, width, verbose, weights):
    model = Net(num_classes, width)
    model.load_state_dict(torch.load(weights))


if __name__ == "__main__":
    main()
"""

TYPER_APP = """
import torch
import typer

from net import Net


def main(num_classes: int = typer.Option({classes}, help="label count"), weights: str = "w.pt"):
    model = Net(num_classes)
    model.load_state_dict(torch.load(weights))


if __name__ == "__main__":
    typer.run(main)
"""

SCRIPTS = {"parse-args-helper": PARSE_ARGS_HELPER, "env-service": ENV_SERVICE, "click": CLICK_APP, "typer": TYPER_APP}
SAID = {"parse-args-helper": "--num-classes at its default", "env-service": "$NUM_CLASSES unset (default {classes})",
        "click": "--num-classes at its default, {classes}", "typer": "--num-classes at its default, {classes}"}


def _write(case, script: str, classes: int) -> None:
    case.write("net.py", NET)
    case.write("main.py", SCRIPTS[script].format(classes=classes))
    case.torch(SAVE)


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("classes", [10, 7], ids=["clean", "other-classes"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_an_entry_points_values_reach_the_load(case, script, classes, execute) -> None:
    _write(case, script, classes)
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
    if classes != 10:
        messages = [f.message for f in analyze_alone(case, execute).findings]
        assert any(SAID[script].format(classes=classes) in m for m in messages), messages


@pytest.mark.parametrize("script", ["parse-args-helper", "click"])
def test_the_configured_arguments_reach_a_helper_and_a_click_command(case, script) -> None:
    _write(case, script, 10)
    truth = pytorch_outcomes(case, args=["--num-classes", "7"])
    assert truth["loads"][0]["raises"]
    result = analyze_alone(case, False, script_args="--num-classes 7")
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")


def test_a_launch_configurations_env_sets_the_variable(case) -> None:
    _write(case, "env-service", 10)
    case.write(".vscode/launch.json", json.dumps({"configurations": [{
        "name": "Serve", "type": "debugpy", "request": "launch", "program": "${workspaceFolder}/main.py",
        "env": {"NUM_CLASSES": "7"}}]}))
    truth = pytorch_outcomes(case, env={"NUM_CLASSES": "7"})
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert any("$NUM_CLASSES set to '7' by launch.json “Serve”" in f.message for f in result.findings)


def _unresolved(result) -> bool:
    return not [f for f in result.findings if f.severity == "error"] and \
        any(f.code.startswith("unresolved") for f in result.findings)


@pytest.mark.parametrize("read", ['os.environ["NUM_CLASSES"]', 'os.getenv("NUM_CLASSES")'])
def test_a_variable_read_without_a_default_stays_unknown(case, read) -> None:
    _write(case, "env-service", 7)
    case.write("main.py", ENV_SERVICE.format(classes=7).replace('os.environ.get("NUM_CLASSES", 7)', read))
    assert pytorch_outcomes(case, env={"NUM_CLASSES": "10"})["loads"][0]["raises"] is False
    result = analyze_alone(case, False)
    assert _unresolved(result), [f.message for f in result.findings]


@pytest.mark.parametrize("option", ['"--num-classes/--no-num-classes"', '"--num-classes", multiple=True'])
def test_click_options_that_behave_otherwise_leave_the_load_unresolved(case, option) -> None:
    _write(case, "click", 7)
    case.write("main.py", CLICK_APP.format(classes=7).replace('"--num-classes", "-n"', option))
    result = analyze_alone(case, False)
    assert _unresolved(result), [f.message for f in result.findings]


CLICK_GROUP = """
import click
import torch

from net import Net


@click.group()
def cli():
    pass


@cli.command()
@click.option("--num-classes", default={classes}, type=int)
def train(num_classes):
    Net(num_classes)


@cli.command(name="eval")
@click.option("--num-classes", default={classes}, type=int)
@click.argument("weights", default="w.pt")
def evaluate_cmd(num_classes, weights):
    model = Net(num_classes)
    model.load_state_dict(torch.load(weights))


if __name__ == "__main__":
    cli()
"""


@pytest.mark.parametrize("classes", [10, 7], ids=["clean", "other-classes"])
@pytest.mark.parametrize("args", [["eval"], ["eval", "--num-classes", "10"], ["eval", "--num-classes", "7"]],
                         ids=["defaults", "configured-10", "configured-7"])
def test_a_click_groups_command_is_judged_as_run_by_its_name(case, args, classes) -> None:
    """`python main.py eval [OPTIONS]`: the group runs the command its name selects, with its
    options at their defaults or as configured; the message names the command run."""
    case.write("net.py", NET)
    case.write("main.py", CLICK_GROUP.format(classes=classes))
    case.torch(SAVE)
    truth = pytorch_outcomes(case, args=args)
    assert truth["crash"] is None and len(truth["loads"]) == 1, truth
    configured = " ".join(args) if len(args) > 1 else None
    result = analyze_alone(case, False, script_args=configured)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    if truth["loads"][0]["raises"]:
        assert any("evaluate_cmd() run as `main.py eval" in f.message for f in result.findings)


def test_a_click_groups_command_another_configuration_runs_stays_unresolved(case) -> None:
    case.write("net.py", NET)
    case.write("main.py", CLICK_GROUP.format(classes=7))
    case.torch(SAVE)
    assert pytorch_outcomes(case, args=["train"])["loads"] == []
    result = analyze_alone(case, False, script_args="train --num-classes 3")
    assert _unresolved(result), [f.message for f in result.findings]
    assert any("the click command `eval`, not the `train`" in f.message for f in result.findings)


GPU_EVAL = """
import torch
import torch.nn as nn

from net import Net

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = Net(10)
if torch.cuda.device_count() > 1:
    model = nn.DataParallel(model)
model.to(device)
model.load_state_dict(torch.load("w.pt", map_location=device))
"""


@pytest.mark.parametrize("execute", [False, True], ids=["static", "worker"])
@pytest.mark.parametrize("saved", ["nn.DataParallel(Net(10))", "Net(10)"], ids=["trained-on-gpus", "bare"])
def test_a_model_wrapped_only_with_several_gpus_is_judged_as_on_a_machine_without_one(case, saved, execute) -> None:
    """The classic failure: trained in DataParallel on several GPUs, evaluated on one GPU or
    none, where the script leaves the model bare. Said as an assumption, not as a fact."""
    case.write("net.py", NET)
    case.write("main.py", GPU_EVAL)
    case.torch(f"import sys, torch, torch.nn as nn\nsys.path.insert(0, '.')\nfrom net import Net\n"
               f"torch.save({saved}.state_dict(), 'w.pt')")
    judged_like_pytorch(case, execute, "mismatched+missing+unexpected")
    errors = [f for f in analyze_alone(case, execute).findings if f.severity == "error"]
    assert all("with no GPU visible (a CPU-only run)" in f.message for f in errors) and bool(errors) == (
        saved != "Net(10)")


FALLBACK_ARGS = """
import argparse
import sys

import torch

from net import Net

parser = argparse.ArgumentParser()
parser.add_argument("--num-classes", type=int, default=10)
args = parser.parse_args(sys.argv[1:] or ["--num-classes", "7"])
model = Net(args.num_classes)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("given", ["", "--num-classes 10"], ids=["bare", "configured"])
def test_arguments_with_a_fallback_for_a_bare_run(case, given) -> None:
    """`parse_args(sys.argv[1:] or [...])` (fast_neural_style's shape): a bare run parses the
    fallback list, a configured run its own arguments."""
    case.write("net.py", NET)
    case.write("main.py", FALLBACK_ARGS)
    case.torch(SAVE)
    truth = pytorch_outcomes(case, args=given.split())
    result = analyze_alone(case, False, script_args=given or None)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert truth["loads"][0]["raises"] == (not given)


def test_an_assumption_that_changes_nothing_the_load_reads_is_not_said(case) -> None:
    """`if torch.cuda.is_available(): model = model.cuda()` decides nothing a load depends on:
    its message does not carry the GPU assumption (nor a flag's default that only prints)."""
    case.write("net.py", NET)
    case.write("main.py", GPU_EVAL.replace("if torch.cuda.device_count() > 1:\n    model = nn.DataParallel(model)",
                                           "if torch.cuda.is_available():\n    model = model.cuda()")
               .replace("Net(10)", "Net(7)"))
    case.torch(SAVE)
    errors = [f for f in analyze_alone(case, False).findings if f.severity == "error"]
    assert errors and not any("GPU" in f.message for f in errors), [f.message for f in errors]


ARGS_DICT = """
import argparse

import torch

from net import Net


def cli():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-classes", type=int, default={classes})
    parser.add_argument("--weights", default="w.pt")
    args = parser.parse_args().__dict__
    num_classes: int = args.pop("num_classes")
    model = Net(num_classes)
    model.load_state_dict(torch.load(args.pop("weights")))


if __name__ == "__main__":
    cli()
"""


@pytest.mark.parametrize("classes", [10, 7], ids=["clean", "other-classes"])
def test_the_namespace_dict_popped_option_by_option(case, classes) -> None:
    """whisper's CLI: `args = parser.parse_args().__dict__`, then `args.pop("model")`."""
    case.write("net.py", NET)
    case.write("main.py", ARGS_DICT.format(classes=classes))
    case.torch(SAVE)
    judged_like_pytorch(case, False, "mismatched")


SETS_ENV = {  # what the script does to os.environ before the model is made
    "setdefault": 'os.environ.setdefault("WM_WIDTH", "{width}")',
    "item": 'os.environ["WM_WIDTH"] = "{width}"',
    "update": 'os.environ.update({{"WM_WIDTH": "{width}"}})',
}
READS_ENV = {"get": 'int(os.environ.get("WM_WIDTH", "4"))', "item": 'int(os.environ["WM_WIDTH"])'}


@pytest.mark.parametrize("where", ["main", "imported"])
@pytest.mark.parametrize("sets", list(SETS_ENV))
@pytest.mark.parametrize("reads", list(READS_ENV))
@pytest.mark.parametrize("width", [8, 6])
def test_a_variable_the_script_sets_is_what_later_reads_get(case, where, sets, reads, width) -> None:
    """`os.environ.setdefault("WM_WIDTH", "8")` (here or in a settings module imported for its
    side effect), then `os.environ.get("WM_WIDTH", "4")` in the model's factory in another file:
    the model is 8 wide, not the read's default (a false alarm before). Judged by PyTorch."""
    case.write("net.py", NET)
    case.torch(SAVE.replace("Net(10)", "Net(10, width=8)"))
    setting = SETS_ENV[sets].format(width=width)
    case.write("settings.py", f"import os\n\n{setting}\n")
    case.write("factory.py", f"import os\n\nfrom net import Net\n\n\ndef make():\n    return Net(10, width={READS_ENV[reads]})\n")
    case.write("main.py", f"""
        import os

        import torch

        {"import settings  # noqa: F401" if where == "imported" else setting}
        from factory import make

        model = make()
        model.load_state_dict(torch.load("w.pt"))
    """)
    truth = pytorch_outcomes(case)
    assert truth["crash"] is None and truth["loads"][0]["raises"] is (width != 8), truth
    for execute in (False, True):
        result = analyze_alone(case, execute)
        agrees_with_pytorch(result, truth["loads"][0], "mismatched")
        assert not [f.message for f in result.findings if f.code.startswith("unresolved")]


def test_a_variable_set_under_a_name_not_known_here_is_not_guessed(case) -> None:
    """`os.environ[key] = value` with `key` known only at run time (rows of a `csv.reader`, not
    followed) may set any variable: a later read with a default stays unknown (said), rather than
    taking the default."""
    case.write("net.py", NET)
    case.torch(SAVE.replace("Net(10)", "Net(10, width=8)"))
    case.write("main.py", """
        import csv
        import os

        import torch

        from net import Net

        with open("run.env") as f:
            for key, value in csv.reader(f, delimiter="="):
                os.environ[key] = value
        model = Net(10, width=int(os.environ.get("WM_WIDTH", "4")))
        model.load_state_dict(torch.load("w.pt"))
    """)
    case.write("run.env", "WM_WIDTH=8\n")
    assert pytorch_outcomes(case)["loads"][0]["raises"] is False
    result = analyze_alone(case, False)
    assert _unresolved(result), [f.message for f in result.findings]
    assert any("`os.environ[key] = …` may set $WM_WIDTH" in f.message for f in result.findings), \
        [f.message for f in result.findings]


@pytest.mark.parametrize("width", [8, 6])
def test_arguments_given_as_one_string_split_like_a_shell(case, width) -> None:
    """`parser.parse_args(shlex.split(ARGV))` of a literal string (a notebook-style run)."""
    case.write("net.py", NET)
    case.torch(SAVE.replace("Net(10)", "Net(10, width=8)"))
    case.write("main.py", f"""
        import argparse
        import shlex

        import torch

        from net import Net

        ARGV = "--width {width} --num-classes 10"
        parser = argparse.ArgumentParser()
        parser.add_argument("--width", type=int, default=4)
        parser.add_argument("--num-classes", type=int, default=3)
        args = parser.parse_args(shlex.split(ARGV))
        model = Net(args.num_classes, width=args.width)
        model.load_state_dict(torch.load("w.pt"))
    """)
    judged_like_pytorch(case, False, "mismatched")
    assert not [f for f in analyze_alone(case, False).findings if f.code.startswith("unresolved")]


@pytest.mark.parametrize("env", [None, "7"], ids=["unset", "launch-env"])
def test_a_click_option_read_from_an_environment_variable(case, env) -> None:
    """`@click.option("--num-classes", envvar="NUM_CLASSES", default=10)`: a bare run takes the
    variable when the launch configuration sets it, else the default, and says which."""
    _write(case, "click", 10)
    case.write("main.py", CLICK_APP.format(classes=10).replace('"--num-classes", "-n",', '"--num-classes", "-n", envvar="NUM_CLASSES",'))
    if env is not None:
        case.write(".vscode/launch.json", json.dumps({"configurations": [{
            "name": "Eval", "type": "debugpy", "request": "launch", "program": "${workspaceFolder}/main.py",
            "env": {"NUM_CLASSES": env}}]}))
    truth = pytorch_outcomes(case, env={"NUM_CLASSES": env} if env else None)
    assert truth["loads"][0]["raises"] is (env is not None), truth
    result = analyze_alone(case, False)
    agrees_with_pytorch(result, truth["loads"][0], "mismatched")
    assert not [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]
    if env is not None:
        assert any("$NUM_CLASSES set to '7' by launch.json “Eval”" in f.message for f in result.findings)


FIRE_APPS = {
    "class": "class Predictor:\n    def __init__(self, weights='w.pt', width=8):\n        self.model = Net(10, width)\n"
             "        self.model.load_state_dict(torch.load(weights))\n\n    def predict(self, n=1):\n        return n\n\n\n"
             "if __name__ == '__main__':\n    fire.Fire(Predictor)\n",
    "function": "def main(weights='w.pt', width=8):\n    model = Net(10, width)\n    model.load_state_dict(torch.load(weights))\n\n\n"
                "if __name__ == '__main__':\n    fire.Fire(main)\n",
}


@pytest.mark.parametrize("app", list(FIRE_APPS))
@pytest.mark.parametrize("saved", [8, 6])
def test_python_fire_runs_its_target_bare(case, app, saved) -> None:
    """`fire.Fire(Predictor)` run with no arguments makes `Predictor()` (every parameter at its
    default), whose `__init__` builds and loads; `fire.Fire(main)` calls `main()`."""
    case.write("net.py", NET)
    case.torch(SAVE.replace("Net(10)", f"Net(10, width={saved})"))
    case.write("main.py", "import fire\nimport torch\n\nfrom net import Net\n\n\n" + FIRE_APPS[app])
    judged_like_pytorch(case, False, "mismatched")
    assert not [f for f in analyze_alone(case, False).findings if f.code.startswith("unresolved")]


STR2BOOL = """
import argparse

import torch

from net import Net


def str2bool(v):
    if isinstance(v, bool):
        return v
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    elif v.lower() in ("no", "false", "f", "n", "0"):
        return False
    else:
        raise argparse.ArgumentTypeError("boolean value expected")


parser = argparse.ArgumentParser()
parser.add_argument("--wide", type=str2bool, default="false")
args = parser.parse_args({argv})
model = Net(10, width=8 if args.wide else 6)
model.load_state_dict(torch.load("w.pt"))
"""


@pytest.mark.parametrize("argv", ["[]", '["--wide", "yes"]', '["--wide", "False"]'])
def test_a_type_function_of_the_script_converts_the_option(case, argv) -> None:
    """guided-diffusion's `type=str2bool`: the script's own function converts the string default
    and the run's arguments (run by the interpreter, as argparse calls it)."""
    case.write("net.py", NET)
    case.torch(SAVE.replace("Net(10)", "Net(10, width=8)"))
    case.write("main.py", STR2BOOL.replace("{argv}", argv))
    judged_like_pytorch(case, False, "mismatched")
    assert not [f for f in analyze_alone(case, False).findings if f.code.startswith("unresolved")]
