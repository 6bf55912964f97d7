"""`torch.hub.load_state_dict_from_url(url)` loads the hub cache's copy when it is there (what
PyTorch does without downloading): the entry points of a `hubconf.py`, called bare, with their
`**kwargs` empty. PyTorch judges, run with the same $TORCH_HOME (no network: the file is cached)."""

from __future__ import annotations

import pytest

HUBCONF = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width=8, classes=3):
        super().__init__()
        self.body = nn.Linear(4, width)
        self.head = nn.Linear(width, classes)


def net_small(pretrained=True, **kwargs):
    model = Net(width=8, **kwargs)
    if pretrained:
        state_dict = torch.hub.load_state_dict_from_url(
            "https://example.invalid/weights/net_small-1a2b3c4d.pth", map_location="cpu")
        model.load_state_dict(state_dict)
    return model


def net_named(*args, **kwargs):
    model = Net(*args, **kwargs)
    sd = torch.hub.load_state_dict_from_url("https://example.invalid/x/latest?dl=1",
                                            model_dir="weights", file_name="named.pth")
    model.load_state_dict(sd)
    return model
"""


@pytest.fixture
def hub(case, monkeypatch):
    home = case.dir / "torch-home"
    (home / "hub" / "checkpoints").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    return home / "hub" / "checkpoints"


def _run(case, entry: str):
    """Runs the entry point with real PyTorch, as `torch.hub.load(..., entry)` would call it."""
    case.write("run_entry.py", f"import hubconf\nhubconf.{entry}()\n")
    return case.run("run_entry.py")


@pytest.mark.parametrize("width", [8, 6])
def test_the_hub_cache_copy_is_the_checkpoint(case, static_project, hub, width) -> None:
    main = case.write("hubconf.py", HUBCONF)
    case.torch(HUBCONF + f"\ntorch.save(Net(width={width}).state_dict(), {str(hub / 'net_small-1a2b3c4d.pth')!r})\n")
    result = static_project.analyze(str(main))
    errors = [f for f in result.findings if f.severity == "error"]
    ran = _run(case, "net_small")
    assert bool(errors) == (ran.returncode != 0), (ran.stderr[-300:], [f.message for f in result.findings])
    assert (ran.returncode != 0) == (width != 8)
    if errors:
        assert "size mismatch for body.weight" in ran.stderr
        assert all("hub cache's copy of https://example.invalid/weights/net_small-1a2b3c4d.pth" in f.message
                   for f in errors)
    assert result.reports[0].how == "static" and not [f for f in result.findings if f.code.startswith("unresolved")
                                                      and "net_small" in f.message]


def test_model_dir_and_file_name_name_the_file(case, static_project, hub) -> None:
    main = case.write("hubconf.py", HUBCONF)
    (case.dir / "weights").mkdir(exist_ok=True)
    case.torch(HUBCONF + "\ntorch.save(Net(classes=5).state_dict(), 'weights/named.pth')\n")
    result = static_project.analyze(str(main))
    errors = [f for f in result.findings if f.severity == "error"]
    ran = _run(case, "net_named")
    assert ran.returncode != 0 and "size mismatch for head.weight" in ran.stderr
    assert [f.code for f in errors] == ["size-mismatch"] and "head.weight" in errors[0].message


def test_not_in_the_cache_it_is_downloaded_when_the_script_runs(case, static_project, hub) -> None:
    main = case.write("hubconf.py", HUBCONF)
    result = static_project.analyze(str(main))
    codes = {f.code for f in result.findings}
    assert "checkpoint-not-found" not in codes and not [f for f in result.findings if f.severity == "error"]
    (f,) = [f for f in result.findings if "net_small-1a2b3c4d.pth" in f.message]
    assert f.code == "unresolved-checkpoint"
    assert "downloads https://example.invalid/weights/net_small-1a2b3c4d.pth when the script runs" in f.message
    assert str(hub / "net_small-1a2b3c4d.pth") in f.message
