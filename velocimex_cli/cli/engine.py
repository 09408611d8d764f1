"""`vmx engine ...`: run the embedded exchange engine (serve, start, stop, status, logs, audit);
its API keys are engine_keys'.

The same pattern as every other noun: each command parses its flags into an options object and
hands it to a `run_*` function through `execute`, which owns the error path (the exit-code
table; JSON errors on stderr with `--json`/`-o json`) and the factory's I/O streams.

Module-level imports stay light (typer only): the CLI root imports this at start-up. Heavy
pieces (uvicorn, starlette, the engine) are imported inside the commands that need them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.engine_keys import keys_app
from velocimex_cli.cli.engine_options import (
    AcceptDataLossOption,
    DataDirOption,
    MirrorOption,
    VenueConfigOption,
    resolved_data_dir,
)
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.api.exposure import TlsFiles
    from velocimex_cli.engine_record import EngineStatus
    from velocimex_cli.local.mirrors import MirrorChoice

app = sub_app("Run the embedded exchange engine: serve, start, stop, status, logs, keys.")
app.add_typer(keys_app, name="keys")

DEFAULT_PORT = 7878
# Exit codes (wire/errors.ExitCode, the README's table): an engine that could not start (port
# busy, data directory in use, crashed while starting) or, for `status`, that does not run is
# UNEXPECTED (1); one whose process lives but whose API does not answer is UNREACHABLE (9).

AUDIT_COLUMNS = ("time", "who", "account", "address", "action", "target", "details")


# ---------------------------------------------------------------- serve


@dataclass
class ServeOptions:
    host: str
    port: int
    data_dir: Path | None
    in_memory: bool
    seed: int
    always_open: bool
    rate_limit: bool
    simulate: bool
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    accept_data_loss: bool = False
    mirror: list[str] = field(default_factory=list)
    venue_config: Path | None = None


def mirror_choice(mirror: list[str], venue_config: Path | None) -> MirrorChoice:
    """`--mirror`/`--venue-config` checked before anything starts: exit 2 with the reason
    (a malformed value, an unreadable config, ccxt not installed)."""
    from velocimex_cli.local import mirrors

    try:
        return mirrors.choose(mirror, venue_config)
    except mirrors.MirrorSpecError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.USAGE, code="MIRROR_SPEC") from None


def _serving_tls(factory: Factory, opts: ServeOptions) -> TlsFiles | None:
    """The certificate and key to serve, checked; refuses plain HTTP beyond loopback unless
    --insecure-http says so. All before anything binds or opens (exit 2 on a mistake)."""
    from velocimex_cli.engine.api import exposure

    if (opts.tls_cert is None) != (opts.tls_key is None):
        pair = ("--tls-cert", "--tls-key")
        given, missing = pair if opts.tls_cert else pair[::-1]
        raise CommandError(
            f"{given} needs {missing} too: TLS takes the certificate and its private key",
            exit_code=ExitCode.USAGE,
        )
    if opts.tls_cert is not None and opts.insecure_http:
        raise CommandError(
            "--insecure-http and --tls-cert contradict each other: drop --insecure-http to"
            " serve TLS, or the TLS options to serve plain HTTP",
            exit_code=ExitCode.USAGE,
        )
    if opts.tls_cert is None:
        if not opts.insecure_http and not exposure.is_loopback_host(opts.host):
            raise CommandError(
                f"--host {opts.host} is reachable from the network, and every request carries"
                " an API key and its secret: serve it over TLS with --tls-cert FILE --tls-key"
                " FILE, or pass --insecure-http to serve plain HTTP anyway (anyone on the path"
                " can read and replay the keys)",
                exit_code=ExitCode.USAGE,
                code="TLS_REQUIRED",
            )
        return None
    assert opts.tls_key is not None
    try:
        tls = exposure.check_tls_files(opts.tls_cert, opts.tls_key)
    except exposure.TlsFileError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.USAGE, code="TLS_FILE") from None
    warning = exposure.key_file_warning(tls.key)
    if warning is not None:
        factory.io.status(f"vmx engine: {warning}")
    return tls


def run_serve(factory: Factory, opts: ServeOptions) -> int | None:
    from velocimex_cli import paths

    if not 0 <= opts.port <= 65535:
        raise CommandError(f"--port must be 0-65535, not {opts.port}")
    if opts.in_memory and opts.data_dir is not None:
        raise CommandError("--in-memory keeps nothing on disk: drop --data-dir or --in-memory")
    tls = _serving_tls(factory, opts)
    choice = mirror_choice(opts.mirror, opts.venue_config)
    from velocimex_cli.secret_env import scrub_secret_env

    scrub_secret_env()  # nothing the engine runs or starts later sees them (secret_env.py)
    paths.restrict_umask()
    from velocimex_cli.engine.api.server import data_dir_or_none, run
    from velocimex_cli.engine.api.settings import ServerSettings

    settings = ServerSettings(
        data_dir=data_dir_or_none(opts.data_dir, opts.in_memory),
        seed=opts.seed,
        always_open=opts.always_open,
        rate_limit=opts.rate_limit,
        simulate=opts.simulate,
        accept_data_loss=opts.accept_data_loss,
        mirrors=choice.mirrors,
        venue_config=choice.venue_config,
    )
    return run(settings, opts.host, opts.port, tls)


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
    seed: Annotated[int, typer.Option(help="Seed of the market simulator.")] = 42,
    always_open: Annotated[
        bool, typer.Option("--always-open", help="Treat every venue as open (ignore hours).")
    ] = False,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn REST rate limiting off.")
    ] = False,
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
    opts = ServeOptions(
        host=host,
        port=port,
        data_dir=data_dir,
        in_memory=in_memory,
        seed=seed,
        always_open=always_open,
        rate_limit=not no_rate_limit,
        simulate=not no_simulate,
    )
    opts.tls_cert, opts.tls_key, opts.insecure_http = tls_cert, tls_key, insecure_http
    opts.accept_data_loss = accept_data_loss
    opts.mirror, opts.venue_config = list(mirror or []), venue_config
    execute(ctx, run_serve, opts)


# ---------------------------------------------------------------- start / stop / status


@dataclass
class StartOptions:
    data_dir: Path | None
    seed: int
    always_open: bool
    rate_limit: bool
    output: str | None
    port: int = 0
    accept_data_loss: bool = False
    mirror: list[str] = field(default_factory=list)
    venue_config: Path | None = None


def start_mirrors(factory: Factory, opts: StartOptions) -> MirrorChoice:
    """--mirror/--venue-config when given, else the engine_mirror/engine_venue_config
    settings (as for the engine vmx starts by itself); exit 2 when they cannot be used."""
    from velocimex_cli.local import mirrors

    try:
        return mirrors.from_settings(factory.settings, opts.mirror, opts.venue_config)
    except mirrors.MirrorSpecError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.USAGE, code="MIRROR_SPEC") from None


def _status_record(status: EngineStatus, healthy: bool = True) -> dict[str, Any]:
    return {"running": True, "healthy": healthy, **status.to_dict()}


def _emit_status(factory: Factory, record: dict[str, Any], output: str | None) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import detail_table

        shown = dict(payload)
        if shown.get("running") and shown.get("data_dir") is None:
            shown["data_dir"] = "(in memory)"
        if shown.get("running") and not shown.get("mirrors"):
            shown["mirrors"] = "(none: every exchange is simulated)"
        return detail_table(shown)

    emit(factory.io, record, factory.output_format(output), table)


def run_start(factory: Factory, opts: StartOptions) -> int | None:
    from velocimex_cli.local import launcher

    choice = start_mirrors(factory, opts)  # a mistake is exit 2 before anything else
    running = launcher.status()
    if running is not None and launcher.healthy(running.url, tls_cert=running.tls_cert):
        wanted = None if opts.data_dir is None else str(resolved_data_dir(opts.data_dir))
        where = running.data_dir or "no data directory (in memory)"
        if wanted is not None and running.data_dir != wanted:
            raise CommandError(
                f"an engine already runs (pid {running.pid} at {running.url}) on {where}; stop "
                "it with `vmx engine stop` before starting one on " + wanted,
                exit_code=ExitCode.UNEXPECTED,
                code="ENGINE_RUNNING",
            )
        # Nothing was started: say which engine runs, and fail so a script notices.
        _emit_status(factory, _status_record(running), opts.output)
        raise CommandError(
            f"an engine already runs on {where} (pid {running.pid} at {running.url}); "
            "`vmx engine status` shows it, `vmx engine stop` stops it",
            exit_code=ExitCode.UNEXPECTED,
            code="ENGINE_RUNNING",
        )
    extra = ["--seed", str(opts.seed), *choice.serve_args()]
    if opts.always_open:
        extra.append("--always-open")
    if not opts.rate_limit:
        extra.append("--no-rate-limit")
    if opts.accept_data_loss:
        extra.append("--accept-data-loss")
    try:
        started = launcher.ensure_running(resolved_data_dir(opts.data_dir), extra, port=opts.port)
    except launcher.EngineStartError as exc:
        raise CommandError(
            str(exc), exit_code=ExitCode.UNEXPECTED, code="ENGINE_START_FAILED"
        ) from None
    factory.io.status("Engine started.")
    _emit_status(factory, _status_record(started), opts.output)
    return None


@app.command("start")
def start_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the market simulator.")] = 42,
    always_open: Annotated[
        bool, typer.Option("--always-open", help="Treat every venue as open (ignore hours).")
    ] = False,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn REST rate limiting off.")
    ] = False,
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


@dataclass
class StopOptions:
    timeout: float


def run_stop(factory: Factory, opts: StopOptions) -> int | None:
    from velocimex_cli.local import launcher

    if opts.timeout < 0:
        raise CommandError(f"--timeout must be 0 or more seconds, not {opts.timeout:g}")
    running = launcher.status()
    if running is None:
        factory.io.status("Engine is not running.")
        return None
    launcher.stop(opts.timeout)
    factory.io.status(f"Engine stopped (was pid {running.pid} at {running.url}).")
    return None


@app.command("stop")
def stop_command(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait before killing it.")] = 10.0,
) -> None:
    """Stop the background engine gracefully."""
    execute(ctx, run_stop, StopOptions(timeout=timeout))


@dataclass
class StatusOptions:
    output: str | None


def run_status(factory: Factory, opts: StatusOptions) -> int | None:
    from velocimex_cli import engine_record
    from velocimex_cli.local import launcher

    recorded = engine_record.read_state()
    running = launcher.status()
    if running is None:
        if recorded is not None:
            factory.io.status(
                f"The engine recorded at {recorded.url} (pid {recorded.pid}) is gone: it did"
                " not stop cleanly (killed or crashed). Its state was cleared; the next command"
                " starts a fresh one."
            )
        factory.io.status("Engine is not running. Start it with `vmx engine start`.")
        fmt = factory.output_format(opts.output)
        if fmt != "table":
            _emit_status(factory, {"running": False}, fmt)
        return ExitCode.UNEXPECTED
    healthy = launcher.healthy(running.url, tls_cert=running.tls_cert)
    if healthy:
        factory.io.status("Engine running.")
    else:
        factory.io.status(
            f"The engine process (pid {running.pid}) lives but does not answer at {running.url};"
            " see `vmx engine logs`, or restart it: `vmx engine stop && vmx engine start`."
        )
    _emit_status(factory, _status_record(running, healthy), opts.output)
    return None if healthy else ExitCode.UNREACHABLE


@app.command("status")
def status_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Whether the engine runs and answers, where, since when, with which data directory.

    Exit 0 running, 1 not running, 9 running but not answering.
    """
    fmt = output_format(json, output)
    execute(ctx, run_status, StatusOptions(output=fmt), output=fmt)


