"""Broken source: code as it is being typed.

Every example script is cut at every line (after the newline, and just before it) and
at a sample of character offsets inside lines (all offsets on the lines that load
something) and each prefix goes through the engine (`Project.set_document` +
`analyze`, execution on, one Project and so one worker for all):

- no exception escapes, no internal error is reported or logged;
- every analysis returns within BOUND seconds;
- when the prefix still parses past the end of a load call's top-level statement
  (what a tolerant parser keeps: the whole prefix, or the whole lines before the
  syntax error), that call's findings equal those of the full file.

Then a sample of the same prefixes goes through the real language server as
didOpen/didChange: a publishDiagnostics for each version, the server still answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from hardening_helpers import (Doc, diagnostic_key, engine_key, figures, finding_key, parsed_extent, server_config,
                               start_session, stop_session, top_level_statement_end, worker_starts)

BOUND = 20.0  # seconds one analysis may take (the worker's limit is 30 s; real ones take < 3 s)
SAMPLE_PER_LINE = 3  # random offsets inside each line that loads nothing
SEED = 20240611
LOAD_WORDS = ("load_state_dict", "torch.load", "load_file(")


def cut_points(text: str, rng: random.Random) -> list[int]:
    """Offsets to cut `text` at: line ends, and offsets inside lines (see the module doc)."""
    cuts = {0, len(text)}
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        cuts.add(pos + len(line))  # after the newline
        cuts.add(pos + len(body))  # the cursor at the end of the line being typed
        inside = list(range(pos + 1, pos + len(body)))
        if any(w in line for w in LOAD_WORDS):
            cuts.update(inside)
        else:
            cuts.update(rng.sample(inside, min(SAMPLE_PER_LINE, len(inside))))
        pos += len(line)
    return sorted(cuts)


def load_calls(text: str, findings) -> dict[tuple, tuple[int, list]]:
    """Load call span -> (end offset of its top-level statement, the full file's findings for it)."""
    out: dict[tuple, tuple[int, list]] = {}
    for f in findings:
        c = f.load_call
        key = (c.line, c.column, c.end_line, c.end_column)
        if key not in out:
            out[key] = (top_level_statement_end(text, c.line), [])
        out[key][1].append(finding_key(f))
    return out


def test_every_prefix_through_the_engine(engine, examples):
    project, tap = engine
    stats = figures("broken source")
    rng = random.Random(SEED)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hardening-analyze")
    crashes: list[str] = []
    hangs: list[str] = []
    mismatches: list[str] = []
    slowest = (0.0, "")
    starts_before = tap.worker_starts
    errors_before = len(tap.errors)
    try:
        for main in examples:
            name = main.parents[1].name
            text = main.read_text()
            project.set_document(str(main), text)
            full = project.analyze(str(main))
            assert not full.errors, (name, full.errors)
            calls = load_calls(text, full.findings)
            # Only loads that the full file has findings for can be compared; a load with
            # none must have none in every prefix that keeps it (checked through `calls`
            # too: its key is added with an empty list).
            for report in full.reports:
                c = report.call
                calls.setdefault((c.line, c.column, c.end_line, c.end_column),
                                 (top_level_statement_end(text, c.line), []))
            for cut in cut_points(text, rng):
                prefix = text[:cut]
                where = f"{name}/main.py cut at {cut} (line {prefix.count(chr(10)) + 1}): ...{prefix[-30:]!r}"
                project.set_document(str(main), prefix)
                began = time.monotonic()
                future = pool.submit(project.analyze, str(main))
                try:
                    result = future.result(timeout=BOUND)
                except concurrent.futures.TimeoutError:
                    hangs.append(where)
                    break  # the pool's one thread is stuck; the rest would queue behind it
                except Exception as exc:  # noqa: BLE001 - the point of the test
                    crashes.append(f"{where}: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    stats["prefixes analysed"] += 1
                took = time.monotonic() - began
                if took > slowest[0]:
                    slowest = (took, where)
                internal = [f.message for f in result.findings if f.code == "internal-error"]
                if internal:
                    crashes.append(f"{where}: internal-error {internal}")
                kept = parsed_extent(prefix)
                for span, (stmt_end, expected) in calls.items():
                    if kept < stmt_end:
                        continue
                    stats["load calls compared"] += 1
                    got = sorted(finding_key(f) for f in result.findings
                                 if (f.load_call.line, f.load_call.column, f.load_call.end_line,
                                     f.load_call.end_column) == span)
                    if got != sorted(expected):
                        mismatches.append(f"{where}: load at line {span[0] + 1}:\n  full:   {sorted(expected)}\n"
                                          f"  prefix: {got}")
            project.set_document(str(main), text)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    logged = tap.errors[errors_before:]
    stats["crashes"] += len(crashes) + len(logged)
    stats["hangs"] += len(hangs)
    stats["worker restarts"] += max(0, tap.worker_starts - max(starts_before, 1))
    stats["mismatches"] += len(mismatches)
    stats["slowest ms"] = round(slowest[0] * 1000, 1)
    assert not crashes, "\n".join(crashes[:20])
    assert not logged, "\n".join(logged[:5])
    assert not hangs, hangs
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:10])
    assert slowest[0] < BOUND, slowest


