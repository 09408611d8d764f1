"""`vmx engine ...`: run the embedded exchange engine and manage its API keys.

The same pattern as every other noun: each command parses its flags into an options object and
hands it to a `run_*` function through `execute`, which owns the error path (the exit-code
table; JSON errors on stderr with `--json`/`-o json`) and the factory's I/O streams.

Module-level imports stay light (typer only): the CLI root imports this at start-up. Heavy
pieces (uvicorn, fastapi, the engine) are imported inside the commands that need them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.api.exposure import TlsFiles
    from velocimex_cli.engine_record import EngineStatus

app = sub_app("Run the embedded exchange engine: serve, start, stop, status, logs, keys.")
keys_app = sub_app(
    "Manage the engine's API keys (through the running engine, or its data directory)."
)
app.add_typer(keys_app, name="keys")

DEFAULT_PORT = 7878
# Exit codes (wire/errors.ExitCode, the README's table): an engine that could not start (port
# busy, data directory in use, crashed while starting) or, for `status`, that does not run is
# UNEXPECTED (1); one whose process lives but whose API does not answer is UNREACHABLE (9).

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Engine data directory (holds engine.db). Default: the vmx data directory.",
        show_default=False,
    ),
]
AcceptDataLossOption = typer.Option(
    "--accept-data-loss",
    help="Start even though engine.db lacks commits this data directory had stored (its "
    "write-ahead log or the file itself was lost, truncated or replaced): trade on from what "
    "is there. Without it such an engine refuses to start.",
)
KEY_COLUMNS = (
    "api_key", "account", "name", "permissions", "ip_allow", "created_at", "expires_at", "state",
)  # fmt: skip
AUDIT_COLUMNS = ("time", "who", "account", "address", "action", "target", "details")


def _data_dir(data_dir: Path | None) -> Path:
    from velocimex_cli import paths

    return (data_dir or paths.engine_data_dir()).expanduser().resolve()


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
    accept_data_loss: Annotated[bool, AcceptDataLossOption] = False,
) -> None:
    """Run the engine's API server in the foreground (Ctrl-C stops it).

    Only one engine may serve a data directory: a second one exits 1 naming the first. Beyond
    loopback it serves TLS (--tls-cert, --tls-key) unless --insecure-http is given; at start
    it says on stderr who can reach it, over what, and with how many keys. It removes
    VMX_API_KEY, VMX_API_SECRET and other VMX_* secrets from its environment.
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
    execute(ctx, run_serve, opts)


# ---------------------------------------------------------------- start / stop / status


def _no_active_key(key: str) -> CommandError:
    """What `keys rotate|update` say of a key that is unknown or revoked (exit 7)."""

    return CommandError(
        f"no active key {key!r} (unknown or revoked); see `vmx engine keys list`",
        exit_code=ExitCode.NOT_FOUND,
        code="NOT_FOUND",
    )


def _key_detail(key: dict[str, Any]) -> Any:
    """A key as `keys create|rotate|update` print it (no secret unless the record has one)."""
    from velocimex_cli.render.tables import detail_table

    shown = {**key, "permissions": ",".join(key["permissions"])}
    shown["expires_at"] = shown["expires_at"] or "never"
    return detail_table(shown)


@dataclass
class StartOptions:
    data_dir: Path | None
    seed: int
    always_open: bool
    rate_limit: bool
    output: str | None
    port: int = 0
    accept_data_loss: bool = False


def _status_record(status: EngineStatus, healthy: bool = True) -> dict[str, Any]:
    return {"running": True, "healthy": healthy, **status.to_dict()}


def _emit_status(factory: Factory, record: dict[str, Any], output: str | None) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import detail_table

        shown = dict(payload)
        if shown.get("running") and shown.get("data_dir") is None:
            shown["data_dir"] = "(in memory)"
        return detail_table(shown)

    emit(factory.io, record, factory.output_format(output), table)


