"""argparse as data: an `ArgumentParser` and its `add_argument` calls, read without running
them, give the namespace a bare `python script.py` gets (or the one a run configuration's
arguments give). Every value says which option it came from, so a diagnostic can say
what it assumed ("--num-classes at its default, 10")."""

from __future__ import annotations

from pathlib import PurePosixPath
from dataclasses import dataclass, field
from typing import Any

from weightmatch.values import Const, ObjVal, SeqVal, Unknown

SUPPRESS = "==SUPPRESS=="
REMAINDER = "..."
BOOLEAN_OPTIONAL = "argparse.BooleanOptionalAction"  # `--flag` / `--no-flag`
# argparse's named constants, as add_argument receives them (`nargs=argparse.REMAINDER`)
CONSTANTS = {"argparse.SUPPRESS": SUPPRESS, "argparse.REMAINDER": REMAINDER, "argparse.OPTIONAL": "?",
             "argparse.ZERO_OR_MORE": "*", "argparse.ONE_OR_MORE": "+", BOOLEAN_OPTIONAL: BOOLEAN_OPTIONAL}
# `type=` callables applied to a string default (argparse does this) that we can apply exactly;
# a path is held as its str (as `pathlib.Path(...)` is elsewhere in the tracker), normalized as
# pathlib normalizes it ("out/" -> "out")
_TYPES = {"int": int, "float": float, "str": str, "pathlib.Path": lambda v: str(PurePosixPath(v))}
PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"}


@dataclass
class Option:
    dest: str
    flags: list[str]  # option strings as written ("--num-classes", "-n"); [] for a positional
    action: str
    default: Any  # a tracked value (Const, Unknown, ...)
    type_name: str | None
    nargs: Any
    const: Any
    type_fn: Any = None  # `type=str2bool`: a function of the workspace, run by the interpreter (`convert`)


