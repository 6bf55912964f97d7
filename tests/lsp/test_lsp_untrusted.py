"""initializationOptions {"trusted": false}: static inference whatever the setting, and the status says why."""

from __future__ import annotations

import pytest

from lsp_helpers import Doc, lsp_client_fixture, make_checkpoint, write
from lsp_scenarios import net_script, save_net

pytestmark = pytest.mark.asyncio(loop_scope="module")
client = lsp_client_fixture(trusted=False, settings={"executeModelCode": True})


async def test_untrusted_workspace_is_static(client, folder):
    make_checkpoint(folder, save_net(out=3))
    doc = Doc(client, write(folder, "main.py", net_script(out=4))).open()
    diagnostics = await doc.diagnostics(lambda ds: any(d.code == "size-mismatch" for d in ds))
    assert all(d.data["how"] == "static" for d in diagnostics if d.code == "size-mismatch")
    assert any("not trusted" in s.message for s in client.statuses)
    doc.close()
