"""The `vmx` root command: global options, every noun registered lazily, and `run()`.

Start-up speed: building a Click command means inspecting every function signature, so the
root lists its nouns with static help and builds a noun's commands only when it is invoked, and
then only the verb invoked (`vmx order list` builds `list`, not the other six; help, completion
of a verb and a mistyped verb build them all). Commands import the client, Rich or the engine
launcher only when they run.
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from velocimex_cli.cli.coercion import use_plain_coercion
from velocimex_cli.cli.execution import factory_of
from velocimex_cli.cli.typer_internals import group_of_one

# name -> (module, Typer app attribute, one-line help), in the order `vmx --help` lists them.
NOUNS: dict[str, tuple[str, str, str]] = {
    "markets": ("velocimex_cli.cli.markets", "app", "Session status and the instruments."),
    "book": ("velocimex_cli.cli.book", "book_app", "A snapshot of an order book."),
    "ticker": ("velocimex_cli.cli.book", "ticker_app", "Last price, best bid/ask, volume."),
    "watch": ("velocimex_cli.cli.watch", "watch_app", "Live order-book ladder, full screen."),
    "candles": ("velocimex_cli.cli.candles", "app", "Candlestick chart of an instrument's trades."),
    "order": ("velocimex_cli.cli.order", "app", "Place, cancel, list and show orders; fills."),
    "buy": ("velocimex_cli.cli.order", "buy_app", "Shortcut: order place ... buy."),
    "sell": ("velocimex_cli.cli.order", "sell_app", "Shortcut: order place ... sell."),
    "account": ("velocimex_cli.cli.account", "app", "Balances and positions."),
    "strategy": ("velocimex_cli.cli.strategy", "app", "List and deploy strategies."),
    "backtest": ("velocimex_cli.cli.backtest", "app", "Backtest a strategy; sweep its parameters."),
    "auth": ("velocimex_cli.cli.auth", "app", "API keys per profile: login, logout, status."),
    "config": ("velocimex_cli.cli.config", "app", "Settings: list, get, set, path."),
    "engine": ("velocimex_cli.cli.engine", "app", "Run the embedded exchange engine."),
    "completion": ("velocimex_cli.cli.completion", "app", "Print a shell completion script."),
    "stream": ("velocimex_cli.cli.stream", "app", "Live market data and orders as NDJSON."),
    "replay": ("velocimex_cli.cli.replay", "app", "Play back a recording made with --record."),
    "data": ("velocimex_cli.cli.data", "app", "Import public market data into recordings."),
}


class LazyNouns(TyperGroup):
    """A root group whose subcommands are built on first use, each once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (noun, verb or None) -> the noun's command, with only that verb when one is named.
        self._built: dict[tuple[str, str | None], Any] = {}
        self._verb: tuple[str, str] | None = None  # the noun and verb being resolved

    def list_commands(self, ctx: Any) -> list[str]:
        return list(NOUNS)

    def get_command(self, ctx: Any, name: str) -> Any:
        verb = self._verb[1] if self._verb is not None and self._verb[0] == name else None
        return self._noun(name, verb)

    def _noun(self, name: str, verb: str | None) -> Any:
        """The noun's command: with `verb` alone when it names one of the noun's commands
        (group_of_one), else with all of them."""
        built = self._built.get((name, verb))
        if built is not None:
            return built
        entry = NOUNS.get(name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        typer_app = getattr(importlib.import_module(module_name), attribute)
        command = group_of_one(typer_app, verb) if verb is not None else None
        if command is None:
            whole = self._built.get((name, None))
            command = whole if whole is not None else typer.main.get_command(typer_app)
            self._built[name, None] = command
        command.name = name
        self._built[name, verb] = use_plain_coercion(command)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """An unknown noun is a usage error that suggests the nearest one (`vmx orders`:
        did you mean `order`?)."""
        name = args[0] if args else ""
        if len(args) > 1 and not args[1].startswith("-"):
            self._verb = (name, args[1])
        try:
            if args and not name.startswith("-") and self.get_command(ctx, name) is None:
                import difflib

                near = difflib.get_close_matches(name, list(NOUNS), n=1, cutoff=0.6)
                hint = f" Did you mean `vmx {near[0]}`?" if near else " `vmx --help` lists them."
                ctx.fail(f"No such command {name!r}.{hint}")
            return super().resolve_command(ctx, args)
        finally:
            self._verb = None

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        use_plain_coercion(self)
        return super().parse_args(ctx, args)

    def main(self, args: Any = None, *pos: Any, **kwargs: Any) -> Any:
        """Command-line mistakes are reported as every other failure is: JSON on stderr
        when JSON output was asked for (see usage_errors)."""
        import sys

        from typer import Abort

        from velocimex_cli.cli import typer_internals as click

        if os.environ.get("_VMX_COMPLETE") or kwargs.get("standalone_mode") is False:
            return super().main(args, *pos, **kwargs)
        argv = list(sys.argv[1:] if args is None else args)
        kwargs["standalone_mode"] = False
        try:
            result = super().main(argv, *pos, **kwargs)
        except click.ClickException as exc:
            from velocimex_cli.cli import usage_errors

            sys.exit(usage_errors.report(exc, argv, _configured_output))
        except Abort:
            from velocimex_cli.wire.errors import ExitCode

            sys.stderr.write("Aborted!\n")
            sys.exit(ExitCode.UNEXPECTED)
        except BrokenPipeError:  # the reader of our output went away (`vmx ... | head -1`)
            from velocimex_cli.output.iostreams import silence_stdout
            from velocimex_cli.wire.errors import ExitCode

            silence_stdout()
            sys.exit(ExitCode.UNEXPECTED)
        sys.exit(result if isinstance(result, int) else 0)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry[2]) for name, entry in NOUNS.items()])


app = typer.Typer(
    name="vmx",
    cls=LazyNouns,
    help="vmx: the Velocimex trading terminal. With no configuration it trades on the embedded "
    "local engine (started on first use).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from velocimex_cli import __version__

        typer.echo(f"vmx {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-P", help="Profile to use (env VMX_PROFILE).", show_default=False
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="API base URL (env VMX_API_URL); overrides the profile's."),
    ] = None,
    ca_cert: Annotated[
        str | None,
        typer.Option(
            "--ca-cert",
            help="PEM file of the CA that https servers are verified against instead of the "
            "system's CAs (env VMX_CA_CERT); overrides the profile's.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log requests to stderr (credentials masked).")
    ] = False,
    color: Annotated[str | None, typer.Option("--color", help="auto, always or never.")] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    gc.enable()  # off while vmx started (main.py); on for whatever the command does
    factory = factory_of(ctx)
    factory.flag_profile = profile
    factory.flag_api_url = api_url
    factory.flag_ca_cert = ca_cert
    factory.verbose = verbose
    if color is not None:
        if color not in ("auto", "always", "never"):
            raise typer.BadParameter(
                f"{color!r} is not one of auto, always, never", param_hint="'--color'"
            )
        factory.io.color_mode = color
        factory.io.color_setting = None
    else:
        factory.io.color_setting = lambda: factory.settings.get("color")


def _configured_output() -> str | None:
    from velocimex_cli.config import settings

    return settings.load().get("output")


def run() -> None:
    if os.environ.get("_VMX_COMPLETE"):
        # Typer registers its shell completion classes lazily; the scripts need them.
        from typer.completion import completion_init

        completion_init()
    app(prog_name="vmx")
