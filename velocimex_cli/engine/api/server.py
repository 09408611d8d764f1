"""Run the API server with uvicorn in the foreground (`vmx engine serve`).

One engine per data directory: before anything opens engine.db, the server takes an exclusive
flock on `engine.lock` in the data directory and holds it for its whole life (the kernel drops
it when the process ends, kill -9 included). A second server on that directory exits at once
with code 1 (DATA_DIR_IN_USE_EXIT) and a message naming the running engine (pid, URL).

Binds the socket itself so `--port 0` yields a real port before start-up; prints the URL on
stderr once it listens; records itself in the engine record (engine.json), with the admin token of
its loopback key endpoint (engine/api/local_keys.py), when it can take the state directory's run
lock (no other recorded engine lives); shuts down gracefully on SIGINT/SIGTERM (the lifespan
closes the exchange, so everything acknowledged is durable) and removes the state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from velocimex_cli import engine_record, file_lock, paths
from velocimex_cli.engine.api import exposure
from velocimex_cli.engine.api.exposure import TlsFiles
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.wire.errors import ExitCode
from velocimex_cli.wire.timefmt import iso

DATA_DIR_IN_USE_EXIT = ExitCode.UNEXPECTED
LOCK_WAIT_SECONDS = 1.0  # absorbs the instant probes of `local.launcher.data_dir_holder`


def _quiet_ws_deprecation() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r"The `websockets` implementation is deprecated")
    warnings.filterwarnings("ignore", message=r"websockets\.legacy is deprecated")
    warnings.filterwarnings("ignore", message=r"remove second argument of ws_handler")
    warnings.filterwarnings(
        "ignore", category=DeprecationWarning, module=r"(websockets\.legacy|uvicorn\.protocols)"
    )


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_for(host: str, port: int, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def uvicorn_config(app: Any, tls: TlsFiles | None = None) -> Any:
    """How the engine is served (also used by the benchmarks' baselines, to serve them alike).

    With `tls`, uvicorn's own TLS options serve https and wss on the same socket (the files
    were checked by exposure.check_tls_files before anything was bound)."""
    import uvicorn

    from velocimex_cli.engine.api.ws.compression import websocket_protocol

    _quiet_ws_deprecation()
    tls_options: dict[str, Any] = {}
    if tls is not None:
        tls_options = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}

    return uvicorn.Config(
        app,
        loop="uvloop" if _available("uvloop") else "asyncio",
        http="httptools" if _available("httptools") else "h11",
        # uvicorn's "websockets-sansio" protocol leaves a client's close handshake unanswered
        # while frames are streaming (the client times out with 1006), so the older
        # "websockets" protocol is used (its deprecation warning silenced above), as
        # engine/api/ws/compression.py's subclass: permessage-deflate only for a peer that is
        # not on loopback.
        ws=websocket_protocol(),
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws_max_size=64 * 1024,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        server_header=False,
        # Not a proxy's backend: trusting X-Forwarded-For from loopback (uvicorn's default)
        # would let any local client claim an address on a key's IP allow-list.
        proxy_headers=False,
        **tls_options,
    )


def lock_data_dir(data_dir: Path) -> file_lock.ExclusiveLock:
    """This process's exclusive claim on `data_dir` (file_lock.LockHeld if another has it)."""
    paths.private_dir(data_dir)
    lock = file_lock.ExclusiveLock.acquire(
        engine_record.data_lock_file(data_dir), wait=LOCK_WAIT_SECONDS
    )
    lock.record(pid=os.getpid())
    return lock