@dataclass
class ParserVal:
    """An `argparse.ArgumentParser` whose arguments are known."""

    options: list[Option] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)  # set_defaults(...)
    unknown: str = ""  # why some argument is not known (a computed option string, ...)
    subparsers: "SubparsersVal | None" = None  # add_subparsers(): subcommands, each a parser

    def add_subparsers(self, kwargs: dict[str, Any]) -> "SubparsersVal | None":
        """`add_subparsers(dest="subcommand")`; None (and the parser unknown) when it cannot be followed."""
        dest, required = kwargs.get("dest", Const(SUPPRESS)), kwargs.get("required", Const(False))
        if self.subparsers is not None or any(not o.flags for o in self.options) or not (
                isinstance(dest, Const) and isinstance(dest.value, str) and isinstance(required, Const)):
            self.unknown = self.unknown or "subcommands that are not followed (`add_subparsers(...)`)"
            return None
        self.subparsers = SubparsersVal(dest.value, bool(required.value))
        return self.subparsers

    def add_argument(self, names: list[Any], kwargs: dict[str, Any]) -> None:
        if not all(isinstance(n, Const) and isinstance(n.value, str) for n in names) or not names:
            self.unknown = "an option whose name is computed at run time"
            return
        strings = [n.value for n in names]
        flags = [s for s in strings if s.startswith("-")]
        action = _const(kwargs.get("action"), "store")
        if action in ("help", "version"):
            return
        if action == BOOLEAN_OPTIONAL:  # `--compile` / `--no-compile`
            flags = [*flags, *(f"--no-{f[2:]}" for f in flags if f.startswith("--"))]
        dest_val = kwargs.get("dest")
        if dest_val is not None:
            dest = dest_val.value if isinstance(dest_val, Const) else None
        elif not flags:
            dest = strings[0]
        else:
            long = [f for f in flags if f.startswith("--")]
            dest = (long or flags)[0].lstrip("-").replace("-", "_")
        if not isinstance(dest, str):
            self.unknown = "an option whose `dest` is computed at run time"
            return
        default = kwargs.get("default")
        if default is None:
            default = Const({"store_true": False, "store_false": True}.get(action))
        type_val = kwargs.get("type")
        type_name = type_val.value if isinstance(type_val, Const) and isinstance(type_val.value, str) else None
        if type_val is not None and type_name is None:
            type_name = "?"
        if not isinstance(action, str):  # an Action class of the script's own: it decides the value
            default = Unknown(f"`{strings[0]}` has an argparse action not known statically")
            action = "store"
        type_fn = type_val if type(type_val).__name__ == "FuncVal" else None
        self.options.append(Option(dest, flags, action, default, type_name, _const(kwargs.get("nargs"), None),
                                   kwargs.get("const"), type_fn))
        required = kwargs.get("required")
        if (isinstance(required, Const) and required.value is True) or (not flags and _const(
                kwargs.get("nargs"), None) not in ("?", "*", REMAINDER)):
            self.options[-1].default = Unknown(f"`{strings[0]}` is a required argument, known only at run time")

    def get_default(self, dest: Any) -> Any:
        """`parser.get_default("model")`, as argparse gives it: a `set_defaults` value, else the
        first option's own default (not converted by its `type`), else None."""
        if self.unknown or not (isinstance(dest, Const) and isinstance(dest.value, str)):
            return Unknown(f"the default of {dest.value if isinstance(dest, Const) else 'an option'!r} is not known statically")
        if dest.value in self.defaults:
            return self.defaults[dest.value]
        found = next((o.default for o in self.options if o.dest == dest.value), None)
        return found if found is not None else Const(None)

    def parse(self, argv: list[str] | None = None, source: str = "", convert=None) -> Any:
        """The namespace for `argv` (None: no arguments, every option at its default). `convert(fn,
        text)` runs a `type=` function of the workspace on a string (None: such a value is unknown)."""
        argv = argv or []
        given, stop = _parse_argv(self.options, argv, self.subparsers is not None)
        attrs: dict[str, Any] = {}
        for opt in self.options:
            name = (opt.flags or [opt.dest])[0]
            if opt.dest in given:
                raw = given[opt.dest]
                attrs[opt.dest] = _typed(raw, opt, f"{name} {raw} {source}".rstrip(), convert)
                continue
            if opt.dest in attrs and opt.dest not in self.defaults:
                continue  # argparse: the first option with a dest sets its default
            default = self.defaults.get(opt.dest, opt.default)
            if isinstance(default, Const) and default.value == SUPPRESS:
                continue
            if isinstance(default, Unknown):
                attrs[opt.dest] = default
                continue
            if not isinstance(default, Const):
                attrs[opt.dest] = Unknown(f"the default of `{name}` is not known statically")
                continue
            value = default.value
            if not opt.flags and (opt.nargs == REMAINDER or opt.nargs == "*" and value is None):
                value = []  # what argparse gives a positional `*` / `...` that is not given
            if isinstance(value, str) and opt.type_name is not None:
                value = _apply_type(value, opt, convert)
                if isinstance(value, Unknown):
                    attrs[opt.dest] = value
                    continue
            env_note = f" ({default.origin})" if default.origin and "$" in default.origin else ""  # click's envvar
            attrs[opt.dest] = Const(value, f"{name} at its default, {value!r}{env_note}")
        for dest, value in self.defaults.items():
            attrs.setdefault(dest, value)
        if self.subparsers is not None:
            sub = self.subparsers.parse(argv[stop:] if stop is not None else [], source, convert)
            if isinstance(sub, Unknown):
                return sub
            # the subcommand's values are set over the parent's; an option of a subcommand not
            # given leaves the parent's own option of that name alone
            attrs.update({k: v for k, v in sub.items() if not (isinstance(v, Unknown) and k in attrs)})
        if self.unknown:
            # attributes we did not see may exist: reading an unseen one stays unknown (ObjVal rules)
            pass
        return ObjVal(attrs, "the argparse namespace")

    def parse_known(self, argv: list[str] | None = None, source: str = "", convert=None) -> Any:
        namespace = self.parse(argv, source, convert)
        return namespace if isinstance(namespace, Unknown) else SeqVal([namespace, Const([])])


