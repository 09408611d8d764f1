"""`vmx engine ...`: run the embedded exchange engine (serve, start, stop, status, logs, audit);
its API keys are engine_keys'.

The same pattern as every other noun: each command parses its flags into an options object and
hands it to a `run_*` function through `execute`, which owns the error path (the exit-code
table; JSON errors on stderr with `--json`/`-o json`) and the factory's I/O streams. This
module holds the commands; what they run is engine_serve's (serve), engine_lifecycle's
(start, stop, status) and engine_logs' (logs, audit), imported when a command runs.

Module-level imports stay light (typer only): the CLI root imports this at start-up. Heavy
pieces (uvicorn, starlette, the engine) are imported inside the commands that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from velocimex_cli.cli.engine_keys import keys_app
from velocimex_cli.cli.engine_options import (
    AcceptDataLossOption,
    AlwaysOpenOption,
    DataDirOption,
    MirrorOption,
    NoRateLimitOption,
    SeedOption,
    VenueConfigOption,
)
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    FollowFlag,
    JsonFlag,
    OutputOption,
    output_format,
    sub_app,
)

app = sub_app("Run the embedded exchange engine: serve, start, stop, status, logs, keys.")
app.add_typer(keys_app, name="keys")

DEFAULT_PORT = 7878


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless told otherwise.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = DEFAULT_PORT,
    data_dir: DataDirOption = None,
    in_memory: Annotated[
        bool, typer.Option("--in-memory", help="Keep nothing on disk (state is lost on exit).")
    ] = False,
    seed: SeedOption = 42,
    always_open: AlwaysOpenOption = False,
    no_rate_limit: NoRateLimitOption = False,
    no_simulate: Annotated[
        bool, typer.Option("--no-simulate", help="Do not run the market simulator.")
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            help="Serve https/wss with this PEM certificate (and chain). Required, with "
            "--tls-key, on a --host beyond loopback.",
            show_default=False,
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key", help="The certificate's unencrypted PEM private key.", show_default=False
        ),
    ] = None,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="Serve plain HTTP on a --host beyond loopback (keys and secrets in clear).",
        ),
    ] = False,
    accept_data_loss: AcceptDataLossOption = False,
    mirror: MirrorOption = None,
    venue_config: VenueConfigOption = None,
) -> None:
    """Run the engine's API server in the foreground (Ctrl-C stops it).

    Only one engine may serve a data directory: a second one exits 1 naming the first. Beyond
    loopback it serves TLS (--tls-cert, --tls-key) unless --insecure-http is given; at start
    it says on stderr who can reach it, over what, and with how many keys. It removes
    VMX_API_KEY, VMX_API_SECRET and other VMX_* secrets from its environment. With --mirror
    it mirrors real exchanges (it does not read the engine_mirror setting: `vmx engine start`
    and the engine vmx starts by itself do).
    """
    from velocimex_cli.cli.engine_serve import ServeOptions, run_serve

    opts = ServeOptions(
        host=host,
        port=port,
        data_dir=data_dir,
        in_memory=in_memory,
        seed=seed,
        always_open=always_open,
        rate_limit=not no_rate_limit,
        simulate=not no_simulate,
        tls_cert=tls_cert,
        tls_key=tls_key,
        insecure_http=insecure_http,
        accept_data_loss=accept_data_loss,
        mirror=list(mirror or []),
        venue_config=venue_config,
    )
    execute(ctx, run_serve, opts)


@app.command("start")
def start_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    seed: SeedOption = 42,
    always_open: AlwaysOpenOption = False,
    no_rate_limit: NoRateLimitOption = False,
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Loopback port (default: the engine's last port when free, else any).",
        ),
    ] = 0,
    json: JsonFlag = False,
    output: OutputOption = None,
    accept_data_loss: AcceptDataLossOption = False,
    mirror: MirrorOption = None,
    venue_config: VenueConfigOption = None,
) -> None:
    """Start the engine in the background (exit 1, naming it, if one already runs).

    Without --mirror it mirrors what the engine_mirror setting names (nothing by default).
    """
    from velocimex_cli.cli.engine_lifecycle import StartOptions, run_start

    fmt = output_format(json, output)
    opts = StartOptions(
        data_dir=data_dir,
        seed=seed,
        always_open=always_open,
        rate_limit=not no_rate_limit,
        output=fmt,
        port=port,
        accept_data_loss=accept_data_loss,
        mirror=list(mirror or []),
        venue_config=venue_config,
    )
    execute(ctx, run_start, opts, output=fmt)


@app.command("stop")
def stop_command(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait before killing it.")] = 10.0,
) -> None:
    """Stop the background engine gracefully."""
    from velocimex_cli.cli.engine_lifecycle import StopOptions, run_stop

    execute(ctx, run_stop, StopOptions(timeout=timeout))


@app.command("status")
def status_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Whether the engine runs and answers, where, since when, with which data directory.

    Exit 0 running, 1 not running, 9 running but not answering.
    """
    from velocimex_cli.cli.engine_lifecycle import StatusOptions, run_status

    fmt = output_format(json, output)
    execute(ctx, run_status, StatusOptions(output=fmt), output=fmt)


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    follow: FollowFlag = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show first.")] = 50,
) -> None:
    """Show the background engine's log."""
    from velocimex_cli.cli.engine_logs import LogsOptions, run_logs

    execute(ctx, run_logs, LogsOptions(follow=follow, lines=lines))


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="The last N records.")] = 50,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Show the audit log: changes of keys, strategies and account limits, newest last."""
    from velocimex_cli.cli.engine_logs import AuditOptions, run_audit

    fmt = output_format(json, output)
    execute(ctx, run_audit, AuditOptions(data_dir=data_dir, limit=limit, output=fmt), output=fmt)


if __name__ == "__main__":
    app()
