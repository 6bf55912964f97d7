"""`weightmatch check` (CI and pre-commit) and `weightmatch serve` (the language server)."""

from __future__ import annotations

import argparse
import os
import sys

from weightmatch import __version__

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages",
             ".tox", ".nox", ".mypy_cache", ".pytest_cache", "build", "dist", ".e2e"}


def python_files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if os.path.isfile(p):
            out.append(os.path.abspath(p))
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            out.extend(os.path.abspath(os.path.join(dirpath, f)) for f in sorted(filenames) if f.endswith(".py"))
    return out


def check(args: argparse.Namespace) -> int:
    from weightmatch.project import Project, Settings
    from weightmatch.report import unique, write_json, write_text

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"weightmatch: no such file or directory: {', '.join(missing)}", file=sys.stderr)
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
    try:
        for path in python_files(args.paths or ["."]):
            analysis = project.analyze(path)
            findings.extend(analysis.findings)
    finally:
        project.close()
    findings = unique(findings)
    if args.format == "json":
        write_json(findings, root, sys.stdout)
    else:
        lines_cache: dict[str, list[str]] = {}

        def read_line(path: str, line: int):
            if path not in lines_cache:
                try:
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        lines_cache[path] = fh.read().splitlines()
                except OSError:
                    lines_cache[path] = []
            lines = lines_cache[path]
            return lines[line] if 0 <= line < len(lines) else None

        write_text(findings, root, sys.stdout, read_line, show_unresolved=args.show_unresolved)
    return 1 if any(f.severity == "error" for f in findings) else 0


def main(argv: list[str] | None = None) -> int:
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
    c.add_argument("--show-unresolved", action="store_true",
                   help="list each load whose model or checkpoint is known only at run time (text output; "
                        "JSON always lists them)")
    c.add_argument("-v", "--verbose", action="store_true", help="log what the engine does to stderr")
    sub.add_parser("serve", help="run the language server (stdio; `serve --help` for its options)")
    return check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
