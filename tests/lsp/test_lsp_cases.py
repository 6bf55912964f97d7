"""The shared cases: the server's diagnostics for workspace/main.py are the CLI's.

Each case is copied to a temporary folder, its make_ckpt.py writes the checkpoints,
then `weightmatch check --format json --root WS WS` gives the reference and the
server (one workspace folder holding every case) gives its diagnostics for the
opened main.py: same codes, lines and keys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lsp_helpers import PYTHON, REPO, Doc, TIMEOUT, lsp_client_fixture, wait_for_diagnostics

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture()

CASES_DIR = REPO.parent / "shared" / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "workspace" / "main.py").exists()) if CASES_DIR.exists() else []
CLI = REPO / ".venv" / "bin" / "weightmatch"
SKIP = shutil.ignore_patterns("*.pt", "*.pth", "*.ckpt", "*.bin", "*.safetensors", "*.tar", "__pycache__", "expected.json")
_prepared: dict[str, tuple[Path, set]] = {}  # case -> (its copy, the CLI's findings), shared by both clients


@pytest.fixture(scope="module")
def cases_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cases")


def prepare(case: str, root: Path) -> tuple[Path, set]:
    if case not in _prepared:
        copy = root / case
        shutil.copytree(CASES_DIR / case, copy, ignore=SKIP)
        made = subprocess.run([PYTHON, "make_ckpt.py"], cwd=copy, capture_output=True, text=True, timeout=600)
        assert made.returncode == 0, f"{case}/make_ckpt.py failed:\n{made.stderr[-2000:]}"
        ws = copy / "workspace"
        out = subprocess.run([str(CLI), "check", "--format", "json", "--root", str(ws), str(ws)],
                             cwd=ws, capture_output=True, text=True, timeout=600)
        data = json.loads(out.stdout)
        expected = {
            (d["path"], d["code"], d["line"], tuple(sorted(d["keys"])))
            for d in data["diagnostics"]
            if d.get("load_call", {}).get("path") == "main.py"
        }
        _prepared[case] = (copy, expected)
    return _prepared[case]


def require_cases(cases: list[str], where: Path) -> None:
    """CI always has ../shared: there a missing folder is a failure, not a silent skip."""
    if cases:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"no shared cases in {where} (CI is set)")
    pytest.skip(f"no shared cases in {where}")


async def test_the_shared_cases_are_beside_this_checkout():
    require_cases(CASES, CASES_DIR)


async def test_missing_cases_fail_in_ci_and_skip_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_cases([], tmp_path)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_cases([], tmp_path)


@pytest.mark.skipif(not CASES, reason="no shared cases")
@pytest.mark.parametrize("case", CASES)
async def test_case_matches_the_cli(client, cases_root, case):
    copy, expected = prepare(case, cases_root / client.client_name)
    ws = copy / "workspace"
    # The server's folder is the module's workspace; the case lives in it, so its
    # workspace/ is a sub-folder (imports resolve next to main.py).
    target = client.root / case
    if not target.exists():
        shutil.copytree(ws, target)
    doc = Doc(client, target / "main.py").open()
    await doc.diagnostics(timeout=TIMEOUT)
    got = set()
    for uri, diagnostics in list(client.diagnostics.items()):
        path = Path(uri.removeprefix("file://"))
        if target not in path.parents:
            continue
        for d in diagnostics:
            got.add((os.path.relpath(path, target), str(d.code), d.range.start.line + 1, tuple(sorted(d.data["keys"]))))
    doc.close()
    await wait_for_diagnostics(client, doc.uri, lambda ds: ds == [])
    assert got == expected
