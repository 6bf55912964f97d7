"""What PyTorch does when a notebook runs: its code cells in order, in a real Jupyter kernel.

`run_notebook(path)` runs the notebook with nbclient and a local IPython kernel (the test
interpreter's ipykernel; nothing is downloaded) in the notebook's folder, with a recorder
installed at kernel start-up (an IPython startup file) that patches `nn.Module`:

- every module remembers where it was made (the innermost frame that is a notebook cell),
- every `load_state_dict` records where it was called, and what it did: loaded (with the
  missing / unexpected keys it returned) or raised (the message, and the keys PyTorch
  names as size mismatches), with the origin of each of those keys' module.

Positions come from the kernel itself: a frame's file is the cell IPython compiled it
from (each code cell run is numbered in a `pre_run_cell` hook, which maps its file name
to that number, then to the cell's index among all cells); the line is the frame's.
IPython compiles a `%%time` cell's body without its first line (`<timed exec>`), so
there one line is added back. Run as a script in a subprocess (its own event loop, its
own kernel): `python notebook_oracle.py NOTEBOOK OUT.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable

RECORDER = r'''
import json as _json, os as _os, re as _re, sys as _sys
import torch.nn as _nn

_RECORD = _os.environ["WM_RECORD"]


def _cell_frame(frame):
    while frame is not None:
        name = frame.f_code.co_filename
        if "ipykernel_" in name or name.startswith(("<timed", "<ipython-input")):
            return frame
        frame = frame.f_back
    return None


_shell = get_ipython()  # noqa: F821 - IPython's
_files = {}  # a cell's compiled file name -> its 1-based position among the code cells run
_running = [0]


def _pre_run_cell(info):
    _running[0] += 1
    try:
        _files[_shell.compile.get_code_name(info.raw_cell, info.raw_cell, 0)] = _running[0]
    except Exception:
        pass


_shell.events.register("pre_run_cell", _pre_run_cell)


def _where(frame):
    f = _cell_frame(frame)
    if f is None:
        return None
    name = f.f_code.co_filename
    timed = name.startswith("<timed")
    return {"code_cell": _running[0] if timed else _files.get(name), "line": f.f_lineno + (1 if timed else 0)}


_init = _nn.Module.__init__


def _recording_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.__dict__["_wm_origin"] = _where(_sys._getframe(1))


_load = _nn.Module.load_state_dict


def _origin(model, key):
    path = key.rsplit(".", 1)[0] if "." in key else ""
    try:
        return model.get_submodule(path).__dict__.get("_wm_origin")
    except AttributeError:
        return None


def _recording_load(self, state_dict, *args, **kwargs):
    event = {"call": _where(_sys._getframe(1))}
    try:
        result = _load(self, state_dict, *args, **kwargs)
    except Exception as exc:
        message = str(exc)
        mismatched = _re.findall(r"size mismatch for ([^:]+):", message)
        event.update(raised=True, message=message, size_mismatch=mismatched,
                     origins={k: _origin(self, k) for k in mismatched})
        with open(_RECORD, "a") as fh:
            fh.write(_json.dumps(event) + "\n")
        raise
    event.update(raised=False, missing=list(result.missing_keys), unexpected=list(result.unexpected_keys),
                 origins={k: _origin(self, k) for k in result.missing_keys})
    with open(_RECORD, "a") as fh:
        fh.write(_json.dumps(event) + "\n")
    return result


_nn.Module.__init__ = _recording_init
_nn.Module.load_state_dict = _recording_load
'''


def run_notebook(path: Path, timeout: float = 600) -> dict:
    """Run the notebook's cells in order with real PyTorch. `events`: one per
    load_state_dict call, with `cell` (0-based among all cells) and `line` (1-based in
    the cell) for the call and for each key's module origin; `errors`: (cell, exception
    name, message) of every cell that raised."""
    path = Path(path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.json"
        proc = subprocess.run([PYTHON, __file__, str(path), str(out)], capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(out.read_text())


def _main(notebook: str, out: str) -> int:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    with tempfile.TemporaryDirectory() as tmp:
        startup = Path(tmp) / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-weightmatch-recorder.py").write_text(RECORDER)
        record = Path(tmp) / "record.jsonl"
        record.touch()
        os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
        os.environ["WM_RECORD"] = str(record)
        client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(Path(notebook).parent)}})
        client.execute()
        events = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]

    def place(where: dict | None) -> dict | None:
        if where is None:
            return None
        return {"cell": code_cells[where["code_cell"] - 1], "line": where["line"]}

    for event in events:
        event["call"] = place(event["call"])
        event["origins"] = {k: place(v) for k, v in event.get("origins", {}).items()}
    Path(out).write_text(json.dumps({"events": events, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