def run_start(factory: Factory, opts: StartOptions) -> int | None:
    from velocimex_cli.local import launcher

    running = launcher.status()
    if running is not None and launcher.healthy(running.url, tls_cert=running.tls_cert):
        wanted = None if opts.data_dir is None else str(_data_dir(opts.data_dir))
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
    extra = ["--seed", str(opts.seed)]
    if opts.always_open:
        extra.append("--always-open")
    if not opts.rate_limit:
        extra.append("--no-rate-limit")
    if opts.accept_data_loss:
        extra.append("--accept-data-loss")
    try:
        started = launcher.ensure_running(_data_dir(opts.data_dir), extra, port=opts.port)
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
    accept_data_loss: Annotated[bool, AcceptDataLossOption] = False,
) -> None:
    """Start the engine in the background (exit 1, naming it, if one already runs)."""
    fmt = output_format(json, output)
    opts = StartOptions(
        data_dir=data_dir,
        seed=seed,
        always_open=always_open,
        rate_limit=not no_rate_limit,
        output=fmt,
        port=port,
        accept_data_loss=accept_data_loss,
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


# ---------------------------------------------------------------- keys


class _KeyAccess:
    """Keys of one engine: through the running engine's local key endpoint when it is the one
    asked for (required for an in-memory engine), else in the data directory's database.

    Changes made on the database directly are written to the data directory's audit log as
    made by "cli"; the engine writes those made through its endpoint ("local admin").
    """

    def __init__(self, data_dir: Path | None) -> None:
        from velocimex_cli.local import launcher

        self.engine = None
        self.data_dir = _data_dir(data_dir)
        running = launcher.status()
        if running is not None and running.admin_token:  # (an older engine has no endpoint)
            serves_default = data_dir is None and running.data_dir in (None, str(self.data_dir))
            if serves_default or running.data_dir == str(self.data_dir):
                self.engine = running

    def _audit(self, store: Any, action: str, target: str, details: dict[str, Any]) -> None:
        from velocimex_cli.engine import audit

        actor = audit.Actor(audit.CLI)
        audit.record(self.data_dir, actor, action, target, store.now(), details)

    def create(
        self, account: str, name: str, permissions: str, ip: list[str], expires_in: int | None
    ) -> dict[str, Any]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            perms = [p.strip() for p in permissions.split(",")]
            body: dict[str, Any] = {
                "account": account, "name": name, "permissions": perms, "ip_allow": ip,
            }  # fmt: skip
            if expires_in is not None:
                body["expires_in"] = expires_in
            return local_keys.admin_request(self.engine, "POST", local_keys.LOCAL_KEYS_PATH, body)
        from velocimex_cli.engine.api.local_keys import created_details

        store = _key_store(self.data_dir)
        try:
            made = store.create(account, name, permissions, ip, expires_in)
            self._audit(store, "key.create", made.api_key, created_details(made.info))
        finally:
            store.close()
        return {**made.info.to_wire(), "api_secret": made.api_secret}

    def list(self) -> list[dict[str, Any]]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            keys = local_keys.admin_request(self.engine, "GET", local_keys.LOCAL_KEYS_PATH)
            return list(keys.get("keys") or [])
        store = _key_store(self.data_dir)
        try:
            return [info.to_wire() for info in store.list()]
        finally:
            store.close()

    def revoke(self, key: str) -> bool:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            return local_keys.revoke_key(self.engine, key)
        from velocimex_cli.wire.errors import NotFound

        store = _key_store(self.data_dir)
        try:
            if store.get(key) is None:
                raise NotFound(f"No API key {key}", {"api_key": key})
            revoked = bool(store.revoke(key))
            if revoked:
                self._audit(store, "key.revoke", key, {})
            return revoked
        finally:
            store.close()

    def update(
        self, key: str, permissions: str | None, expiry: tuple[bool, int | None]
    ) -> dict[str, Any]:
        """Change a key's permissions and/or expiry (`expiry`: (change it?, lifetime))."""
        change_expiry, lifetime = expiry
        if self.engine is not None:
            from urllib.parse import quote

            from velocimex_cli.local import keys as local_keys

            body: dict[str, Any] = {}
            if permissions is not None:
                body["permissions"] = [p.strip() for p in permissions.split(",")]
            if change_expiry:
                body["expires_in"] = lifetime
            path = f"{local_keys.LOCAL_KEYS_PATH}/{quote(key, safe='')}"
            return local_keys.admin_request(self.engine, "PATCH", path, body)
        store = _key_store(self.data_dir)
        try:
            info = store.get(key)
            if info is None or not info.active:
                from velocimex_cli.wire.errors import NotFound

                raise NotFound(f"No active API key {key}", {"api_key": key})
            if permissions is not None:
                before = list(info.permissions)
                info = store.set_permissions(key, permissions)
                details = {"permissions": list(info.permissions), "before": before}
                self._audit(store, "key.permissions", key, details)
            if change_expiry:
                info = store.set_expiry(key, lifetime)
                self._audit(store, "key.expiry", key, {"expires_at": info.expires_at})
            return dict(info.to_wire())
        finally:
            store.close()

    def rotate(self, key: str, grace: int) -> dict[str, Any]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            return local_keys.rotate_key(self.engine, key, grace)
        store = _key_store(self.data_dir)
        try:
            rotated = store.rotate(key, grace)
            info = rotated.info
            details = {"grace_seconds": grace, "previous_until": info.previous_until,
                       "expires_at": info.expires_at}  # fmt: skip
            self._audit(store, "key.rotate", key, details)
        finally:
            store.close()
        return {**info.to_wire(), "api_secret": rotated.api_secret}


def _key_store(data_dir: Path) -> Any:
    """The data directory's key store; a database it cannot use is a clear error, exit 1."""
    from velocimex_cli.engine.keys import KeyStore
    from velocimex_cli.engine.store import StoreError

    try:
        return KeyStore.open(data_dir)
    except StoreError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.UNEXPECTED, code="STORE_ERROR") from None


