"""`weightmatch check` (CI and pre-commit) and `weightmatch serve` (the language server)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback

from weightmatch import __version__

FORMATS = ("text", "json", "github", "sarif")

CHECK_DESCRIPTION = """\
Checks the Python files and Jupyter notebooks (.ipynb) under PATHs (default: the current
directory) and prints, for every load_state_dict call it can resolve, what PyTorch will
do; in a notebook, as `path.ipynb:cell N:line:column` (N counts every cell from 1).
Exit status: 0 when no diagnostic has severity error, 1 when one does, 2 on a usage error.

Options come from [tool.weightmatch] in pyproject.toml, or weightmatch.toml, found by
walking up from the checked paths' common folder; a command-line option overrides the
file. A `# weightmatch: ignore[code, ...]` comment (or a bare `# weightmatch: ignore`)
on a diagnostic's line - the layer line or the load call - silences it."""


# From this many files on, the worker starts with the run (its torch import overlaps the analysis);
# a few files named on the command line start it only if one of their models needs it.
PRESTART_FILES = 20


def python_files(paths: list[str], skipped: list[str] | None = None) -> list[str]:
    """The Python files under `paths` with the default selection (no configuration file), regular
    files within the size limit only; the others go to `skipped` with the reason."""
    from weightmatch.config_file import FileConfig
    from weightmatch.files import Selector

    return _regular(Selector(FileConfig()).files(paths), [] if skipped is None else skipped)


def _codes(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _common_folder(paths: list[str]) -> str:
    folders = [os.path.abspath(p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p))) for p in paths]
    try:
        return os.path.commonpath(folders)
    except ValueError:  # different drives
        return folders[0]


def _usage_error(message: str) -> int:
    print(f"weightmatch: {message}", file=sys.stderr)
    return 2


