"""Work-done progress: the analysis that starts the model worker (torch's import, the
slow step) is wrapped in window/workDoneProgress/create and $/progress begin … end when
the client advertises `window.workDoneProgress`; never otherwise. An analysis that
static inference answers while the worker is off, or one made once the worker is up,
shows none.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from lsp_helpers import Doc, lsp_client_fixture, versioned, write
from lsp_scenarios import held_script, net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")


def progress_caps(name: str) -> types.ClientCapabilities:
    caps = versioned("visual-studio-code")
    caps.window.work_done_progress = name == "progress"
    return caps


# One fresh server per client: this module's test sees its server's first analyses.
client = lsp_client_fixture(params=["progress", "no-progress"], caps=progress_caps)


def progress_so_far(client) -> dict[str, list]:
    return {str(token): list(values) for token, values in client.progress_reports.items()}


async def test_progress_only_around_the_worker_start(client, folder, checkpoints):
    checkpoints(folder, save_net(out=3))
    # A model static inference answers: with a static-first engine the worker stays off.
    plain = Doc(client, write(folder, "plain.py", net_script(out=4))).open()
    first = await plain.version_published(1)
    assert any(d.code == "size-mismatch" for d in first.diagnostics), first.diagnostics
    started_by_plain = {d.data["how"] for d in first.diagnostics} != {"static"}
    after_plain = progress_so_far(client)

    # A model only the worker builds: the worker starts now, unless it already did.
    held = Doc(client, write(folder, "held.py", held_script(str(folder / "hold"), out=4))).open()
    second = await held.version_published(1)
    assert {d.data["how"] for d in second.diagnostics} == {"executed"}, second.diagnostics
    after_held = progress_so_far(client)

    held.replace(held_script(str(folder / "hold"), out=5))  # a rebuild; the worker is up
    third = await held.version_published(2)
    assert any("model [5, 20]" in d.message for d in third.diagnostics), third.diagnostics
    assert progress_so_far(client) == after_held
    plain.close()
    held.close()

    if client.client_name == "no-progress":
        assert after_held == {}  # no window/workDoneProgress/create, no $/progress
        return
    # One token over the session, created for the analysis that started the worker; its
    # begin … end all arrived before that analysis's publishDiagnostics.
    assert len(after_plain) == (1 if started_by_plain else 0), after_plain
    assert len(after_held) == 1, after_held
    [(token, values)] = after_held.items()
    assert token.startswith("weightmatch-")
    assert [type(v) for v in values[:1] + values[-1:]] == [types.WorkDoneProgressBegin, types.WorkDoneProgressEnd], values
    assert all(isinstance(v, types.WorkDoneProgressReport) for v in values[1:-1]), values
    begin = values[0]
    assert begin.title == "Weight Match"
    assert begin.message == "Starting the model worker (importing torch)…"
    assert not begin.cancellable