# -- the same, through the language server ------------------------------------------
LSP_OPEN_EXAMPLES = ("s01-linear-out-features", "s06-added-pool-layer", "s13-googlenet-filtered-head")
LSP_CHANGE_EXAMPLES = ("s05-pop-head-strict-false", "s11-partial-ordereddict")
LSP_CHANGE_SAMPLE = 12  # prefixes per example sent as didChange, one version each


@pytest_lsp.fixture(scope="module", config=server_config())
async def server(lsp_client: LanguageClient, examples):
    root = examples[0].parents[2]
    lsp_client.root = root
    await start_session(lsp_client, root, trusted=True)
    yield
    await stop_session(lsp_client)


@pytest.mark.asyncio(loop_scope="module")
async def test_prefixes_through_the_server(server, examples, engine):
    from lsprotocol import types

    client = server
    stats = figures("broken source/LSP")
    project, _ = engine
    by_name = {m.parents[1].name: m for m in examples}
    rng = random.Random(SEED + 1)

    # didOpen: every line-boundary prefix of some examples, each as its own document next
    # to the example's main.py (so its checkpoint paths resolve); opened all at once.
    opened: list[Doc] = []
    for name in LSP_OPEN_EXAMPLES:
        main = by_name[name]
        text = main.read_text()
        lines = text.splitlines(keepends=True)
        for n in range(len(lines) + 1):
            path = main.parent / f"prefix_{n:03d}.py"
            doc = Doc(client, path, "".join(lines[:n])).open()
            opened.append(doc)
    for doc in opened:
        pub = await doc.version_published(1)
        assert pub.diagnostics is not None
        stats["didOpen versions published"] += 1
    for doc in opened:
        doc.close()

    # didChange: a sample of prefixes (mid-line cuts included) on one open document,
    # each version waited for; its diagnostics are the engine's for that prefix.
    mismatches = []
    for name in LSP_CHANGE_EXAMPLES:
        main = by_name[name]
        text = main.read_text()
        cuts = rng.sample(cut_points(text, rng), LSP_CHANGE_SAMPLE) + [len(text)]
        doc = Doc(client, main.parent / "typing.py", "").open()
        await doc.version_published(1)
        for cut in cuts:
            version = doc.replace(text[:cut])
            pub = await doc.version_published(version)
            stats["didChange versions published"] += 1
            project.set_document(str(doc.path), text[:cut])
            expected = sorted(engine_key(f) for f in project.analyze(str(doc.path)).findings if f.span.path == str(doc.path))
            project.close_document(str(doc.path))
            got = sorted(diagnostic_key(d) for d in pub.diagnostics)
            if got != expected:
                mismatches.append(f"{name} cut {cut}: server {got} != engine {expected}")
        # the final request: the server is up and answers from the full text's analysis
        hover = await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(doc.uri), doc.position(text.index("load_state_dict") + 2))), 30)
        assert hover is not None and str(hover.contents), hover
        doc.close()
    stats["server exits"] += 0 if client._server.returncode is None else 1
    stats["worker restarts"] += max(0, worker_starts(client.log_messages) - 1)
    assert client._server.returncode is None, "the language server exited"
    assert not mismatches, "\n".join(mismatches[:5])
