"""Issue 14 on the command line: each class of hostile input, built small here, through
`weightmatch check` in a subprocess. Every run ends within 2 s and 500 MB, with exit 0
or 1 and no traceback, and says what happened (the diagnostic code and its reason).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile  # noqa: E402
from hostile import run_cli  # noqa: E402

FIGURES = {"runs": 0}


def _only(run: hostile.Run, code: str) -> dict:
    diags = run.diagnostics()
    assert [d["code"] for d in diags] == [code], diags
    return diags[0]


# -- 1-3: checkpoints whose cost is not bounded by their size ----------------------------
CHECKPOINTS = {
    "deep-tuple-key.zip": lambda p: hostile.torch_zip(p, hostile.deep_tuple_key()),
    "deep-tuple-key.legacy": lambda p: hostile.legacy(p, hostile.deep_tuple_key()),
    "deep-tuple-in-set.zip": lambda p: hostile.torch_zip(p, hostile.deep_tuple_in_set()),
    "deep-frozenset.legacy": lambda p: hostile.legacy(p, hostile.deep_tuple_frozenset()),
    "frozenset-dag-40.zip": lambda p: hostile.torch_zip(p, hostile.frozenset_dag(40)),
    "dict-dag-30.zip": lambda p: hostile.torch_zip(p, hostile.dict_dag(30)),
    "list-dag-40.legacy": lambda p: hostile.legacy(p, hostile.list_dag(40)),
    "empty-dicts.zip": lambda p: hostile.torch_zip(p, hostile.empty_dicts()),
    "nones.legacy": lambda p: hostile.legacy(p, hostile.nones(5_000_000)),
    "nones-over-size.legacy": lambda p: hostile.legacy(p, hostile.nones(20_000_000)),
    "100k-tensors.zip": lambda p: hostile.torch_zip(p, hostile.state_dict_pickle(100_000)),
    "dims.safetensors": lambda p: hostile.safetensors_dims(p),
}


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_checkpoint_over_budget_is_unreadable_with_its_reason(tmp_path, name):
    CHECKPOINTS[name](tmp_path / "evil.pt")
    hostile.load_script(tmp_path, "evil.pt")
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok()
    diag = _only(run, "checkpoint-unreadable")
    assert diag["severity"] == "warning"
    assert "budget" in diag["message"] or "limit" in diag["message"], diag["message"]
    FIGURES["runs"] += 1


# -- 4: terminal injection -----------------------------------------------------------
def test_control_characters_in_keys_are_escaped_in_text_output(tmp_path):
    evil = "fc.weight\x1b[2J\x1b[31m\n  = forged line\u202e"
    hostile.safetensors(tmp_path / "evil.safetensors", {evil: [2, 2], "bias": [2]})
    (tmp_path / "main.py").write_text(
        "from safetensors.torch import load_file\nfrom torch import nn\n\n"
        "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('evil.safetensors'))\n")
    run = run_cli(tmp_path, "--no-exec")
    run.ok()
    assert run.code == 1  # the load fails: missing weight, unexpected key
    assert "\x1b" not in run.stdout and "\u202e" not in run.stdout
    assert "\\x1b[2J" in run.stdout and "\\u202e" in run.stdout and "\\n  = forged line" in run.stdout
    assert not any(line.lstrip().startswith("= forged") for line in run.stdout.splitlines())
    # JSON keeps the key as it is (JSON escapes it itself)
    data = json.loads(run_cli(tmp_path, "--no-exec", "--format", "json").stdout)
    assert any(evil in d["keys"] for d in data["diagnostics"])


# -- 5: uncaught errors ----------------------------------------------------------------
def test_nul_byte_in_a_checkpoint_path(tmp_path):
    (tmp_path / "main.py").write_text(hostile.LOAD_SCRIPT.replace("{path!r}", '"model.pt\\0.txt"'))
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok()
    diag = _only(run, "checkpoint-unreadable")
    assert "NUL" in diag["message"]


def test_a_missing_shard_is_named(tmp_path):
    hostile.safetensors(tmp_path / "model-00001-of-00002.safetensors", {"weight": [2, 2]})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "weight": "model-00001-of-00002.safetensors", "bias": "model-00002-of-00002.safetensors"}}))
    (tmp_path / "main.py").write_text(
        "import json\nfrom safetensors.torch import load_file\nfrom torch import nn\n\n"
        "model = nn.Linear(2, 2)\nindex = json.load(open('model.safetensors.index.json'))\nsd = {}\n"
        "for shard in set(index['weight_map'].values()):\n    sd.update(load_file(shard))\n"
        "model.load_state_dict(sd)\n")
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok()
    messages = " ".join(d["message"] for d in run.diagnostics())
    assert "model-00002-of-00002.safetensors" in messages and "not found" in messages, messages


def _check_patched(folder, patch: str) -> subprocess.CompletedProcess:
    """`weightmatch check --no-exec --format json` in `folder`, in a process where `patch` (code
    with `a` = weightmatch.analyze) first breaks the engine as a bug or a huge input would."""
    code = ("import sys, weightmatch.analyze as a\n" + patch +
            "from weightmatch.cli import main\nsys.exit(main(['check', '--no-exec', '--format', 'json']))\n")
    env = {**os.environ, "PYTHONPATH": str(hostile.REPO / "server")}
    return subprocess.run([hostile.PYTHON, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=60)


def test_memory_error_is_an_error_not_a_pass(tmp_path):
    # Fail the analysis of one call with MemoryError (as a huge input would) inside the CLI process.
    hostile.safetensors(tmp_path / "ok.safetensors", {"weight": [2, 2], "bias": [2]})
    (tmp_path / "main.py").write_text(
        "from safetensors.torch import load_file\nfrom torch import nn\n\n"
        "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('ok.safetensors'))\n")
    proc = _check_patched(tmp_path, "def boom(*args, **kwargs):\n    raise MemoryError\na.compare = boom\n")
    assert proc.returncode == 1, proc.stderr
    diags = json.loads(proc.stdout)["diagnostics"]
    assert [(d["code"], d["severity"]) for d in diags] == [("internal-error", "error")]


# -- 6: parser limits ------------------------------------------------------------------
HEAD = "import torch\nfrom torch import nn\nmodel = nn.Linear(2, 2)\n"
LOAD = "model.load_state_dict(torch.load('m.pt'))\n"
DEEP = {
    "plus-100k": HEAD + "x = " + "+".join(["1"] * 100_000) + "\n" + LOAD,
    "attributes-50k": HEAD + "x = a" + ".b" * 50_000 + "\n" + LOAD,
    "subscripts-30k": HEAD + "x = a" + "[0]" * 30_000 + "\n" + LOAD,
    "elif-5000": HEAD + "x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    pass\n" for i in range(1, 5000)) + LOAD,
    "not-100k": HEAD + "x = " + "not " * 100_000 + "1\n" + LOAD,
    "parentheses-300": HEAD + "x = " + "(" * 300 + "1" + ")" * 300 + "\n" + LOAD,
    "calls-3000": HEAD + "x = " + "f(" * 3000 + ")" * 3000 + "\n" + LOAD,
}


@pytest.mark.parametrize("name", list(DEEP))
def test_too_deep_source_is_one_diagnostic_and_exit_0(tmp_path, name):
    (tmp_path / "main.py").write_text(DEEP[name])
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok()
    assert run.code == 0
    diag = _only(run, "too-deep")
    assert diag["severity"] == "warning" and "Too deep to analyse" in diag["message"]


def test_a_long_chain_of_reassignments(tmp_path):
    text = HEAD + "sd = torch.load('m.pt')\n" + "sd = {k: v for k, v in sd.items()}\n" * 2000 + "model.load_state_dict(sd)\n"
    (tmp_path / "main.py").write_text(text)
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok(seconds=4.0)  # interpret.py/static inference take ~1.5 s on 2,000 statements (not this code)
    assert run.code == 0
    codes = sorted(d["code"] for d in run.diagnostics())
    assert codes == ["checkpoint-not-found", "too-deep"], codes


# -- 7: non-files ------------------------------------------------------------------------
def test_fifo_and_device_links_are_skipped_and_said(tmp_path):
    os.mkfifo(tmp_path / "evil.py")
    os.symlink("/dev/zero", tmp_path / "zero.py")
    os.symlink("/dev/urandom", tmp_path / "random.py")
    (tmp_path / "big.py").write_bytes(b"#" * (9 * 1024 * 1024))
    hostile.safetensors(tmp_path / "ok.safetensors", {"weight": [3, 2], "bias": [3]})
    (tmp_path / "main.py").write_text(
        "from safetensors.torch import load_file\nfrom torch import nn\n\n"
        "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('ok.safetensors'))\n")
    run = run_cli(tmp_path, "--no-exec", "--format", "json")
    run.ok()
    assert run.code == 1 and [d["code"] for d in run.diagnostics()] == ["size-mismatch"]
    for name, why in (("evil.py", "not a regular file"), ("zero.py", "not a regular file"),
                      ("random.py", "not a regular file"), ("big.py", "larger than")):
        assert any(name in line and why in line for line in run.stderr.splitlines()), run.stderr
    # named on the command line, too
    run = run_cli(tmp_path, "--no-exec", "evil.py", "zero.py")
    run.ok()
    assert run.code == 0 and "skipped" in run.stderr


def test_an_imported_fifo_does_not_hang_static_inference(tmp_path):
    os.mkfifo(tmp_path / "layers.py")
    (tmp_path / "main.py").write_text("import torch\nfrom layers import Net\n\nmodel = Net()\n"
                                      "model.load_state_dict(torch.load('m.pt'))\n")
    run = run_cli(tmp_path, "--no-exec", "--format", "json", "main.py")
    run.ok()


# -- 9: `weightmatch check | head` --------------------------------------------------------
def test_a_closed_pipe_ends_quietly(tmp_path):
    hostile.safetensors(tmp_path / "ok.safetensors", {"weight": [3, 2], "bias": [3]})
    for i in range(200):
        (tmp_path / f"m{i:03d}.py").write_text(
            "from safetensors.torch import load_file\nfrom torch import nn\n\n"
            "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('ok.safetensors'))\n")
    env = {**os.environ, "PYTHONPATH": str(hostile.REPO / "server")}
    cli = subprocess.Popen([hostile.PYTHON, "-m", "weightmatch", "check", "--no-exec"], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = cli.stdout.readline()  # read one line, then close the pipe as `head -1` does
    cli.stdout.close()
    err = cli.stderr.read().decode()
    code = cli.wait(timeout=60)
    assert head.startswith(b"m000.py:4:")
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert code == 1  # what the findings said: an error was found
    assert code != -signal.SIGPIPE


# -- 8: quadratic work -------------------------------------------------------------------
def test_a_long_sequential_stays_near_linear():
    sys.path.insert(0, str(hostile.REPO / "bench"))
    import b_layers

    small, findings_small = b_layers.run_case(1000, mismatched=True)
    large, findings_large = b_layers.run_case(4000, mismatched=True)
    assert (findings_small, findings_large) == (1000, 4000)
    # 4x the layers: linear work takes ~4x (less: start-up is shared); quadratic took 16x
    assert large <= 6 * small, f"1,000 layers {small:.2f} s, 4,000 layers {large:.2f} s"


def test_a_bug_in_one_file_is_an_error_there_and_the_others_are_still_checked(tmp_path):
    """An exception of ours while one file is analysed: that file gets an internal-error (exit
    1, the traceback on stderr), every other file its own diagnostics — never a traceback
    instead of the whole report."""
    hostile.safetensors(tmp_path / "ok.safetensors", {"weight": [3, 2], "bias": [3]})
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(
            "from safetensors.torch import load_file\nfrom torch import nn\n\n"
            "model = nn.Linear(2, 2)\nmodel.load_state_dict(load_file('ok.safetensors'))\n")
    proc = _check_patched(tmp_path, "real = a.FileAnalyzer.analyze\n"
                                    "def buggy(self, path, text):\n"
                                    "    if path.endswith('a.py'):\n        raise KeyError('a bug')\n"
                                    "    return real(self, path, text)\n"
                                    "a.FileAnalyzer.analyze = buggy\n")
    assert proc.returncode == 1, proc.stderr
    diags = json.loads(proc.stdout)["diagnostics"]
    assert sorted((d["path"], d["code"]) for d in diags) == [("a.py", "internal-error"), ("b.py", "size-mismatch")], diags
    assert "KeyError" in proc.stderr and "a bug" in proc.stderr