def check(args: argparse.Namespace) -> int:
    from weightmatch.codes import CODES
    from weightmatch.config_file import ConfigError, enabled_codes, load_config, read_config
    from weightmatch.files import Selector
    from weightmatch.notebook import is_notebook
    from weightmatch.project import Project, Settings, merge_findings
    from weightmatch.report import unique
    from weightmatch.suppressions import Suppressions

    from weightmatch.textsafe import visible

    paths = args.paths or ["."]
    missing = [p for p in paths if not _exists(p)]
    if missing:
        return _usage_error(f"no such file or directory: {visible(', '.join(missing))}")
    select, ignore = _codes(args.select), _codes(args.ignore) or []
    unknown = [c for c in (select or []) + ignore if c not in CODES and c != "ALL"]
    if unknown:
        return _usage_error(f"unknown code{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                            f"(known: {', '.join(CODES)})")
    if args.statistics and args.output_format in ("github", "sarif"):
        return _usage_error("--statistics prints text or json, not " + args.output_format)
    root = os.path.abspath(args.root or os.getcwd())
    try:
        if args.config:
            config = read_config(args.config)
        else:
            config = load_config(args.root if args.root and not args.paths else _common_folder(paths))
    except ConfigError as exc:
        return _usage_error(str(exc))
    for warning in dict.fromkeys(config.warnings):
        print(warning, file=sys.stderr)

    # the configuration file, then the command line over it
    if select is None:
        select = config.select
    elif "ALL" in select:
        select = None
    overrides = {**config.severity, **enabled_codes(select, [*config.ignore, *ignore])}
    execute = config.execute_model_code if config.execute_model_code is not None else True
    if args.no_exec:
        execute = False
    elif args.exec:
        execute = True
    static_first = config.static_inference_first if config.static_inference_first is not None else True
    if args.exec_first:
        static_first = False
    timeout = args.timeout if args.timeout is not None else (config.worker_timeout or 60.0)
    report_unused = args.report_unused_ignores or bool(config.report_unused_ignores)

    if execute and not args.python and importlib.util.find_spec("torch") is None:
        execute = False
        if not args.quiet:
            print("weightmatch: torch is not installed here, so no model code runs: models are inferred "
                  "statically only (install `weightmatch[torch]`, or pass --python with an interpreter "
                  "that has torch)", file=sys.stderr)
    settings = Settings(execute=execute, search_paths=[*config.checkpoint_search_paths, *(args.search_path or [])],
                        severity_overrides=overrides, worker_timeout=timeout,
                        python=args.python or sys.executable, static_first=static_first,
                        script_args=dict(_script_args(item, root) for item in args.script_args))

    def log(level: str, message: str) -> None:
        if args.verbose or level == "error":
            print(f"[{level}] {message}", file=sys.stderr)

    skipped: list[str] = []
    named = [p for p in paths if not os.path.isdir(p) and not os.path.isfile(p)]  # a FIFO, a device
    _regular([os.path.abspath(p) for p in named], skipped)
    files = _regular(Selector(config, cwd=os.getcwd()).files([p for p in paths if p not in named],
                                                             force_exclude=args.force_exclude), skipped)
    project = Project(root, settings, log)
    analyses = []
    failed = []
    try:
        if len(files) >= PRESTART_FILES:  # a whole project: some model will likely need the worker
            project.start_worker()
        for path in _progress(files, args):
            try:
                analyses.append(project.analyze(path, consult_importers=False))
            except (MemoryError, RecursionError) as exc:
                failed.append(_internal_error(path, exc))
            except Exception as exc:  # noqa: BLE001 - a bug of ours in one file: said there, the others still checked
                log("error", f"{path}: {traceback.format_exc()}")
                failed.append(_internal_error(path, exc))
    finally:
        project.close()
    for line in skipped:
        print(f"weightmatch: skipped {visible(line)}", file=sys.stderr)
    findings = unique([*merge_findings(analyses), *failed])

    texts: dict[str, str | None] = {}

    def text_of(path: str) -> str | None:
        if path not in texts and is_notebook(path):
            texts[path] = project.notebook(path).text if _readable(project, path) else None
        if path not in texts:
            from weightmatch.sourcefile import read_source

            try:
                texts[path] = read_source(path)
            except (OSError, ValueError):
                texts[path] = None
        return texts[path]

    suppressions = Suppressions(text_of)
    applied = suppressions.apply(findings)
    findings = applied.kept
    if report_unused:
        unused = []
        for f in suppressions.unused(files, applied.used):
            level = overrides.get(f.code, f.severity)
            if level != "off":
                unused.append(f if level == f.severity else _with_severity(f, level))
        findings = unique([*findings, *unused])
    # the joined text of a notebook's code cells, as the engine saw it, back to cells
    # (a layer in a .py file loaded from a notebook: its load_call is the notebook's)
    findings = [_in_cells(project, f, f.span.path if is_notebook(f.span.path) else f.load_call.path)
                for f in findings]

    status = 0 if args.exit_zero else 1 if any(f.severity == "error" for f in findings) else 0
    try:
        _write(args, findings, root, applied, text_of, project)
        sys.stdout.flush()
    except BrokenPipeError:  # `weightmatch check | head`: the reader has what it wanted
        _silence_stdout()
    return status


def _write(args: argparse.Namespace, findings: list, root: str, applied, text_of, project) -> None:
    out = sys.stdout
    if args.statistics:
        from weightmatch.formats.statistics import write_statistics

        write_statistics(findings, out, args.output_format)
    elif args.output_format == "json":
        from weightmatch.report import write_json

        write_json(findings, root, out)
    elif args.output_format == "github":
        from weightmatch.formats.github import write_github

        write_github(findings, root, out)
    elif args.output_format == "sarif":
        from weightmatch.formats.sarif import write_sarif

        write_sarif(findings, root, out, applied.suppressed)
    elif args.quiet:
        from weightmatch.formats.concise import write_concise

        write_concise(findings, root, out)
    else:
        from weightmatch.report import write_text

        def read_line(span):
            if span.cell is not None:
                text = project.notebook(span.path).cell_text(span.cell)
            else:
                text = text_of(span.path) or ""
            lines = text.splitlines()
            return lines[span.line] if 0 <= span.line < len(lines) else None

        write_text(findings, root, out, read_line, show_unresolved=args.show_unresolved)


def _regular(files: list[str], skipped: list[str]) -> list[str]:
    """Regular files within the size limit; the others (a FIFO, a link to /dev/zero, a huge
    file) go to `skipped` with the reason."""
    from weightmatch.sourcefile import MAX_SOURCE_BYTES, SourceSkipped, check_source

    out = []
    for path in files:
        try:
            # a notebook carries its outputs (plots, tables): far larger than source, still data
            check_source(path, 256 * 1024 * 1024 if path.endswith(".ipynb") else MAX_SOURCE_BYTES)
        except SourceSkipped as e:
            skipped.append(f"{path}: {e.reason}")
            continue
        except OSError as e:
            skipped.append(f"{path}: {e.strerror or e}")
            continue
        out.append(path)
    return out


def _internal_error(path: str, exc: BaseException):
    """An analysis that could not finish: an error (exit 1), never a silent pass."""
    from weightmatch.types import Finding, Span

    why = "it needs more memory than the checker may use" if isinstance(exc, MemoryError) else \
        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    span = Span(path, 0, 0, 0, 0)
    return Finding("internal-error", "error", f"Weight Match could not finish analysing this file: {why}", span, span)


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):
        return os.path.islink(path) if "\0" not in path else False
    return True