@dataclass
class KeysCreateOptions:
    data_dir: Path | None
    account: str
    name: str
    permissions: str
    ip: list[str]
    output: str | None
    expires_in: str | None = None


def run_keys_create(factory: Factory, opts: KeysCreateOptions) -> int | None:
    from velocimex_cli.cli.durations import parse_duration
    from velocimex_cli.engine.keys import LOCAL_PROFILE_KEY_NAME, MAX_LIFETIME_SECONDS
    from velocimex_cli.output.formats import emit

    lifetime = None
    if opts.expires_in is not None:
        lifetime = parse_duration(
            opts.expires_in, "--expires-in", maximum=MAX_LIFETIME_SECONDS, bare_seconds=False,
            minimum=1,
        )  # fmt: skip
    if opts.name.strip() == LOCAL_PROFILE_KEY_NAME:
        from velocimex_cli.engine.api.local_keys import RESERVED_NAME

        raise CommandError(f"--name: {RESERVED_NAME}")
    access = _KeyAccess(opts.data_dir)
    created = access.create(opts.account, opts.name, opts.permissions, opts.ip, lifetime)
    record = {
        "api_key": created["api_key"],
        "api_secret": created["api_secret"],
        "account": created["account"],
        "permissions": list(created["permissions"]),
        "expires_at": created.get("expires_at"),
    }

    emit(factory.io, record, factory.output_format(opts.output), _key_detail)
    factory.io.status(
        f"Key for account {record['account']!r} ({', '.join(record['permissions'])}). The"
        " secret is shown only now: store it safely (e.g. `vmx auth login`). A new account is"
        " opened with sandbox funds on the key's first use."
    )
    if record["expires_at"]:
        factory.io.status(
            f"It expires at {record['expires_at']}; renew it before then with"
            f" `vmx engine keys rotate {record['api_key']}` (or `vmx auth rotate`)."
        )
    return None


