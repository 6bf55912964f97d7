"""`pip install ./server`: a wheel with its dependencies declared and torch optional, installed
into a fresh virtual environment where the CLI runs static-only and says so once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from ci_helpers import net_pth, net_script  # noqa: F401 - fixture
from cli_helpers import REPO


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def test_root_pyproject_repeats_the_package_metadata():
    # the root one is what pre-commit installs; the two must not drift apart
    root, server = _pyproject(REPO / "pyproject.toml"), _pyproject(REPO / "server" / "pyproject.toml")
    for key in ("name", "version", "dependencies", "requires-python", "scripts"):
        assert root[key] == server[key], key
    assert "torch" not in " ".join(server["dependencies"])
    assert any(r.startswith("torch") for r in server["optional-dependencies"]["torch"])


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_static_only(tmp_path, net_pth):
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in server/.
    src = tmp_path / "server"
    shutil.copytree(REPO / "server", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    dist = tmp_path / "dist"
    # the project's build backend (setuptools, from this environment: no download)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(dist), str(src)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("weightmatch-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    for module in ("cli.py", "config_file.py", "files.py", "suppressions.py", "codes.py", "formats/sarif.py",
                   "formats/github.py", "lsp/server.py", "worker/__main__.py"):
        assert f"weightmatch/{module}" in names, module
    assert "weightmatch = weightmatch.cli:main" in entry
    requires = [line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist: ")]
    assert {re.match(r"[\w.-]+", r)[0] for r in requires if "extra ==" not in r} >= {
        "pygls", "lsprotocol", "safetensors", "pathspec", "tqdm"}
    assert "Provides-Extra: torch" in meta
    assert any(r.startswith("torch") and 'extra == "torch"' in r for r in requires)

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    # its dependencies come from the package index (the wheel declares them); torch does not
    inst = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=240)
    assert inst.returncode == 0, inst.stderr
    assert subprocess.run([str(py), "-c", "import torch"], capture_output=True).returncode != 0

    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copyfile(net_pth, ws / "net.pth")
    (ws / "main.py").write_text(net_script(30))
    (ws / "second.py").write_text(net_script(30))
    clean_env = {"PATH": str(env / "bin") + ":/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONPATH
    p = subprocess.run([str(env / "bin" / "weightmatch"), "check", "--format", "json", "."], cwd=ws,
                       capture_output=True, text=True, timeout=120, env=clean_env)
    assert p.returncode == 1, p.stderr
    diags = json.loads(p.stdout)["diagnostics"]
    assert {(d["path"], d["code"], d["how"]) for d in diags} == {("main.py", "size-mismatch", "static"),
                                                                 ("second.py", "size-mismatch", "static")}
    assert p.stderr.count("torch is not installed") == 1, p.stderr
    # the module it ran is the installed one, not this checkout's
    where = subprocess.run([str(py), "-c", "import weightmatch; print(weightmatch.__file__)"], capture_output=True,
                           text=True, env=clean_env)
    assert where.stdout.startswith(str(env)), where.stdout
    # --quiet: no notice
    p = subprocess.run([str(env / "bin" / "weightmatch"), "check", "-q", "."], cwd=ws, capture_output=True,
                       text=True, timeout=120, env=clean_env)
    assert p.returncode == 1 and p.stderr == ""
    # the language server starts and answers its --help without torch
    p = subprocess.run([str(env / "bin" / "weightmatch"), "serve", "--help"], capture_output=True, text=True,
                       timeout=60, env=clean_env)
    assert p.returncode == 0 and "--tcp" in p.stdout
