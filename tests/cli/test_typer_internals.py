"""What vmx takes from Typer's private API (cli/typer_internals.py) is still there, in the shape
it relies on. An upgrade of Typer that moves one fails here, loudly, naming it; nothing in vmx
falls back silently."""

from __future__ import annotations

import dataclasses
import inspect
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

from velocimex_cli.cli import typer_internals
from velocimex_cli.cli.app import NOUNS, LazyNouns
from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.cli.coercion import PlainParam, use_plain_coercion
from velocimex_cli.cli.parsing import NumbersAsArguments

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _series(package: str) -> tuple[str, str]:
    pinned = re.search(rf'"{package}>=([0-9.]+),<([0-9.]+)"', PYPROJECT.read_text())
    assert pinned, f"{package} is not pinned to a series in pyproject.toml"
    return pinned.group(1), pinned.group(2)


def _as_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


def test_typer_is_the_pinned_series() -> None:
    low, high = _series("typer")
    assert _as_tuple(low) <= _as_tuple(version("typer")) < _as_tuple(high)


def test_the_vendored_click_exceptions_are_still_there() -> None:
    click = typer_internals
    for name in ("UsageError", "BadParameter", "NoSuchOption", "MissingParameter"):
        assert issubclass(getattr(click, name), click.ClickException), name
    assert issubclass(click.NoArgsIsHelpError, click.UsageError)
    assert click.BadParameter is typer.BadParameter  # the one Typer exports publicly


def test_runtime_param_is_the_coercion_contract_vmx_fills_in() -> None:
    runtime = typer_internals.RuntimeParam
    fields = {field.name for field in dataclasses.fields(runtime)}
    assert {"annotation", "parameter_info"} <= fields
    assert "_coerce_value" in runtime.__abstractmethods__
    assert list(inspect.signature(runtime._coerce_value).parameters) == [
        "self", "value", "param", "ctx",
    ]  # fmt: skip


def _commands(command: Any) -> list[Any]:
    found = [command]
    for sub in getattr(command, "commands", {}).values():
        found += _commands(sub)
    return found


def _every_command() -> list[Any]:
    root = typer.main.get_command(vmx_app)
    assert isinstance(root, LazyNouns)
    ctx = root.make_context("vmx", [], resilient_parsing=True)
    return [cmd for name in NOUNS for cmd in _commands(root.get_command(ctx, name))]


def test_every_plain_parameter_of_every_command_gets_the_plain_coercion() -> None:
    plain, other = 0, set()
    for command in _every_command():
        helper = typer_internals.unmade_help_option(command, ["-h", "--help"])
        assert helper is None  # made already when the command was built (use_plain_coercion)
        for param in command.params:
            descriptor = param.type_descriptor  # Typer's resolved annotation of a parameter
            assert descriptor.file_annotation is None
            if descriptor.annotation in (str, int, float, bool, list[str]):
                assert isinstance(param._runtime_param, PlainParam), f"{command.name} {param.name}"
                plain += 1
            else:  # left to Typer: only the engine's directories, never a REST command's
                assert not typer_internals.has_runtime_param(param)
                other.add(descriptor.annotation)
    assert plain > 100  # vmx has ~150 parameters
    assert other == {Path}


def test_a_fresh_command_has_its_help_option_still_to_make() -> None:
    app = typer.Typer(add_completion=False)

    @app.command()
    def only(name: str) -> None:
        typer.echo(name)

    command = typer.main.get_command(app)
    helper = typer_internals.unmade_help_option(command, ["-h", "--help"])
    assert helper is not None and sorted(helper.opts) == ["--help", "-h"]
    use_plain_coercion(command)
    assert typer_internals.unmade_help_option(command, ["-h"]) is None


def test_the_option_parser_still_processes_options_where_vmx_hooks_in() -> None:
    app = typer.Typer(add_completion=False)

    @app.command(cls=NumbersAsArguments)
    def place(quantity: str, price: str = "0") -> None:
        typer.echo(f"{quantity} {price}")

    command = typer.main.get_command(app)
    ctx = command.make_context("place", ["-1", "--price", "-2"])
    assert ctx.params == {"quantity": "-1", "price": "-2"}


def _three_commands() -> typer.Typer:
    app = typer.Typer(add_completion=False, help="Three commands.")

    @app.callback()
    def group(verbose: bool = False) -> None:
        """The group."""

    for name in ("first", "second", "third"):

        @app.command(name)
        def command(count: int = 1) -> None:
            typer.echo(count)

    return app


def test_a_group_is_built_with_one_of_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    app = _three_commands()
    whole = typer.main.get_group(app)
    only = typer_internals.group_of_one(app, "second")
    assert list(only.commands) == ["second"] and len(app.registered_commands) == 3
    assert [param.name for param in only.params] == [param.name for param in whole.params]
    assert only.help == whole.help and only.no_args_is_help == whole.no_args_is_help
    only.main(["second", "--count", "2"], prog_name="group", standalone_mode=False)
    assert capsys.readouterr().out == "2\n"
    assert typer_internals.group_of_one(app, "fourth") is None  # the whole group says so


def test_a_single_command_app_is_not_made_a_group() -> None:
    app = typer.Typer(add_completion=False)

    @app.command("only")
    def only(name: str) -> None:
        typer.echo(name)

    assert typer_internals.group_of_one(app, "only") is None


def test_a_group_with_an_argument_of_its_own_is_built_whole() -> None:
    app = _three_commands()

    @app.callback()
    def group(account: str) -> None:  # `vmx NOUN ACCOUNT first`: "first" may be the account
        """The group."""

    assert typer_internals.group_of_one(app, "first") is None


def test_vmx_builds_only_the_verb_it_runs() -> None:
    root = typer.main.get_command(vmx_app)
    assert isinstance(root, LazyNouns)
    ctx = root.make_context("vmx", [], resilient_parsing=True)
    _, listing, _ = root.resolve_command(ctx, ["order", "list", "--json"])
    assert list(listing.commands) == ["list"]
    _, showing, _ = root.resolve_command(ctx, ["order", "show", "ID"])  # the same root again
    assert list(showing.commands) == ["show"]
    _, whole, _ = root.resolve_command(ctx, ["order", "--help"])
    assert {"place", "cancel", "list", "show", "fills", "watch"} <= set(whole.commands)
    _, mistyped, _ = root.resolve_command(ctx, ["order", "lst"])  # needs the names to suggest
    assert mistyped is whole
