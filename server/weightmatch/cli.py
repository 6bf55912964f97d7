"""`weightmatch check` (CI and pre-commit) and `weightmatch serve` (the language server)."""

from __future__ import annotations

import argparse
import os
import sys

from weightmatch import __version__

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages",
             ".tox", ".nox", ".mypy_cache", ".pytest_cache", "build", "dist", ".e2e"}


def python_files(paths: list[str], skipped: list[str] | None = None) -> list[str]:
    """The .py files under `paths` that are regular files within the size limit; the
    others (a FIFO, a link to /dev/zero, a huge file) go to `skipped` with the reason."""
    from weightmatch.sourcefile import SourceSkipped, check_source

    candidates: list[str] = []
    for p in paths:
        if not os.path.isdir(p):
            candidates.append(os.path.abspath(p))
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            candidates.extend(os.path.abspath(os.path.join(dirpath, f)) for f in sorted(filenames) if f.endswith(".py"))
    out: list[str] = []
    for path in candidates:
        try:
            check_source(path)
        except SourceSkipped as e:
            if skipped is not None:
                skipped.append(f"{path}: {e.reason}")
            continue
        except OSError as e:
            if skipped is not None:
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


def check(args: argparse.Namespace) -> int:
    from weightmatch.project import Project, Settings
    from weightmatch.report import unique
    from weightmatch.textsafe import visible

    missing = [p for p in args.paths if not _exists(p)]
    if missing:
        print(f"weightmatch: no such file or directory: {visible(', '.join(missing))}", file=sys.stderr)
        return 2
    root = os.path.abspath(args.root or os.getcwd())
    settings = Settings(execute=not args.no_exec, search_paths=args.search_path or [],
                        worker_timeout=args.timeout, python=args.python or sys.executable,
                        static_first=not args.exec_first)

    def log(level: str, message: str) -> None:
        if args.verbose or level == "error":
            print(f"[{level}] {message}", file=sys.stderr)

    project = Project(root, settings, log)
    findings = []
    skipped: list[str] = []
    try:
        for path in python_files(args.paths or ["."], skipped):
            try:
                analysis = project.analyze(path)
            except (MemoryError, RecursionError) as exc:
                findings.append(_internal_error(path, exc))
                continue
            findings.extend(analysis.findings)
    finally:
        project.close()
    for line in skipped:
        print(f"weightmatch: skipped {visible(line)}", file=sys.stderr)
    findings = unique(findings)
    status = 1 if any(f.severity == "error" for f in findings) else 0
    try:
        _write(args, findings, root)
        sys.stdout.flush()
    except BrokenPipeError:  # `weightmatch check | head`: the reader has what it wanted
        _silence_stdout()
    return status


def _write(args: argparse.Namespace, findings: list, root: str) -> None:
    from weightmatch.report import write_json, write_text

    if args.format == "json":
        write_json(findings, root, sys.stdout)
    else:
        lines_cache: dict[str, list[str]] = {}

        def read_line(path: str, line: int):
            if path not in lines_cache:
                from weightmatch.sourcefile import read_source

                try:
                    lines_cache[path] = read_source(path).splitlines()
                except OSError:
                    lines_cache[path] = []
            lines = lines_cache[path]
            return lines[line] if 0 <= line < len(lines) else None

        write_text(findings, root, sys.stdout, read_line)


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):
        return os.path.islink(path) if "\0" not in path else False
    return True


def main(argv: list[str] | None = None) -> int:
    """The CLI; a reader that closes the pipe early (`weightmatch check | head`) ends it quietly."""
    try:
        return _main(argv)
    except BrokenPipeError:  # outside the report (check() handles its own): status unknown, so not a pass
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """After EPIPE: Python flushes stdout again at exit; point it at /dev/null so that
    flush raises nothing and no 'Exception ignored' line is printed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server parses its own options (--tcp PORT, --help)
        from weightmatch.lsp.server import main as serve

        return serve(argv[1:])
    parser = argparse.ArgumentParser(prog="weightmatch", description="Predicts what load_state_dict will do.")
    parser.add_argument("--version", action="version", version=f"weightmatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check the Python files under PATHs (default: the current directory)")
    c.add_argument("paths", nargs="*", metavar="PATH")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--root", help="project root: paths are shown relative to it (default: the current directory)")
    c.add_argument("--no-exec", action="store_true",
                   help="never run model code; infer models statically (for untrusted code)")
    c.add_argument("--exec-first", action="store_true",
                   help="build every model in the worker, even those static inference resolves")
    c.add_argument("--python", help="interpreter the model worker runs (needs torch; default: this one)")
    c.add_argument("--timeout", type=float, default=60.0, help="seconds a model may take to build (default 60)")
    c.add_argument("--search-path", action="append", help="another folder to look for checkpoints in")
    c.add_argument("-v", "--verbose", action="store_true", help="log what the engine does to stderr")
    sub.add_parser("serve", help="run the language server (stdio; `serve --help` for its options)")
    return check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