# ---------------------------------------------------------------- logs


@dataclass
class LogsOptions:
    follow: bool
    lines: int


def run_logs(factory: Factory, opts: LogsOptions) -> int | None:
    from velocimex_cli import engine_record

    if opts.lines < 0:
        raise CommandError(f"--lines must be 0 or more, not {opts.lines}")
    path = engine_record.log_file()
    if not path.exists():
        raise CommandError(
            f"no engine log yet ({path}); start the engine with `vmx engine start`",
            exit_code=ExitCode.UNEXPECTED,
            code="NO_LOG",
        )
    io = factory.io
    with open(path, encoding="utf-8", errors="replace") as handle:
        tail = handle.readlines()[-opts.lines :] if opts.lines > 0 else []
        io.write("".join(tail))
        if not opts.follow:
            return None
        try:
            while True:
                line = handle.readline()
                if line:
                    io.write(line)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return None


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show first.")] = 50,
) -> None:
    """Show the background engine's log."""
    execute(ctx, run_logs, LogsOptions(follow=follow, lines=lines))


# ---------------------------------------------------------------- audit


@dataclass
class AuditOptions:
    data_dir: Path | None
    limit: int
    output: str | None


def run_audit(factory: Factory, opts: AuditOptions) -> int | None:
    from velocimex_cli.engine import audit
    from velocimex_cli.output.formats import emit

    if opts.limit < 1:
        raise CommandError(f"--limit must be 1 or more, not {opts.limit}")
    data_dir = resolved_data_dir(opts.data_dir)
    try:
        found = audit.read(data_dir, opts.limit)
    except OSError as exc:
        raise CommandError(
            f"cannot read {audit.audit_file(data_dir)}: {exc.strerror or exc}",
            exit_code=ExitCode.UNEXPECTED,
            code="AUDIT_UNREADABLE",
        ) from None
    entries: list[dict[str, Any]] = []
    damaged = 0
    for number, entry in found:
        if isinstance(entry, audit.Damaged):
            damaged += 1
            entries.append({"line": number, "damaged": entry.problem})
        else:
            entries.append({"line": number, **entry})
    fmt = factory.output_format(opts.output)
    if not entries and fmt == "table":
        factory.io.status(f"No audit records in {audit.audit_file(data_dir)}.")

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import records_table
        from velocimex_cli.wire import jsonfmt

        rows = []
        for entry in payload["entries"]:
            if "damaged" in entry:
                rows.append({"time": f"line {entry['line']}", "action": "(damaged line)",
                             "details": entry["damaged"]})  # fmt: skip
            else:
                rows.append({**entry, "details": jsonfmt.dumps(entry.get("details") or {})})
        return records_table(rows, AUDIT_COLUMNS)

    emit(factory.io, {"entries": entries}, fmt, table)
    if damaged:
        factory.io.status(
            f"{damaged} damaged line(s) in {audit.audit_file(data_dir)} (shown as such); the"
            " other records are intact."
        )
    return None


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="The last N records.")] = 50,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Show the audit log: changes of keys, strategies and account limits, newest last."""
    fmt = output_format(json, output)
    execute(ctx, run_audit, AuditOptions(data_dir=data_dir, limit=limit, output=fmt), output=fmt)


if __name__ == "__main__":
    app()
