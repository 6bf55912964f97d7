"""No execution without permission, and with permission only the recipe.

The script's model constructor writes a canary file, and so does top-level code of
every kind (a bare call, an assignment from a call, a loop, a `with`, the
`if __name__ == "__main__":` block, code between the construction and the load and
after it). Then:

- CLI `--no-exec`, and the language server with initializationOptions
  {"trusted": false} (executeModelCode on) or with executeModelCode false (trusted):
  no canary at all, and the answer is the static one;
- CLI and server with execution on, static inference first (the default): no canary,
  static inference answers (this model is plain layers);
- CLI and server with execution on, the worker first: the constructor's canary is
  written (the canary works, the model really was built) and no top-level canary is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from hardening_helpers import CLI, Doc, figures, server_config, start_session, stop_session, write

SCRIPT = '''import os

import torch
import torch.nn as nn

CANARY_DIR = {canaries!r}


def touch(name):
    open(os.path.join(CANARY_DIR, name), "w").close()
    return 1


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        touch("constructor")
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x))


touch("top-level-call")
_ = touch("top-level-assign")
for _i in range(1):
    touch("top-level-loop")
with open(os.path.join(CANARY_DIR, "top-level-with"), "w") as fh:
    fh.write("ran")
if __name__ == "__main__":
    touch("main-guard")
model = Net()
touch("between-construction-and-load")
model.load_state_dict(torch.load("original_model.pth"))
touch("after-load")
'''

# Top-level assignments that look like constants to the replay's filter but call user
# code: a user function as `key=` of a whitelisted call, and a class subscript
# (`__class_getitem__`). Neither is part of the model's recipe.
SNEAKY = '''

def _key(value):
    touch("sorted-key")
    return value


class Registry:
    def __class_getitem__(cls, item):
        touch("class-getitem")
        return item


ORDER = sorted([2, 1], key=_key)
WIDTH = Registry[20]
'''


def workspace(tmp_path: Path, examples, extra: str = "") -> tuple[Path, Path]:
    """A folder with the canary script and a checkpoint it loads; (script, canary dir)."""
    ws = tmp_path / "ws"
    canaries = tmp_path / "canaries"
    canaries.mkdir(parents=True)
    source = next(m.parent for m in examples if m.parents[1].name == "s09-hidden-size-changed")
    ws.mkdir()
    shutil.copy(source / "original_model.pth", ws / "original_model.pth")
    text = SCRIPT.format(canaries=str(canaries))
    if extra:
        head, tail = text.split("\n\ntouch(\"top-level-call\")", 1)
        text = head + extra + "\n\ntouch(\"top-level-call\")" + tail
    return write(ws, "main.py", text), canaries


def ran(canaries: Path) -> set[str]:
    return {p.name for p in canaries.iterdir()}


def cli(script: Path, *flags: str) -> list[dict]:
    ws = script.parent
    out = subprocess.run([str(CLI), "check", "--format", "json", *flags, "--root", str(ws), str(ws)],
                         cwd=ws, capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)["diagnostics"]


def test_cli_no_exec_runs_nothing(tmp_path, examples):
    script, canaries = workspace(tmp_path, examples)
    diagnostics = cli(script, "--no-exec")
    figures("no execution")["runs checked"] += 1
    assert ran(canaries) == set(), "user code ran under --no-exec"
    mismatch = [d for d in diagnostics if d["code"] == "size-mismatch"]
    assert mismatch and all(d["how"] == "static" for d in mismatch), diagnostics


def test_cli_static_first_answers_without_running_anything(tmp_path, examples):
    script, canaries = workspace(tmp_path, examples)
    diagnostics = cli(script)
    figures("no execution")["runs checked"] += 1
    assert ran(canaries) == set(), "user code ran although static inference resolves the model"
    mismatch = [d for d in diagnostics if d["code"] == "size-mismatch"]
    assert mismatch and all(d["how"] == "static" for d in mismatch), diagnostics


def test_cli_exec_runs_only_the_recipe(tmp_path, examples):
    script, canaries = workspace(tmp_path, examples)
    diagnostics = cli(script, "--exec-first")
    figures("no execution")["runs checked"] += 1
    assert ran(canaries) == {"constructor"}, "top-level code ran (or the model was not built)"
    mismatch = [d for d in diagnostics if d["code"] == "size-mismatch"]
    assert mismatch and all(d["how"] == "executed" for d in mismatch), diagnostics


def test_cli_exec_runs_no_constant_looking_top_level_code(tmp_path, examples):
    script, canaries = workspace(tmp_path, examples, SNEAKY)
    cli(script, "--exec-first")
    figures("no execution")["runs checked"] += 1
    assert ran(canaries) == {"constructor"}, f"top-level code ran: {sorted(ran(canaries) - {'constructor'})}"


# -- through the language server -----------------------------------------------------
SESSIONS = {
    "untrusted": dict(trusted=False, settings={"executeModelCode": True}, executes=False),
    "setting-off": dict(trusted=True, settings={"executeModelCode": False}, executes=False),
    "trusted": dict(trusted=True, settings={"executeModelCode": True}, executes=False),
    "trusted-worker-first": dict(trusted=True, settings={"executeModelCode": True, "staticInferenceFirst": False},
                                 executes=True),
}


@pytest_lsp.fixture(scope="module", params=list(SESSIONS), config=server_config())
async def server(lsp_client: LanguageClient, request, tmp_path_factory):
    session = SESSIONS[request.param]
    root = tmp_path_factory.mktemp(f"noexec-{request.param}")
    lsp_client.root = root
    lsp_client.session = request.param
    await start_session(lsp_client, root, trusted=session["trusted"], settings=session["settings"])
    yield
    await stop_session(lsp_client)


@pytest.mark.asyncio(loop_scope="module")
async def test_server_runs_user_code_only_when_allowed(server, examples):
    client = server
    session = SESSIONS[client.session]
    script, canaries = workspace(client.root / "case", examples)
    doc = Doc(client, script).open()
    pub = await doc.version_published(1)
    doc.close()
    figures("no execution")["runs checked"] += 1
    hows = {d.data["how"] for d in pub.diagnostics if str(d.code) == "size-mismatch"}
    if session["executes"]:
        assert ran(canaries) == {"constructor"}, "top-level code ran (or the model was not built)"
        assert hows == {"executed"}, pub.diagnostics
    else:
        assert ran(canaries) == set(), f"user code ran in the {client.session} session"
        assert hows == {"static"}, pub.diagnostics