@dataclass
class SubparsersVal:
    """What `add_subparsers()` returns: `add_parser(name)` makes a subcommand's parser. As in
    argparse, the subcommand's namespace values (its defaults too) are set over the parent's."""

    dest: str  # SUPPRESS: the chosen name is not stored
    required: bool
    commands: dict[str, ParserVal] = field(default_factory=dict)

    def add_parser(self, names: list[Any], kwargs: dict[str, Any]) -> ParserVal | None:
        aliases = kwargs.get("aliases", Const([]))
        if len(names) != 1 or not isinstance(names[0], Const) or not isinstance(names[0].value, str) or \
                not (isinstance(aliases, Const) and isinstance(aliases.value, (list, tuple))):
            return None
        child = ParserVal()
        for name in [names[0].value, *aliases.value]:
            self.commands[str(name)] = child
        return child

    def parse(self, argv: list[str], source: str, convert=None) -> dict[str, Any] | Unknown:
        choices = ", ".join(self.commands)
        if not argv:
            if self.required:
                return Unknown(f"the script needs a subcommand ({choices}): argparse stops without one")
            # a subcommand's options do not exist on the namespace (reading one raises
            # AttributeError at run time): unknown, with the reason in the user's terms
            attrs: dict[str, Any] = {}
            for command, child in self.commands.items():
                for opt in child.options:
                    name = (opt.flags or [opt.dest])[0]
                    attrs.setdefault(opt.dest, Unknown(f"`{name}` belongs to the subcommand `{command}`, and the "
                                                       f"script is run without a subcommand"))
            if self.dest != SUPPRESS:
                attrs[self.dest] = Const(None, "no subcommand given")
            return attrs
        command, rest = argv[0], argv[1:]
        child = self.commands.get(command)
        if child is None:
            return Unknown(f"`{command}` is not a subcommand of the script ({choices}): argparse stops")
        namespace = child.parse(rest, source, convert)
        if isinstance(namespace, Unknown):
            return namespace
        attrs = dict(namespace.attrs)
        if self.dest != SUPPRESS:
            attrs[self.dest] = Const(command, f"subcommand {command} {source}".rstrip())
        return attrs


def _const(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return value.value if isinstance(value, Const) else object()


def _apply_type(value: str, opt: Option, convert=None) -> Any:
    type_name = opt.type_name
    if opt.type_fn is not None and convert is not None:  # `type=str2bool`: run by the interpreter
        made = convert(opt.type_fn, value)
        return made.value if type(made).__name__ == "Const" else \
            Unknown(f"`{opt.type_fn.node.name}({value!r})` is not known statically")
    fn = _TYPES.get(type_name)
    if fn is None:
        return Unknown(f"a default converted by `{type_name}` at run time")
    try:
        return fn(value)
    except ValueError:
        return Unknown(f"`{type_name}({value!r})` fails")


def _typed(raw: Any, opt: Option, origin: str, convert=None) -> Any:
    if isinstance(raw, bool) or raw is None:
        return Const(raw, origin)
    if isinstance(raw, list):
        values = [_apply_type(r, opt, convert) if opt.type_name else r for r in raw]
        if any(isinstance(v, Unknown) for v in values):
            return Unknown(f"`{opt.dest}` from the run configuration is not known statically")
        return Const(values, origin)
    value = _apply_type(raw, opt, convert) if opt.type_name else raw
    return value if isinstance(value, Unknown) else Const(value, origin)


def _parse_argv(options: list[Option], argv: list[str], commands: bool = False) -> tuple[dict[str, Any], int | None]:
    """The subset of argparse's parsing that run configurations use: `--opt value`,
    `--opt=value`, flags and positionals, in order. Anything else makes the option unknown.
    With `commands` (a parser with subcommands, no positionals of its own), the first
    positional is the subcommand: parsing stops there and its index is returned."""
    by_flag = {f: o for o in options for f in o.flags}
    positionals = [o for o in options if not o.flags]
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            flag, eq, inline = arg.partition("=")
            opt = by_flag.get(flag)
            if opt is None:
                i += 1
                continue
            if opt.action == "store_true":
                out[opt.dest] = True
            elif opt.action == "store_false":
                out[opt.dest] = False
            elif opt.action == BOOLEAN_OPTIONAL:
                out[opt.dest] = not flag.startswith("--no-")
            elif opt.action == "store_const":
                out[opt.dest] = opt.const.value if isinstance(opt.const, Const) else None
            elif opt.nargs in ("+", "*") and not eq:
                vals = []
                while i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                    vals.append(argv[i + 1])
                    i += 1
                out[opt.dest] = vals
            elif eq:
                out[opt.dest] = inline
            elif i + 1 < len(argv):
                out[opt.dest] = argv[i + 1]
                i += 1
        elif commands:
            return out, i
        elif positionals:
            i = _positional(positionals.pop(0), argv, i, out)
            continue
        i += 1
    return out, None


def _positional(opt: Option, argv: list[str], i: int, out: dict[str, Any]) -> int:
    """A positional at argv[i]; the index after what it takes."""
    if opt.nargs == REMAINDER:  # `opts` of yacs scripts: everything after it
        out[opt.dest] = argv[i:]
        return len(argv)
    if opt.nargs in ("*", "+"):
        vals = []
        while i < len(argv) and not argv[i].startswith("-"):
            vals.append(argv[i])
            i += 1
        out[opt.dest] = vals
        return i
    out[opt.dest] = argv[i]
    return i + 1
