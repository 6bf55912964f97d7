"""The definitions-only filter, without a worker process."""

from __future__ import annotations

import ast
import textwrap

from weightmatch.worker.replay import bound_names, filter_statements, is_constant_expr


def _kept(source: str) -> str:
    tree = ast.parse(textwrap.dedent(source))
    return ast.unparse(ast.Module(body=filter_statements(tree.body), type_ignores=[]))


def test_constant_expressions():
    ok = ["3", "(1, 2.5, 'a')", "HIDDEN * 2 + 1", "[A, B][0]", "{'a': [1, 2]}", "len(CHANNELS)",
          "torch.device('cpu')", "partial(nn.BatchNorm2d, eps=0.001)", "os.path.join(ROOT, 'w.pt')",
          "[2 ** i for i in range(4)]", "nn.ReLU", "f'{NAME}_v2'", "', '.join(NAMES)", "lambda x: x",
          "A if FLAG else B", "-X", "torch.float16"]
    bad = ["Net()", "parser.parse_args()", "torch.load('x.pt')", "args.lr * 2 if f() else 1",
           "open('f').read()", "print(1)", "(x := 3)", "os.system('rm -rf /')", "th.device('cpu')"]
    for text in ok:
        assert is_constant_expr(ast.parse(text, mode="eval").body), text
    for text in bad:
        assert not is_constant_expr(ast.parse(text, mode="eval").body), text


def test_filter_keeps_definitions_only():
    kept = _kept('''
        """doc"""
        from __future__ import annotations
        import torch, torch.nn as nn
        from .x import y
        try:
            import apex
        except ImportError:
            apex = None
            print("no apex")
        if sys.version_info >= (3, 9):
            from typing import Annotated
        else:
            Annotated = None
        if TYPE_CHECKING:
            from heavy import Thing
        WIDTH = 64
        SIZES: tuple = (WIDTH, WIDTH * 2)
        WIDTH += 1
        HIDDEN = 64
        @decorator
        class Net(nn.Module):
            def __init__(self):
                print("class bodies and methods are definitions")
        def helper(x=1):
            return x
        model = Net()
        args = parser.parse_args()
        model.fc = nn.Linear(1, 2)
        torch.backends.cudnn.benchmark = True
        for i in range(3):
            HIDDEN = i
        while True:
            pass
        with open("f") as f:
            DATA = 1
        print("top level")
        if __name__ == "__main__":
            import train_main
        if torch.cuda.is_available():
            DEVICE = "cuda"
        del HIDDEN
    ''')
    for expected in ("import torch", "from .x import y", "import apex", "apex = None",
                     "from typing import Annotated", "WIDTH = 64", "SIZES: tuple", "WIDTH += 1",
                     "@decorator", "class Net", "def helper", '"""doc"""'):
        assert expected in kept, expected
    for dropped in ("print('no apex')", "heavy", "Net()", "parse_args", "model.fc", "cudnn", "for ",
                    "while", "with ", "print('top level')", "train_main", "DEVICE", "del ",
                    "HIDDEN"):  # (bound again by the loop the replay leaves out: its first value would be stale)
        assert dropped not in kept, dropped


def test_bound_names_finds_run_time_state():
    names = bound_names(ast.parse(textwrap.dedent('''
        import argparse
        parser = argparse.ArgumentParser()
        if __name__ == "__main__":
            args = parser.parse_args()
            for epoch in range(3):
                pass
            with open("x") as fh:
                pass
        try:
            cfg = load()
        except Exception:
            cfg = None
        class Net: pass
    ''')))
    assert names["args"] == 5 and names["parser"] == 3
    assert {"argparse", "epoch", "fh", "cfg", "Net"} <= set(names)


def test_client_side_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys; from weightmatch.worker import WorkerClient, BuildError; "
            "import weightmatch.worker.protocol, weightmatch.worker.replay; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_filter_keeps_aliases_and_loggers():
    """yolov5's `Model = DetectionModel` (naming a value runs nothing) and `LOGGER =
    logging.getLogger(NAME)` (read by model code); a logger from a rebound `logging` is not kept."""
    kept = _kept('''
        import logging
        NAME = "yolov5"
        LOGGER = logging.getLogger(NAME)
        class DetectionModel:
            pass
        Model = DetectionModel
        Other = make_other()
    ''')
    for expected in ("LOGGER = logging.getLogger(NAME)", "Model = DetectionModel"):
        assert expected in kept, expected
    assert "make_other" not in kept
    assert "getLogger" not in _kept('''
        from mylib import logging
        LOGGER = logging.getLogger("x")
    ''')
