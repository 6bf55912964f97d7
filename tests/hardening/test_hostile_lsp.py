"""Issue 14 over real LSP: the hostile inputs of test_hostile_cli.py through the language
server (an untrusted session, so no model code runs and no worker starts), and frames a
client should never send, written raw to the server's stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile  # noqa: E402
from hardening_helpers import Doc, server_config, start_session, stop_session  # noqa: E402

in_module_loop = pytest.mark.asyncio(loop_scope="module")
PUBLISH_WITHIN = 2.0  # seconds from didOpen to the diagnostics of a hostile input


@pytest_lsp.fixture(scope="module", config=server_config())
async def server(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-lsp")
    lsp_client.root = root
    await start_session(lsp_client, root, trusted=False)
    yield
    await stop_session(lsp_client)


def _folder(client, name: str) -> Path:
    path = client.root / name
    path.mkdir()
    return path


async def _open_and_wait(client, script: Path) -> tuple[Doc, list[types.Diagnostic], float]:
    start = time.monotonic()
    doc = Doc(client, script).open()
    pub = await doc.version_published(1, timeout=30)
    return doc, pub.diagnostics, time.monotonic() - start


async def _hover(client, doc: Doc, needle: str) -> str | None:
    line = next(i for i, text in enumerate(doc.text.splitlines()) if needle in text)
    col = doc.text.splitlines()[line].index(needle) + 1
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(doc.uri), types.Position(line=line, character=col)))
    return None if result is None else result.contents.value


@in_module_loop
@pytest.mark.parametrize("name", ["deep-tuple-key.zip", "deep-tuple-in-set.zip", "frozenset-dag-40.zip", "dict-dag-30.zip",
                                  "empty-dicts.zip", "nones.legacy", "dims.safetensors"])
async def test_hostile_checkpoint_is_one_warning_and_the_server_stays(server, name):
    from test_hostile_cli import CHECKPOINTS

    client = server
    folder = _folder(client, name.replace(".", "-"))
    CHECKPOINTS[name](folder / "evil.pt")
    doc, diags, took = await _open_and_wait(client, hostile.load_script(folder, "evil.pt"))
    assert [str(d.code) for d in diags] == ["checkpoint-unreadable"], diags
    assert "budget" in diags[0].message or "limit" in diags[0].message
    assert took <= PUBLISH_WITHIN, f"published after {took:.2f} s"
    assert await _hover(client, doc, "load_state_dict") is not None  # still serving
    doc.close()


@in_module_loop
async def test_control_characters_are_escaped_in_diagnostics_hover_and_viewer(server):
    client = server
    folder = _folder(client, "injection")
    evil = "fc.weight\x1b[2J\n| forged | row |\u202e`x`"
    ckpt = hostile.safetensors(folder / "evil.safetensors", {evil: [2, 2], "bias": [2]})
    script = folder / "main.py"
    script.write_text("from safetensors.torch import load_file\nfrom torch import nn\n\n"
                      "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('evil.safetensors'))\n")
    doc, diags, _ = await _open_and_wait(client, script)
    assert diags, "the load fails: a missing weight and an unexpected key"
    for d in diags:
        assert "\x1b" not in d.message and "\n" not in d.message and "\u202e" not in d.message, d.message
    hover = await _hover(client, doc, "load_state_dict")
    assert hover is not None
    assert "\x1b" not in hover and "\u202e" not in hover and "\\x1b" in hover
    assert "\n| forged" not in hover  # the key cannot start a table row of its own
    contents = await client.protocol.send_request_async("weightmatch/checkpointContents", {"path": str(ckpt)})
    keys = [e["key"] if isinstance(e, dict) else e.key for e in (contents["entries"] if isinstance(contents, dict)
                                                                 else contents.entries)]
    assert any("\\x1b[2J\\n" in k for k in keys) and not any("\x1b" in k for k in keys), keys
    doc.close()


@in_module_loop
async def test_too_deep_source_is_one_warning(server):
    from test_hostile_cli import DEEP

    client = server
    folder = _folder(client, "deep")
    script = folder / "main.py"
    script.write_text(DEEP["plus-100k"])
    doc, diags, took = await _open_and_wait(client, script)
    assert [(str(d.code), d.severity) for d in diags] == [("too-deep", types.DiagnosticSeverity.Warning)], diags
    assert took <= PUBLISH_WITHIN
    doc.close()


@in_module_loop
async def test_an_imported_fifo_does_not_hang_the_server(server):
    client = server
    folder = _folder(client, "fifo")
    os.mkfifo(folder / "layers.py")
    script = folder / "main.py"
    script.write_text("import torch\nfrom layers import Net\n\nmodel = Net()\nmodel.load_state_dict(torch.load('m.pt'))\n")
    doc, _, took = await _open_and_wait(client, script)
    assert took <= PUBLISH_WITHIN
    doc.close()


# -- 12: frames no client should send, written raw ------------------------------------
def _frame(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read_frame(stream) -> dict:
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise AssertionError("the server closed its output")
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line in (b"\r\n", b"\n") and length is not None:
            return json.loads(stream.read(length))


def _answer(stream, request_id: int) -> dict:
    while True:
        message = _read_frame(stream)
        if message.get("id") == request_id and ("result" in message or "error" in message):
            return message


def _peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize("bogus", [
    b"Content-Length: 99999999999\r\n\r\n{\"jsonrpc\": \"2.0\"}",  # lies: only a few bytes follow
    b"Content-Length: 200000000\r\n\r\n" + b"x" * 100_000,  # over the frame limit, partly sent
    b"X-Junk: " + b"a" * 300_000 + b"\r\n",  # a header line far longer than any real one
])
def test_a_huge_content_length_is_dropped_and_the_server_keeps_serving(tmp_path, bogus):
    env = {**os.environ, "PYTHONPATH": str(hostile.REPO / "server")}
    proc = subprocess.Popen([hostile.PYTHON, "-m", "weightmatch", "serve"], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
            "initializationOptions": {"trusted": False}}}))
        proc.stdin.flush()
        assert "result" in _answer(proc.stdout, 1)
        proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        start = time.monotonic()
        proc.stdin.write(bogus)
        proc.stdin.write(_frame({"jsonrpc": "2.0", "id": 2, "method": "weightmatch/status", "params": {}}))
        proc.stdin.flush()
        assert "result" in _answer(proc.stdout, 2)  # the frame after the bogus one is answered
        assert time.monotonic() - start <= 2.0
        assert proc.poll() is None
        assert _peak_mb(proc.pid) <= 500
        proc.stdin.write(_frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": None}))
        proc.stdin.flush()
        assert "result" in _answer(proc.stdout, 3)
        proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "exit", "params": None}))
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
