"""`vmx config list|get|set|path`: default profile, output format, colour, confirm threshold,
how long an order may wait for a rate limit, what the local engine mirrors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.cli.parsing import NumbersAsArguments

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Settings in config.toml.")


@dataclass
class ConfigOptions:
    key: str | None = None
    value: str | None = None
    output: str | None = None


def run_list(factory: Factory, opts: ConfigOptions) -> None:
    from velocimex_cli.config.settings import DEFAULTS
    from velocimex_cli.output.formats import emit

    settings = factory.settings
    data = {key: settings.get(key) for key in DEFAULTS}
    if settings.profiles:
        data["profiles"] = settings.profiles  # type: ignore[assignment]  # a table beside values
    fmt = opts.output or "table"
    if fmt == "table":  # for people: the settings as TOML, as the settings file holds them
        import tomli_w

        factory.io.write(tomli_w.dumps(_toml_ready(data)))
        return
    emit(factory.io, data, fmt)


def _toml_ready(value: Any) -> Any:
    """`value` with what TOML cannot hold made text (a Decimal) and unset entries left out."""
    if isinstance(value, dict):
        return {str(k): _toml_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_ready(v) for v in value]
    if isinstance(value, str | int | bool):
        return value
    return str(value)


def _emit_value(factory: Factory, opts: ConfigOptions, data: dict[str, str], text: str) -> None:
    """A setting's value (or a path) as text for people, or `{"key": "value"}` in a format."""
    from velocimex_cli.output.formats import emit

    fmt = opts.output or "table"
    if fmt == "table":
        factory.io.write(text + "\n")
    else:
        emit(factory.io, data, fmt)


def run_get(factory: Factory, opts: ConfigOptions) -> None:
    key = opts.key or ""
    value = factory.settings.get(key)
    _emit_value(factory, opts, {key: value}, value)


def run_set(factory: Factory, opts: ConfigOptions) -> None:
    from velocimex_cli.config import settings as settings_mod

    key = opts.key or ""
    factory.settings.set(key, opts.value or "")
    path = settings_mod.save(factory.settings)
    value = factory.settings.get(key)
    factory.io.status(f"Set {key} = {value} in {path}.")
    if key in ("engine_mirror", "engine_venue_config"):
        _say_when_mirrors_apply(factory, key, value)
    if opts.output not in (None, "table"):
        _emit_value(factory, opts, {key: value}, value)


def _say_when_mirrors_apply(factory: Factory, key: str, value: str) -> None:
    """A running engine keeps what it mirrors; without ccxt the next start would fail."""
    from velocimex_cli.local import mirrors

    if key == "engine_mirror" and value and not mirrors.ccxt_installed():
        factory.io.status(
            f"Note: mirroring needs ccxt, which is not installed: {mirrors.LIVE_EXTRA}"
        )
    factory.io.status(
        "The local engine takes it when vmx next starts it (a running one keeps what it"
        " mirrors: `vmx engine stop` stops it)."
    )


def run_path(factory: Factory, opts: ConfigOptions) -> None:
    from velocimex_cli.config.credentials import credentials_file
    from velocimex_cli.config.settings import config_file

    paths = {"config": str(config_file()), "credentials": str(credentials_file())}
    _emit_value(factory, opts, paths, paths["config"])
    if opts.output in (None, "table"):
        factory.io.status(f"credentials: {paths['credentials']}")


@app.command("list")
def list_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Every setting with its value (defaults included)."""
    fmt = output_format(json, output)
    execute(ctx, run_list, ConfigOptions(output=fmt), output=fmt)


@app.command("get")
def get_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The setting, e.g. output.")],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """One setting's value."""
    fmt = output_format(json, output)
    execute(ctx, run_get, ConfigOptions(key=key, output=fmt), output=fmt)


@app.command("set", cls=NumbersAsArguments)
def set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The setting, e.g. output.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="Its new value.")],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Change a setting: default_profile, output, color, confirm_notional, order_max_wait,
    engine_mirror, engine_venue_config."""
    fmt = output_format(json, output)
    execute(ctx, run_set, ConfigOptions(key=key, value=value, output=fmt), output=fmt)


@app.command("path")
def path_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Where config.toml is (and, on stderr, the credentials file)."""
    fmt = output_format(json, output)
    execute(ctx, run_path, ConfigOptions(output=fmt), output=fmt)