def run(
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsFiles | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (https/wss with `tls`); returns the process exit code."""
    data_lock: file_lock.ExclusiveLock | None = None
    if settings.data_dir is not None:
        try:
            data_lock = lock_data_dir(settings.data_dir)
        except file_lock.LockHeld as held:
            sys.stderr.write(
                f"vmx engine: the data directory {settings.data_dir} is in use by the engine "
                f"{file_lock.describe(held.holder)}; only one engine may serve a data directory."
                " Use that engine, stop it (`vmx engine stop`), or pick another --data-dir.\n"
            )
            return DATA_DIR_IN_USE_EXIT
    try:
        if settings.data_dir is not None and not _store_opens(
            settings.data_dir, settings.accept_data_loss
        ):
            return ExitCode.UNEXPECTED
        return _serve(settings, host, port, data_lock, tls)
    finally:
        if data_lock is not None:
            data_lock.release()


def _store_opens(data_dir: Path, accept_data_loss: bool) -> bool:
    """Check and open (and migrate) the data directory's database before serving, so a file
    that cannot be used (lost commits, a damaged page, a wrong schema, not a database) is one
    clear message on stderr and exit 1, not a traceback from the server's start-up hook."""
    from velocimex_cli.engine.database import DB_NAME, StoreError
    from velocimex_cli.engine.start_checks import check_database, check_start

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        check_start(data_dir, accept_data_loss)
        check_database(data_dir / DB_NAME)
    except StoreError as exc:
        sys.stderr.write(f"vmx engine: {exc}\n")
        return False
    return True


def _serve(
    settings: ServerSettings,
    host: str,
    port: int,
    data_lock: file_lock.ExclusiveLock | None,
    tls: TlsFiles | None = None,
) -> int:
    import uvicorn

    from velocimex_cli.engine.api import local_keys
    from velocimex_cli.engine.api.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        sys.stderr.write(f"vmx engine: cannot listen on {host}:{port}: {exc.strerror}\n")
        return ExitCode.UNEXPECTED
    real_port = sock.getsockname()[1]
    url = url_for(host, real_port, tls is not None)
    admin_token = secrets.token_urlsafe(32)
    if not exposure.is_loopback_host(host):
        # Strangers' code runs only confined (engine/drivers/strategies/sandbox.py).
        settings.strategy_limits = dataclasses.replace(
            settings.strategy_limits, confinement_required=True
        )
    app = create_app(settings)
    local_keys.install(app, admin_token)
    config = uvicorn_config(app, tls)
    server = uvicorn.Server(config)
    run_lock: file_lock.ExclusiveLock | None = None

    async def main() -> None:
        nonlocal run_lock
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            started_at = iso(datetime.now(UTC))
            # Recorded before it is announced: whoever reads the line finds the state written.
            if data_lock is not None:
                data_lock.record(pid=os.getpid(), url=url, started_at=started_at)
            run_lock = _record(settings, url, started_at, admin_token, tls)
            sys.stderr.write(f"vmx engine listening on {url} (pid {os.getpid()})\n")
            _say_who_can_reach(app, host, url, tls)
            sys.stderr.flush()
        await serving

    # uvicorn re-raises the signal it caught after its graceful shutdown; with these handlers
    # in place that re-raise is harmless and we still clean up and exit 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if config.loop == "uvloop":
            import uvloop

            uvloop.run(main())
        else:
            asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if run_lock is not None:
            engine_record.clear_state(os.getpid())
            run_lock.release()
        with contextlib.suppress(OSError):
            sock.close()
    sys.stderr.write("vmx engine stopped\n")
    return ExitCode.OK if server.started else ExitCode.UNEXPECTED


def _say_who_can_reach(app: Any, host: str, url: str, tls: TlsFiles | None) -> None:
    """Where it answers, to whom, over what, with how many keys of which kind (stderr)."""
    try:
        keys = app.state.runtime.keys.list(include_revoked=False)
    except Exception as exc:  # a report, not a reason to stop serving
        logging.getLogger(__name__).warning("cannot count the API keys: %s", exc)
        keys = []
    for line in exposure.reach_report(host, url, tls, keys):
        sys.stderr.write(line + "\n")


def _record(
    settings: ServerSettings,
    url: str,
    started_at: str,
    admin_token: str,
    tls: TlsFiles | None = None,
) -> file_lock.ExclusiveLock | None:
    """Become the engine the CLI uses (engine.json + the run lock) unless a live one is."""
    try:
        run_lock = file_lock.ExclusiveLock.acquire(
            engine_record.run_lock_file(), wait=LOCK_WAIT_SECONDS
        )
    except file_lock.LockHeld:
        return None  # another recorded engine lives: leave it the CLI's engine
    except OSError as exc:
        sys.stderr.write(f"vmx engine: not recorded in the state directory: {exc}\n")
        return None
    run_lock.record(pid=os.getpid(), url=url)
    try:
        engine_record.write_state(
            engine_record.EngineStatus(
                url=url,
                pid=os.getpid(),
                data_dir=None if settings.data_dir is None else str(settings.data_dir),
                started_at=started_at,
                log_file=str(engine_record.log_file()),
                admin_token=admin_token,
                tls_cert=None if tls is None else str(tls.cert),
                mirrors=tuple(mirror.text() for mirror in settings.mirrors),
            )
        )
    except OSError as exc:
        sys.stderr.write(f"vmx engine: cannot write the state file: {exc}\n")
        run_lock.release()
        return None
    return run_lock


def data_dir_or_none(data_dir: Path | None, in_memory: bool) -> Path | None:
    if in_memory:
        return None
    return (data_dir or paths.engine_data_dir()).expanduser().resolve()
