"""didChange then didSave: one analysis when the save's text is the one being analysed.

The first change after a quiet spell is analysed at once; an editor that saves right
after (format on save, auto-save) sends didSave while that analysis runs. The script's
model constructor waits while a `hold` file exists, so the test knows the analysis is
running (status `busy`) when it sends didSave, and releases it only once the server
has handled the save (the `weightmatch/status` request is answered after it). The
server counts the analyses it ran (`analyses` in that request's answer).
"""

from __future__ import annotations

import os

import pytest

from lsp_helpers import Doc, lsp_client_fixture, server_status, versioned, wait_for_status, write
from lsp_scenarios import held_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")


client = lsp_client_fixture(params=["visual-studio-code"], caps=versioned)


async def open_held(client, folder, checkpoints) -> tuple[Doc, str]:
    checkpoints(folder, save_net(out=3))
    hold = str(folder / "hold")
    doc = Doc(client, write(folder, "main.py", held_script(hold, out=4))).open()
    first = await doc.version_published(1)
    assert any("model [4, 20]" in d.message for d in first.diagnostics), first.diagnostics
    assert {d.data["how"] for d in first.diagnostics} == {"executed"}  # built by the worker, which holds
    return doc, hold


async def change_while_held(client, doc: Doc, hold: str, out: int) -> int:
    """Hold the model build, change the layer (a new model: built in the worker, held
    there) and wait until its analysis runs; the analyses count before the change."""
    before = (await server_status(client))["analyses"]
    open(hold, "w").close()
    seen = len(client.statuses)
    doc.replace(held_script(hold, out=out))
    await wait_for_status(client, seen, lambda s: s.state == "busy")
    return before


async def save_then_release(client, doc: Doc, hold: str) -> None:
    doc.save()
    # answered after didSave was handled; the held analysis is still running
    assert (await server_status(client))["state"] == "busy"
    os.unlink(hold)


async def test_save_of_the_text_being_analysed_adds_no_analysis(client, folder, checkpoints):
    doc, hold = await open_held(client, folder, checkpoints)
    before = await change_while_held(client, doc, hold, out=5)  # version 2, analysed at once
    await save_then_release(client, doc, hold)

    published = await doc.version_published(2)
    assert any("model [5, 20]" in d.message for d in published.diagnostics), published.diagnostics
    assert (await server_status(client))["analyses"] - before == 1
    doc.close()


async def test_save_of_newer_text_is_analysed(client, folder, checkpoints):
    doc, hold = await open_held(client, folder, checkpoints)
    before = await change_while_held(client, doc, hold, out=6)  # version 2, analysed at once
    doc.replace(held_script(hold, out=7))  # version 3: the running analysis has version 2's text
    await save_then_release(client, doc, hold)

    published = await doc.version_published(3)
    assert any("model [7, 20]" in d.message for d in published.diagnostics), published.diagnostics
    assert (await server_status(client))["analyses"] - before == 2  # version 2's, then version 3's
    assert not [p for p in client.published if p.uri == doc.uri and p.version == 2]  # superseded
    doc.close()
