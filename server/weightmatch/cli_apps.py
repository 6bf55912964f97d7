"""Command-line apps made with click and typer, read as data like argparse (argparse_values.py).

`@click.command()` with `@click.option(...)` / `@click.argument(...)`, called bare (`main()`):
click parses the script's arguments (none, or a run configuration's) and calls the function
with one keyword per option; each option becomes the argparse option it behaves like, so its
value says where it came from ("--num-classes at its default, 10"). Options that behave
otherwise (`--flag/--no-flag` pairs, `multiple`, `count`, `envvar`, callbacks, prompts) make
the call unknown, with the option named.

`typer.Option(24, ...)` / `typer.Argument(...)` as a parameter's default: typer passes the
default when the script is run without arguments; `...` (required) is unknown. With configured
arguments typer parses them, which is not followed.
"""

from __future__ import annotations

import ast
import os
from typing import Any

from weightmatch import environment
from weightmatch.argparse_values import ParserVal
from weightmatch.values import Const, FuncVal, ObjVal, Unknown

_COMMAND = "click.command"
_PARAMS = ("click.option", "click.argument")
_IGNORED = ("click.version_option", "click.help_option")
_NOT_FOLLOWED = {"multiple", "count", "callback", "prompt", "is_eager", "expose_value",
                 "flag_value", "secondary", "show_envvar", "default_factory", "hide_input", "confirmation_prompt"}
_CLICK_TYPES = {"click.INT": "int", "click.FLOAT": "float", "click.STRING": "str", "click.Path": "str",
                "click.Choice": "str", "click.BOOL": "?", "click.File": "?"}


def click_command(fn: FuncVal) -> list[ast.Call] | None:
    """The option and argument decorators of a function whose decorators are all click's and
    make it a command (`@click.command()` on top); None otherwise."""
    decorators = fn.node.decorator_list
    names = [fn.file.dotted(d.func if isinstance(d, ast.Call) else d) for d in decorators]
    if not decorators or names[0] != _COMMAND or any(n not in (_COMMAND, *_PARAMS, *_IGNORED) for n in names):
        return None
    return [d for d, n in zip(decorators, names) if n in _PARAMS and isinstance(d, ast.Call)]


def group_command(fn: FuncVal) -> tuple[str, list[ast.Call]] | None:
    """A click command a group runs by name (`@cli.command()` under `@click.group() def cli()`,
    or a `@click.command()` nothing calls, added with `cli.add_command`): the name typed on the
    command line and its option and argument decorators; None otherwise."""
    decorators = fn.node.decorator_list
    if not decorators:
        return None
    top = decorators[0].func if isinstance(decorators[0], ast.Call) else decorators[0]
    names = [fn.file.dotted(d.func if isinstance(d, ast.Call) else d) for d in decorators[1:]]
    if any(n not in (*_PARAMS, *_IGNORED) for n in names):
        return None
    is_group_command = isinstance(top, ast.Attribute) and top.attr == "command" and isinstance(top.value, ast.Name) \
        and _is_group(fn.file, top.value.id)
    if not (is_group_command or fn.file.dotted(top) == _COMMAND and _added(fn.file, fn.node.name)):
        return None
    call = decorators[0] if isinstance(decorators[0], ast.Call) else None
    given = (call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)) \
        if call is not None else None
    if given is not None and not (isinstance(given, ast.Constant) and isinstance(given.value, str)):
        return None
    name = given.value if given is not None else _command_name(fn.node.name)
    return name, [d for d in decorators[1:] if isinstance(d, ast.Call)
                  and fn.file.dotted(d.func) in _PARAMS]


def _is_group(pf, name: str) -> bool:
    """`name` is a click group defined at the top of the file (`@click.group()` on a def)."""
    for stmt in pf.tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == name:
            return any(pf.dotted(d.func if isinstance(d, ast.Call) else d) == "click.group"
                       for d in stmt.decorator_list)
    return False