@keys_app.command("create")
def keys_create_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    account: Annotated[str, typer.Option(help="Account the key trades for.")] = "local",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    permissions: Annotated[
        str,
        typer.Option(
            help="Comma-separated: read, trade, strategies (strategies: may add, replace and"
            " remove strategy code; not given unless asked for)."
        ),
    ] = "read,trade",
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="Allow only this address or CIDR block (repeatable)."),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Lifetime, e.g. 90d, 12h, 30m, 45s (default: never expires).",
            show_default=False,
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Create an API key; its secret is shown once, now."""
    fmt = output_format(json, output)
    opts = KeysCreateOptions(
        data_dir=data_dir,
        account=account,
        name=name,
        permissions=permissions,
        ip=list(ip or ()),
        output=fmt,
        expires_in=expires_in,
    )
    execute(ctx, run_keys_create, opts, output=fmt)


@dataclass
class KeysListOptions:
    data_dir: Path | None
    output: str | None


def _key_state(key: dict[str, Any], now: Any) -> str:
    from velocimex_cli.wire.timefmt import parse_iso

    if key["revoked_at"] is not None:
        return f"revoked {key['revoked_at']}"
    if key.get("expires_at") and parse_iso(key["expires_at"]) <= now:
        return "expired"
    if key.get("previous_until") and parse_iso(key["previous_until"]) > now:
        return f"active (old secret until {key['previous_until']})"
    return "active"


def run_keys_list(factory: Factory, opts: KeysListOptions) -> int | None:
    from datetime import UTC, datetime

    from velocimex_cli.output.formats import emit

    now = datetime.now(UTC)

    keys = _KeyAccess(opts.data_dir).list()
    fmt = factory.output_format(opts.output)
    if not keys and fmt == "table":
        factory.io.status("No API keys. Create one with `vmx engine keys create`.")

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import records_table

        rows = [
            {
                **key,
                "permissions": ",".join(key["permissions"]),
                "ip_allow": ",".join(key["ip_allow"]) or "any IP",
                "expires_at": key.get("expires_at") or "never",
                "state": _key_state(key, now),
            }
            for key in payload["keys"]
        ]
        return records_table(rows, KEY_COLUMNS)

    emit(factory.io, {"keys": keys}, fmt, table)
    return None


@keys_app.command("list")
def keys_list_command(
    ctx: typer.Context, data_dir: DataDirOption = None, json: JsonFlag = False,
    output: OutputOption = None,
) -> None:  # fmt: skip
    """List API keys (never their secrets)."""
    fmt = output_format(json, output)
    execute(ctx, run_keys_list, KeysListOptions(data_dir=data_dir, output=fmt), output=fmt)


@dataclass
class KeysRevokeOptions:
    key: str
    data_dir: Path | None


def run_keys_revoke(factory: Factory, opts: KeysRevokeOptions) -> int | None:
    from velocimex_cli.wire.errors import NotFound

    try:
        revoked = _KeyAccess(opts.data_dir).revoke(opts.key)
    except NotFound:
        raise CommandError(
            f"no key {opts.key!r}; see `vmx engine keys list`",
            exit_code=ExitCode.NOT_FOUND,
            code="NOT_FOUND",
        ) from None
    if revoked:
        factory.io.status(f"Key {opts.key} revoked.")
    else:
        factory.io.status(f"Key {opts.key} was already revoked.")
    return None


@keys_app.command("revoke")
def keys_revoke_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to revoke.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an API key; a running server refuses it at once."""
    execute(ctx, run_keys_revoke, KeysRevokeOptions(key=key, data_dir=data_dir))


@dataclass
class KeysUpdateOptions:
    key: str
    permissions: str | None
    expires_in: str | None
    no_expiry: bool
    data_dir: Path | None
    output: str | None


