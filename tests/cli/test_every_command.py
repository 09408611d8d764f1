"""--color and --json errors behave the same on every command: each leaf command of the real
`vmx` app is found by walking the command tree, so a new command is covered as it is added."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from velocimex_cli.cli.app import NOUNS, LazyNouns
from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.cli.factory import Factory
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def run(*args: str) -> Result:
    """vmx against an API that refuses every connection: no engine is needed to fail."""
    factory = Factory(
        IOStreams(stdout_tty=False, stderr_tty=False, stdin_tty=False),
        transport=httpx.MockTransport(refused),
        retry=RetryPolicy(attempts=1),
    )
    env = {"VMX_API_URL": "http://testserver", "VMX_API_KEY": "k", "VMX_API_SECRET": "s"}
    return CliRunner().invoke(vmx_app, list(args), env=env, obj=factory)


def leaf_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(vmx_app)
    assert isinstance(root, LazyNouns)
    leaves: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if not children:
            leaves.append(path)
            return
        for name, child in sorted(children.items()):
            walk(child, (*path, name))

    for noun in NOUNS:
        command = root.get_command(None, noun)
        if command is None:
            continue
        children = getattr(command, "commands", {})
        if list(children) == [noun]:  # `book`, `buy`: a noun that is its own command
            leaves.append((noun,))
        else:
            walk(command, (noun,))
    return leaves


LEAVES = leaf_commands()
COLOR_ERROR = "Invalid value for '--color': 'purple' is not one of auto, always, never"
# Commands that print no data (a script, a stream of log lines, a server's lifetime) need
# no --json of their own; the rest must have it.
NO_DATA_OUTPUT = {("completion",), ("auth", "login"), ("auth", "logout")}
OTHERS_OWN = {"engine"}  # issue 8's `vmx engine` pattern is another change's


def json_error(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text  # one JSON document, nothing else on stderr
    body = jsonfmt.loads(lines[0])
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_the_tree_walk_finds_every_noun() -> None:
    assert {path[0] for path in LEAVES} >= set(NOUNS) - {"engine"}
    assert ("order", "place") in LEAVES and ("config", "set") in LEAVES and ("book",) in LEAVES


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_a_bad_color_is_the_same_error_everywhere(path: tuple[str, ...]) -> None:
    plain = run("--color", "purple", *path)
    assert plain.exit_code == 2 and COLOR_ERROR in plain.stderr
    as_json = run("--color", "purple", *path, "--json")
    assert as_json.exit_code == 2
    error = json_error(as_json.stderr)
    assert error["code"] == "INVALID_PARAMETER" and COLOR_ERROR in error["message"]
    assert error["details"] == {"parameter": "--color", "value": "purple"}


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_a_usage_error_with_json_is_json_everywhere(path: tuple[str, ...]) -> None:
    result = run(*path, "--no-such-option", "--json")
    assert result.exit_code == 2
    error = json_error(result.stderr)
    assert error["code"] == "USAGE" and error["details"] == {"option": "--no-such-option"}
    assert f"vmx {' '.join(path)} --help" in error["message"]
    plain = run(*path, "--no-such-option")
    assert plain.exit_code == 2 and "No such option: --no-such-option" in plain.stderr


@pytest.mark.parametrize(
    "path", [p for p in LEAVES if p[0] not in OTHERS_OWN and p not in NO_DATA_OUTPUT], ids=" ".join
)
def test_every_data_command_has_json(path: tuple[str, ...]) -> None:
    root = typer.main.get_command(vmx_app)
    command: Any = root.get_command(None, path[0])
    for name in path[1:]:
        command = command.commands[name]
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert "--json" in options and "--output" in options


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_option_and_argument_says_what_it_is(path: tuple[str, ...]) -> None:
    root = typer.main.get_command(vmx_app)
    command: Any = root.get_command(None, path[0])
    for name in path[1:]:
        command = command.commands[name]
    silent = [
        param.name
        for param in command.params
        if not getattr(param, "hidden", False) and not (getattr(param, "help", None) or "").strip()
    ]
    assert not silent, f"vmx {' '.join(path)}: no help text for {silent}"


# A real failure of each data command, run against an API that cannot be reached (or, for
# config, a setting that does not exist): with --json, stderr is the API's error JSON.
FAILING: dict[tuple[str, ...], tuple[str, ...]] = {
    ("markets", "status"): (),
    ("markets", "list"): (),
    ("book",): ("BINANCE", "BTC/USDT"),
    ("ticker",): ("BINANCE", "BTC/USDT"),
    ("candles",): ("BINANCE", "BTC/USDT"),
    ("order", "place"): ("BINANCE", "BTC/USDT", "buy", "0.01", "--price", "1000", "--yes"),
    ("order", "cancel"): ("42",),
    ("order", "list"): (),
    ("order", "show"): ("42",),
    ("order", "fills"): (),
    ("buy",): ("BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--yes"),
    ("sell",): ("BINANCE", "BTC/USDT", "0.01", "--price", "100000", "--yes"),
    ("account", "balance"): (),
    ("account", "positions"): (),
    ("strategy", "list"): (),
    ("strategy", "deploy"): ("grid", "--exchange", "BINANCE", "--symbol", "BTC/USDT"),
    ("strategy", "show"): ("grid",),
    ("strategy", "add"): (__file__,),  # a file that exists: the failure is the API's
    ("strategy", "remove"): ("grid",),
    ("strategy", "status"): (),
    ("strategy", "stop"): ("dep-1",),
    ("strategy", "logs"): ("dep-1",),
    ("config", "list"): (),
    ("config", "get"): ("no_such_setting",),
    ("config", "set"): ("no_such_setting", "1"),
}
# `auth status` reports a refused or unreachable key as its data (stdout) with the exit code;
# `config path` reads nothing that can fail.
NO_FAILURE_TO_PROVOKE = {("auth", "status"), ("config", "path")}


@pytest.mark.parametrize("path", sorted(FAILING), ids=" ".join)
def test_a_failure_with_json_is_the_api_error_json(path: tuple[str, ...]) -> None:
    args = (*path, *FAILING[path])
    if path == ("config", "list"):
        # Nothing to reach: fail by a config.toml that is not TOML.
        from velocimex_cli.config.settings import config_file

        config_file().parent.mkdir(parents=True, exist_ok=True)
        config_file().write_text("output = [broken")
    as_json = run(*args, "--json")
    plain = run(*args)
    assert as_json.exit_code == plain.exit_code != 0, (as_json.stderr, plain.stderr)
    error = json_error(as_json.stderr)
    assert error["code"] in ("UNREACHABLE", "CONFIG_ERROR", "MISSING_CREDENTIALS")
    assert plain.stderr.startswith("error: ") and not plain.stderr.lstrip().startswith("{")
    assert as_json.stdout == ""


def test_every_data_command_is_in_the_failure_table() -> None:
    mine = {p for p in LEAVES if p[0] not in OTHERS_OWN and p not in NO_DATA_OUTPUT}
    # Commands other changes add (`order cancel-after`, `account limits`) are covered by the
    # tests over LEAVES above; the ones that existed with this table must all be in it.
    existing = {p for p in mine if p[0] in ("markets", "book", "ticker", "strategy", "config")}
    assert existing <= set(FAILING) | NO_FAILURE_TO_PROVOKE
