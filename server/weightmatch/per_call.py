"""One load reached in several contexts (a helper called from two places, a loop unrolled):
said once when every context agrees, else once per call path; and the assumptions every
message states (argparse defaults, configured arguments, the call that led here)."""

from __future__ import annotations

import re

from weightmatch.models import assumptions
from weightmatch.types import LoadReport
from weightmatch.values import At, Const, LoadSite, ModelAttr, ModelVal, loaded_files


def per_call(done: list[tuple[LoadSite, LoadReport]]) -> list[LoadReport]:
    """One load call reached in several contexts (a helper called twice, a loop unrolled): when
    every context gives the same findings they are one answer, said once without the call path;
    else each context's findings name the call that leads to them."""
    groups: dict = {}
    for site, report in done:
        groups.setdefault(report.call, []).append((site, report))
    out: list[LoadReport] = []
    for pairs in groups.values():
        if any(not site.unreached for site, _ in pairs):
            # some run reaches it (a helper called twice, once under a test that rules it out):
            # judged there, not "not checked"
            pairs = [(site, report) for site, report in pairs if not site.unreached]
        sigs = {tuple((f.code, f.severity, f.span, tuple(f.keys), f.message) for f in r.findings) for _, r in pairs}
        if len(pairs) > 1 and len(sigs) == 1:
            notes = [_notes(s, r) for s, r in pairs]
            common = [n for n in notes[0] if all(n in other for other in notes[1:])]
            _say(pairs[0][1], common)
            out.append(pairs[0][1])
            continue
        said: set = set()
        for site, report in pairs:
            # a path that starts in a function nothing calls is no run of the script: a load it
            # leaves unresolved is said without it (the CLI then keeps the runs that resolve it)
            path = [site.context] if site.context and not (site.uncalled and _unresolved(report)) else []
            _say(report, _notes(site, report) + path)
            sig = tuple((f.code, f.severity, f.span, tuple(f.keys), f.message) for f in report.findings)
            if sig in said:
                continue  # paths that differ further up say the same thing: said once
            said.add(sig)
            out.append(report)
    return out


def _unresolved(report: LoadReport) -> bool:
    return any(f.code.startswith("unresolved-") for f in report.findings)


def _say(report: LoadReport, notes: list[str]) -> None:
    """Where the answer rests on values a run could change (argparse defaults, a config file)
    or on the call that led here, every message says so."""
    if not notes:
        return
    suffix = " (" + "; ".join(n if " as called from " in n else "with " + n for n in notes) + ")"
    for finding in report.findings:
        if finding.load_call == report.call:
            finding.message += suffix


def _notes(site: LoadSite, report: LoadReport) -> list[str]:
    notes: list[str] = []
    receiver = site.receiver.model_as_of() if isinstance(site.receiver, At) else site.receiver
    model = receiver.model if isinstance(receiver, ModelAttr) else receiver
    if isinstance(model, ModelVal):
        notes += assumptions(model)
    for loaded in loaded_files(site.arg):  # through `if key in ckpt: ckpt = ckpt[key]` too
        if isinstance(loaded.path, Const) and loaded.path.origin:
            notes += [n for n in loaded.path.origin.split("; ") if n not in notes]
    notes += [n for n in site.decided if n not in notes]
    return notes


def without_call_path(message: str) -> str:
    """A message without the call path it names ("load_model() as called from main.py:3"): two
    answers for one load that differ only there say the same thing."""
    return re.sub(r"(?:; )?[\w.]+\(\) as called from [^;)]+", "", message).replace(" ()", "").replace("(; ", "(")
