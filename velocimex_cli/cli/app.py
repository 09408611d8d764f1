"""The `vmx` root command: global options, every noun registered, and `run()`.

Only Typer and light modules are imported here: each command imports the client, Rich
or the engine launcher when it runs, so `vmx --help` stays fast.
"""

from __future__ import annotations

import importlib.util
import os

import typer

from velocimex_cli.cli import account, auth, book, completion, markets, order, strategy
from velocimex_cli.cli import config as config_cmd
from velocimex_cli.cli.execution import factory_of

app = typer.Typer(
    name="vmx",
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
    profile: str | None = typer.Option(
        None, "--profile", "-P", help="Profile to use (env VMX_PROFILE).", show_default=False
    ),
    api_url: str | None = typer.Option(
        None, "--api-url", help="API base URL (env VMX_API_URL); overrides the profile's."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log requests to stderr (credentials masked)."
    ),
    color: str | None = typer.Option(None, "--color", help="auto, always or never."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    factory = factory_of(ctx)
    factory.flag_profile = profile
    factory.flag_api_url = api_url
    factory.verbose = verbose
    if color is not None:
        if color not in ("auto", "always", "never"):
            raise typer.BadParameter("must be auto, always or never", param_hint="'--color'")
        factory.io.color_mode = color
    else:
        try:
            factory.io.color_mode = factory.settings.get("color")
        except Exception:
            factory.io.color_mode = "auto"


app.add_typer(markets.app, name="markets")
book.register(app)
app.add_typer(order.app, name="order")
order.register_shortcuts(app)
app.add_typer(account.app, name="account")
app.add_typer(strategy.app, name="strategy")
app.add_typer(auth.app, name="auth")
app.add_typer(config_cmd.app, name="config")
completion.register(app)

# `vmx engine ...` lives in velocimex_cli/cli/engine.py (issue 3); register it once it exists.
if importlib.util.find_spec("velocimex_cli.cli.engine") is not None:
    from velocimex_cli.cli.engine import app as engine_app

    app.add_typer(engine_app, name="engine")


def run() -> None:
    if os.environ.get(completion.COMPLETE_VAR):
        # Typer registers its shell completion classes lazily; the scripts need them.
        from typer._completion_classes import completion_init

        completion_init()
    app(prog_name="vmx")
