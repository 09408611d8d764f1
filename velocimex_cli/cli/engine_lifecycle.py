"""`vmx engine start|stop|status`: the background engine started (refused, naming it, when one
already runs), stopped, and asked whether it runs and answers.

Exit codes (wire/errors.ExitCode, the README's table): an engine that could not start (port
busy, data directory in use, crashed while starting) or, for `status`, that does not run is
UNEXPECTED (1); one whose process lives but whose API does not answer is UNREACHABLE (9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail
from velocimex_cli.cli.engine_options import resolved_data_dir
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine_record import EngineStatus
    from velocimex_cli.local.mirrors import MirrorChoice


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
        shown = dict(payload)
        if shown.get("running") and shown.get("data_dir") is None:
            shown["data_dir"] = "(in memory)"
        if shown.get("running") and not shown.get("mirrors"):
            shown["mirrors"] = "(none: every exchange is simulated)"
        return record_detail(shown)

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