def _silence_stdout() -> None:
    """After EPIPE: Python flushes stdout again at exit; point it at /dev/null so that
    flush raises nothing and no 'Exception ignored' line is printed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _in_cells(project, finding, path: str):
    """The finding with its spans in `path`, a notebook, mapped to cells (else unchanged)."""
    from weightmatch.notebook import is_notebook

    if not is_notebook(path) or not _readable(project, path):
        return finding
    return project.notebook(path).finding(finding)


def _readable(project, path: str) -> bool:
    from weightmatch.notebook import NotebookError

    try:
        project.notebook(path)
        return True
    except NotebookError:
        return False


def _with_severity(finding, severity: str):
    from dataclasses import replace

    return replace(finding, severity=severity)


def _progress(files: list[str], args: argparse.Namespace):
    """The files, with a progress bar on stderr when it is a terminal and the check takes
    over a second (tqdm's `delay`); nothing of it otherwise."""
    if args.quiet or not files or not sys.stderr.isatty():
        return files
    import shutil

    from tqdm import tqdm

    # A terminal that reports no size (a bare pty: 0 x 0) would hide tqdm's bar; shutil
    # falls back to 80 x 24 there.
    size = shutil.get_terminal_size()
    return tqdm(files, desc="weightmatch", unit="file", delay=1.0, leave=False, file=sys.stderr,
                ncols=size.columns, nrows=size.lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weightmatch", description="Predicts what load_state_dict will do.")
    parser.add_argument("--version", action="version", version=f"weightmatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check",
                       help="check the Python files and notebooks under PATHs (default: the current directory)",
                       description=CHECK_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("paths", nargs="*", metavar="PATH",
                   help="files or folders to check (default: the current directory)")
    out = c.add_argument_group("output")
    out.add_argument("--output-format", "--format", dest="output_format", choices=FORMATS, default="text",
                     help="text (default; with the source line), json (the JSON contract), github (GitHub "
                          "Actions workflow commands: annotations on the pull request) or sarif (SARIF 2.1.0, "
                          "for code scanning); --format is an alias")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="print the diagnostics only, one line each in text: no source lines, no summary, no "
                          "progress bar, no notices")
    out.add_argument("--statistics", action="store_true",
                     help="print how many diagnostics each code has instead of the diagnostics (text or json)")
    out.add_argument("--exit-zero", action="store_true",
                     help="exit with status 0 even when there are errors (usage errors still exit 2)")
    out.add_argument("--root", help="project root: paths are shown relative to it and checkpoints are looked for "
                                    "under it (default: the current directory)")
    sel = c.add_argument_group("selection (override the configuration file)")
    sel.add_argument("--config", metavar="FILE",
                     help="read this pyproject.toml or weightmatch.toml instead of the one found by walking up")
    sel.add_argument("--select", action="append", metavar="CODES",
                     help="report only these codes (comma-separated, repeatable; ALL for every code); replaces "
                          "the file's `select`")
    sel.add_argument("--ignore", action="append", metavar="CODES",
                     help="do not report these codes (comma-separated, repeatable); added to the file's `ignore`")
    sel.add_argument("--report-unused-ignores", action="store_true",
                     help="report `# weightmatch: ignore` comments that silence nothing (code unused-ignore, "
                          "an error)")
    sel.add_argument("--force-exclude", action="store_true",
                     help="apply `exclude` and .gitignore to files named on the command line too (the "
                          "pre-commit hook passes it)")
    run = c.add_argument_group("model code")
    ex = run.add_mutually_exclusive_group()
    ex.add_argument("--no-exec", action="store_true",
                    help="never run model code; infer models statically (for untrusted code); overrides "
                         "`execute-model-code`")
    ex.add_argument("--exec", action="store_true",
                    help="build models in the worker when static inference cannot, even if the configuration "
                         "file sets `execute-model-code = false`")
    run.add_argument("--exec-first", action="store_true",
                     help="build every model in the worker, even those static inference resolves")
    run.add_argument("--python", help="interpreter the model worker runs (needs torch; default: this one)")
    run.add_argument("--timeout", type=float, default=None,
                     help="seconds a model may take to build (default: `worker-timeout`, else 60)")
    run.add_argument("--search-path", action="append", metavar="DIR",
                     help="another folder to look for checkpoints in (repeatable; added to "
                          "`checkpoint-search-paths`)")
    run.add_argument("--script-args", action="append", metavar="SCRIPT=ARGS", default=[],
                     help="the arguments SCRIPT is run with (repeatable), e.g. 'train.py=--num-classes 100': "
                          "its argparse options take these values instead of their defaults (else the "
                          "configuration file's scripts table, else a .vscode/launch.json configuration)")
    c.add_argument("--show-unresolved", action="store_true",
                   help="list each load whose model or checkpoint is known only at run time (text output; "
                        "JSON always lists them)")
    c.add_argument("-v", "--verbose", action="store_true", help="log what the engine does to stderr")
    sub.add_parser("serve", help="run the language server (stdio; `serve --help` for its options)")
    return parser


def _script_args(item: str, root: str) -> tuple[str, str]:
    script, sep, text = item.partition("=")
    if not sep or not script:
        print(f"weightmatch: --script-args expects SCRIPT=ARGS, got {item!r}", file=sys.stderr)
        raise SystemExit(2)
    return os.path.abspath(script) if not os.path.isabs(script) else script, text


def main(argv: list[str] | None = None) -> int:
    """The CLI; a reader that closes the pipe early (`weightmatch check | head`) ends it quietly."""
    try:
        return _main(argv)
    except BrokenPipeError:  # outside the report (check() handles its own): status unknown, so not a pass
        _silence_stdout()
        return 1


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server parses its own options (--tcp PORT, --help)
        from weightmatch.lsp.server import main as serve

        return serve(argv[1:])
    return check(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
