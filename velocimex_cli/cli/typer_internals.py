"""Typer's private API that vmx relies on, in one place.

Typer 0.29 offers no public way to do these three things; each is pinned with Typer itself
(pyproject.toml: typer>=0.29,<0.30), and tests/cli/test_typer_internals.py fails, naming what
changed, when an upgrade moves one:

- click's exceptions as Typer vendors them (`typer._click.exceptions`): a command-line mistake
  must be told apart by kind (bad value, unknown option, missing argument) to be reported as the
  API's error JSON (usage_errors.py). Typer re-exports only BadParameter, Abort and Exit.
- `RuntimeParam` (`typer._coercion`): how Typer coerces a parameter's value. Its own coercion
  builds a pydantic TypeAdapter for every parameter (even with `parser=`), which costs a REST
  command more than the rest of its start-up (coercion.py replaces it for plain types).
  A command's help option is made on first use (`_help_option`): made early to be covered too.
- the option parser's `_process_opts` (`typer._click.parser`): `-1` must reach a command as a
  number, not fail as an unknown option (parsing.py).
- a Typer app's registrations (`registered_commands`, `registered_groups`, `_add_completion`)
  and `typer.main.get_group`: `vmx order list` builds the `order` group with its `list` command
  alone (group_of_one), not all seven; building a command inspects its function's signature and
  type hints, which costs a REST command more than the rest of its own start-up.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import typer
import typer.main
from typer._click import exceptions as click_exceptions
from typer._coercion import RuntimeParam

ClickException = click_exceptions.ClickException
UsageError = click_exceptions.UsageError
BadParameter = click_exceptions.BadParameter
NoSuchOption = click_exceptions.NoSuchOption
MissingParameter = click_exceptions.MissingParameter
NoArgsIsHelpError = click_exceptions.NoArgsIsHelpError

__all__ = [
    "BadParameter",
    "ClickException",
    "MissingParameter",
    "NoArgsIsHelpError",
    "NoSuchOption",
    "RuntimeParam",
    "UsageError",
    "group_of_one",
    "has_runtime_param",
    "positional_when",
    "set_runtime_param",
    "unmade_help_option",
]


def positional_when(parser: Any, is_positional: Callable[[str], bool]) -> Any:
    """Make `parser` (a command's option parser) take an argument that `is_positional` accepts
    as a positional argument instead of trying it as an option."""
    process = parser._process_opts

    def process_opts(arg: str, state: Any) -> None:
        if is_positional(arg):
            state.largs.append(arg)
            return
        process(arg, state)

    parser._process_opts = process_opts
    return parser


def set_runtime_param(param: Any, runtime: RuntimeParam) -> None:
    """Coerce `param`'s values with `runtime` (Typer builds its own on first use otherwise)."""
    param._runtime_param = runtime


def has_runtime_param(param: Any) -> bool:
    """Whether `param` already has its coercion (Typer's, built on first use, or ours)."""
    return param._runtime_param is not None


def unmade_help_option(command: Any, names: Sequence[str]) -> Any | None:
    """`command`'s help option (named `names`), made now if Typer has not made it yet; None
    when it was made already or the command has none."""
    if command._help_option is not None:
        return None
    return command.get_help_option(SimpleNamespace(help_option_names=list(names)))


def group_of_one(app: typer.Typer, name: str) -> Any | None:
    """The click group Typer builds for `app`, holding only its command (or sub-group) `name`;
    everything else about the group (options, help, settings) as the whole group has it.

    None when that would not be the same as the whole group's `name`: `app` is a single command
    rather than a group, adds completion options, has no command or sub-group called `name`,
    or names one of its commands only by its function (the name is not known without building),
    or takes an argument of its own before the command's name.
    """
    commands = app.registered_commands
    groups = app.registered_groups
    if not (app.registered_callback or app.info.callback or groups or len(commands) > 1):
        return None  # Typer makes a single command of it, not a group
    if app._add_completion:
        return None
    names = [info.name for info in commands] + [info.name for info in groups]
    if not all(isinstance(each, str) for each in names) or name not in names:
        return None
    only = copy.copy(app)
    only.registered_commands = [info for info in commands if info.name == name]
    only.registered_groups = [info for info in groups if info.name == name]
    group = typer.main.get_group(only)
    if any(param.param_type_name == "argument" for param in group.params):
        return None  # the word after the group's name may be its argument, not a command
    return group