def run_keys_update(factory: Factory, opts: KeysUpdateOptions) -> int | None:
    from velocimex_cli.cli.durations import parse_duration
    from velocimex_cli.engine.keys import MAX_LIFETIME_SECONDS
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.errors import NotFound

    if opts.expires_in is not None and opts.no_expiry:
        raise CommandError("--expires-in and --no-expiry contradict each other: give one")
    if opts.permissions is None and opts.expires_in is None and not opts.no_expiry:
        raise CommandError("nothing to change: give --permissions, --expires-in or --no-expiry")
    lifetime = None
    if opts.expires_in is not None:
        lifetime = parse_duration(
            opts.expires_in, "--expires-in", maximum=MAX_LIFETIME_SECONDS, bare_seconds=False,
            minimum=1,
        )  # fmt: skip
    change_expiry = opts.expires_in is not None or opts.no_expiry
    try:
        key = _KeyAccess(opts.data_dir).update(
            opts.key, opts.permissions, (change_expiry, lifetime)
        )
    except NotFound:
        raise _no_active_key(opts.key) from None
    record = {
        "api_key": key["api_key"],
        "account": key["account"],
        "permissions": list(key["permissions"]),
        "expires_at": key.get("expires_at"),
    }

    emit(factory.io, record, factory.output_format(opts.output), _key_detail)
    factory.io.status(f"Key {record['api_key']} changed; a running engine applies it at once.")
    return None


@keys_app.command("update")
def keys_update_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to change.")],
    permissions: Annotated[
        str | None,
        typer.Option(help="Comma-separated: read, trade (replaces the key's).", show_default=False),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", help="New lifetime from now, e.g. 90d, 12h.", show_default=False
        ),
    ] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="The key never expires.")] = False,
    data_dir: DataDirOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Change a key's permissions or expiry (its secret stays)."""
    fmt = output_format(json, output)
    opts = KeysUpdateOptions(
        key=key,
        permissions=permissions,
        expires_in=expires_in,
        no_expiry=no_expiry,
        data_dir=data_dir,
        output=fmt,
    )
    execute(ctx, run_keys_update, opts, output=fmt)


@dataclass
class KeysRotateOptions:
    key: str
    grace: str | None
    data_dir: Path | None
    output: str | None


def run_keys_rotate(factory: Factory, opts: KeysRotateOptions) -> int | None:
    from velocimex_cli.cli.durations import parse_duration
    from velocimex_cli.engine.keys import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.errors import NotFound

    grace = DEFAULT_GRACE_SECONDS
    if opts.grace is not None:
        grace = parse_duration(opts.grace, "--grace", maximum=MAX_GRACE_SECONDS, bare_seconds=True)
    try:
        rotated = _KeyAccess(opts.data_dir).rotate(opts.key, grace)
    except NotFound:
        raise _no_active_key(opts.key) from None
    record = {
        "api_key": rotated["api_key"],
        "api_secret": rotated["api_secret"],
        "account": rotated["account"],
        "previous_until": rotated.get("previous_until"),
        "expires_at": rotated.get("expires_at"),
    }

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import detail_table

        shown = dict(payload)
        shown["previous_until"] = shown["previous_until"] or "(stopped at once)"
        shown["expires_at"] = shown["expires_at"] or "never"
        return detail_table(shown)

    emit(factory.io, record, factory.output_format(opts.output), table)
    until = record["previous_until"]
    factory.io.status(
        f"Key {record['api_key']} has a new secret, shown only now."
        + (
            f" The old one works until {until}: put the new one in place before then"
            " (e.g. `vmx auth login`)."
            if until
            else " The old one no longer works."
        )
    )
    return None


@keys_app.command("rotate")
def keys_rotate_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to give a new secret.")],
    grace: Annotated[
        str | None,
        typer.Option(
            "--grace",
            help="How long the old secret keeps working: seconds, or 30m, 12h, 2d"
            " (default 3600 seconds; 0 stops it at once).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Give a key a new secret (same key id); the old one works for the grace period.

    A key with a lifetime is renewed: it then expires that lifetime after the rotation.
    """
    fmt = output_format(json, output)
    execute(
        ctx,
        run_keys_rotate,
        KeysRotateOptions(key=key, grace=grace, data_dir=data_dir, output=fmt),
        output=fmt,
    )


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
    data_dir = _data_dir(opts.data_dir)
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