def _added(pf, function: str) -> bool:
    """`group.add_command(function)` at the top of the file, under a name click derives."""
    return any(isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
               and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr == "add_command"
               and isinstance(stmt.value.func.value, ast.Name) and _is_group(pf, stmt.value.func.value.id)
               and len(stmt.value.args) == 1 and isinstance(stmt.value.args[0], ast.Name)
               and stmt.value.args[0].id == function for stmt in pf.tree.body)


def _command_name(function: str) -> str:
    """click's name for a command made from a function (click 8.2: `init_data_cmd` → `init-data`)."""
    name = function.lower().replace("_", "-")
    left, sep, suffix = name.rpartition("-")
    return left if sep and suffix in ("command", "cmd", "group", "grp") else name


def command_run(ev, fn: FuncVal) -> tuple[dict[str, Any] | Unknown, str] | None:
    """What a group's command is called with when it is the command run: the run
    configuration's arguments after its name, else every option at its default (the command
    run as `script.py NAME`); and the context a message names. None for any other function."""
    found = group_command(fn)
    if found is None:
        return None
    name, params = found
    script = os.path.basename(fn.file.path)
    if ev.argv and ev.argv[0] != name:
        return Unknown(f"{fn.node.name}() is the click command `{name}`, not the `{ev.argv[0]}` the run's arguments "
                       f"name {ev.argv_source}".rstrip()), ""
    argv = ev.argv[1:] if ev.argv else []
    context = f"{fn.node.name}() run as `{script} {' '.join([name, *argv])}`"
    return click_arguments(ev, fn, params, argv), context


def click_arguments(ev, fn: FuncVal, params: list[ast.Call], argv: list[str] | None = None) -> dict[str, Any] | Unknown:
    """The keywords click calls the command with in this run (`argv`: the arguments it parses,
    when not the script's)."""
    env = ev.module_env(fn.file)
    parser = ParserVal()
    for node in params:
        added = ev.in_file(fn.file, lambda node=node: _add(ev, parser, node, env))
        if added is not None:
            return added
    namespace = parser.parse(ev.argv if argv is None else argv, ev.argv_source)
    if parser.unknown:
        return Unknown(f"the click command {fn.node.name}() has {parser.unknown}")
    return dict(namespace.attrs) if isinstance(namespace, ObjVal) else namespace


def _add(ev, parser: ParserVal, node: ast.Call, env: dict) -> Unknown | None:
    names = [ev.ev(a, env) for a in node.args]
    if not names or not all(isinstance(n, Const) and isinstance(n.value, str) for n in names):
        return Unknown(f"`{ev.pf.segment(node)}`: a click parameter whose name is computed at run time")
    strings = [n.value for n in names]
    label = strings[0]
    odd = next((k.arg for k in node.keywords if k.arg in _NOT_FOLLOWED), "") or \
        ("`**` keywords" if any(k.arg is None for k in node.keywords) else "") or \
        ("a `--flag/--no-flag` pair" if any("/" in s for s in strings) else "")
    if odd:
        return Unknown(f"the click option `{label}` uses {odd if ' ' in odd else f'`{odd}=`'}, which is not followed")
    kwargs = {k.arg: ev.ev(k.value, env) for k in node.keywords if k.arg not in ("type", "help", "show_default")}
    unknown = _envvar_default(ev, label, kwargs) if "envvar" in kwargs else None
    if unknown is not None:
        return unknown
    type_name = _type_name(ev, node, env)
    if type_name == "?":
        return Unknown(f"the click option `{label}` converts its value with a type not followed")
    if type_name:
        kwargs["type"] = Const(type_name)
        default = kwargs.get("default")
        if isinstance(default, Const) and isinstance(default.value, (int, float)) and \
                not isinstance(default.value, bool) and type_name in ("int", "float", "str"):
            kwargs["default"] = Const({"int": int, "float": float, "str": str}[type_name](default.value),
                                      default.origin)  # click converts every default, argparse only strings
    flags = [s for s in strings if s.startswith("-")]
    plain = [s for s in strings if not s.startswith("-")]
    is_option = ev.pf.dotted(node.func) == "click.option"
    if is_option:
        flag, default = kwargs.pop("is_flag", Const(False)), kwargs.get("default", Const(False))
        if not isinstance(flag, Const) or flag.value and not (isinstance(default, Const) and default.value in (
                False, None)):
            return Unknown(f"the click flag `{label}` is not followed")
        if flag.value:
            kwargs["action"], kwargs["default"] = Const("store_true"), Const(False)
        # click names the parameter by a name without dashes, else its first long option, lower-cased
        long = [f for f in flags if f.startswith("--")]
        kwargs["dest"] = Const(plain[0] if plain else (long or flags)[0].lstrip("-").replace("-", "_").lower())
        parser.add_argument([Const(f) for f in flags], kwargs)
        return None
    if len(plain) != 1 or flags:
        return Unknown(f"the click argument `{label}` is not followed")
    required, nargs = kwargs.pop("required", None), kwargs.pop("nargs", Const(1))
    if not (isinstance(nargs, Const) and nargs.value == 1):
        return Unknown(f"the click argument `{label}` takes several values, which is not followed")
    if "default" in kwargs and not (isinstance(required, Const) and required.value):
        kwargs["nargs"] = Const("?")  # an argument with a default is optional
    parser.add_argument([Const(plain[0].lower())], kwargs)
    return None


