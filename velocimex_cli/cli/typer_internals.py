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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

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