def _envvar_default(ev, label: str, kwargs: dict[str, Any]) -> Unknown | None:
    """`envvar="HIDDEN_SIZE"`: read when the command line does not give the option, before its
    default (a bare run: the launch configuration's or the script's value, else unset)."""
    variable = kwargs.pop("envvar")
    if not (isinstance(variable, Const) and isinstance(variable.value, str)):
        return Unknown(f"the click option `{label}` reads an environment variable not known statically")
    value = environment.given(ev, variable.value)
    if value is not None and not isinstance(value, Const):
        return value
    default = kwargs.get("default", Const(None))
    if value is not None:
        kwargs["default"] = Const(str(value.value), value.origin)
    elif isinstance(default, Const):
        unset = f"${variable.value} unset"
        kwargs["default"] = Const(default.value, f"{default.origin}; {unset}" if default.origin else unset)
    return None


def _type_name(ev, node: ast.Call, env: dict) -> str:
    given = next((k.value for k in node.keywords if k.arg == "type"), None)
    if given is None:
        return ""
    if isinstance(given, ast.Name) and given.id in ("int", "float", "str") and given.id not in env:
        return given.id
    dotted = ev.pf.dotted(given.func if isinstance(given, ast.Call) else given) or ""
    return _CLICK_TYPES.get(dotted, "?")


def typer_default(ev, dotted: str, node: ast.Call, env: dict) -> Any:
    """`typer.Option(24, "--width")` as a parameter's default: 24 when the script is run bare."""
    if ev.argv:
        return Unknown(f"typer's options parsed from the arguments {ev.argv_source or 'of this run'} are not followed")
    given = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "default"), None)
    what = _typer_name(ev, node)
    if given is None or isinstance(given, ast.Constant) and given.value is Ellipsis:
        return Unknown(f"{what} is required, known only at run time")
    value = ev.ev(given, env)
    if not isinstance(value, Const):
        return value
    return Const(value.value, f"{what} at its default, {value.value!r}")


def _typer_name(ev, node: ast.Call) -> str:
    """The option as typed: its first declared name, else the parameter's (`--num-classes`)."""
    names = [a.value for a in node.args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if names:
        return names[0]
    for fn in ast.walk(ev.pf.tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = fn.args
            params = [*a.posonlyargs, *a.args][-len(a.defaults):] if a.defaults else []
            pairs = [*zip(params, a.defaults), *zip(a.kwonlyargs, a.kw_defaults)]
            for param, default in pairs:
                if default is node:
                    is_option = ev.pf.dotted(node.func) == "typer.Option"
                    return "--" + param.arg.replace("_", "-") if is_option else param.arg.upper()
    return "a typer option"


HANDLERS = {"typer.Option": typer_default, "typer.Argument": typer_default}
