"""Start, find and stop the background engine (the client side of the house).

Light on purpose: the CLI imports this at start-up, so nothing heavy (starlette, uvicorn, the
engine, urllib) is imported before it is needed. The engine's record (engine.json, its run lock,
the data directory's lock) is engine_record's; this module adds, in the state directory,
`engine.lock` (one starter at a time) and `provision.lock` (one key provisioning at a time).
Keys for the local profile are asked of the engine's own API (local/keys.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli import file_lock, paths
from velocimex_cli.engine_record import (
    EngineStatus,
    clear_state,
    data_lock_file,
    log_file,
    read_state,
    run_lock_file,
    state_file,
)

if TYPE_CHECKING:
    import subprocess

    from velocimex_cli.config.settings import Settings

LOCK_FILE = "engine.lock"  # in the state dir: one starter at a time
PROVISION_LOCK_FILE = "provision.lock"
START_TIMEOUT_SECONDS = 30.0


class EngineStartError(RuntimeError):
    """The background engine did not come up; the message quotes the end of its log."""


class MirrorSettingError(ValueError):
    """The engine_mirror/engine_venue_config settings cannot be used to start an engine (a
    venue config that is gone or broken, ccxt not installed); nothing was started."""


def auto_start_args(settings: Settings) -> list[str]:
    """The `vmx engine serve` arguments for an engine vmx starts by itself: what the
    engine_mirror and engine_venue_config settings ask it to mirror (none when unset)."""
    if not settings.get("engine_mirror").strip():
        return []  # nothing to mirror: nothing more to import
    from velocimex_cli.local import mirrors

    try:
        return mirrors.from_settings(settings).serve_args()
    except mirrors.MirrorSpecError as exc:
        raise MirrorSettingError(str(exc)) from None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def recorded_engine_alive(current: EngineStatus) -> bool:
    """Whether the recorded engine still runs: its run lock is held and its pid is alive.

    The lock dies with the process, so a kill -9 (or a reused pid) never passes for a live
    engine. An engine recorded without a run lock (started by an older vmx) counts as alive
    only while its own health answer gives its pid.
    """
    if not pid_alive(current.pid):
        return False
    if file_lock.is_held(run_lock_file()):
        return True
    return current.admin_token is None and health_pid(current.url) == current.pid


def tls_context(tls_cert: str | None) -> Any:
    """The SSL context for a recorded https engine: its own certificate, nothing else."""
    if tls_cert is None:
        return None
    from velocimex_cli.client.tls import pinned_context

    return pinned_context(tls_cert)


def health_pid(url: str, timeout: float = 0.5) -> int | None:
    """The pid the engine at `url` reports on /v1/health (None if it does not answer)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/v1/health", timeout=timeout) as reply:
            pid = json.loads(reply.read()).get("data", {}).get("pid")
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def status() -> EngineStatus | None:
    """The running background engine, or None; a stale state file is removed."""
    current = read_state()
    if current is None:
        if state_file().exists():
            clear_state()
        return None
    if not recorded_engine_alive(current):
        clear_state(current.pid)
        return None
    return current


def healthy(url: str, timeout: float = 1.0, tls_cert: str | None = None) -> bool:
    """Whether the engine at `url` answers /v1/health (an https one verified against the
    certificate it was recorded with, `tls_cert`; a certificate file gone is "not answering")."""
    import urllib.error
    import urllib.request

    from velocimex_cli.config.settings import ConfigError

    try:
        context = tls_context(tls_cert)
    except ConfigError:
        return False
    try:
        with urllib.request.urlopen(
            url.rstrip("/") + "/v1/health", timeout=timeout, context=context
        ) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    """One starter at a time, so two `vmx` calls never start two engines."""
    with file_lock.held(paths.state_dir() / LOCK_FILE):
        yield


@contextlib.contextmanager
def provision_lock() -> Iterator[None]:
    """One local-key provisioning at a time (commands started together share one key)."""
    with file_lock.held(paths.state_dir() / PROVISION_LOCK_FILE):
        yield


def data_dir_holder(data_dir: Path) -> dict[str, Any] | None:
    """What the engine serving `data_dir` says about itself, or None when none serves it."""
    lock = data_lock_file(data_dir)
    if not file_lock.is_held(lock):
        return None
    return file_lock.read_holder(lock)


def serve_command(data_dir: Path | None, extra: Sequence[str] = (), port: int = 0) -> list[str]:
    command = [sys.executable, "-m", "velocimex_cli.cli.engine", "serve", "--port", str(port)]
    if data_dir is None:
        command.append("--in-memory")
    else:
        command += ["--data-dir", str(data_dir)]
    return [*command, *extra]


def ensure_running(
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = START_TIMEOUT_SECONDS,
    on_start: Callable[[], None] | None = None,
    port: int = 0,
) -> EngineStatus:
    """The running engine, starting one detached in the background if none runs.

    `data_dir=None` means the default engine data directory (paths.engine_data_dir()).
    `port` 0: the port the last engine on that data used when it is free, else any; another
    port: that one (EngineStartError when it is taken).
    `on_start` is called only when this call is the one that starts it (commands started
    together wait for the first one's engine; only that one says it is starting one).
    """
    with _start_lock():
        current = status()
        if current is not None:
            # A recorded, live engine: give it the start-up time to answer before giving up.
            deadline = time.monotonic() + timeout
            while not healthy(current.url, tls_cert=current.tls_cert):
                if not recorded_engine_alive(current):
                    clear_state(current.pid)
                    break
                if time.monotonic() > deadline:
                    raise EngineStartError(
                        f"The engine (pid {current.pid}) at {current.url} does not answer."
                        " Stop it with `vmx engine stop` and start again."
                    )
                time.sleep(0.05)
            else:
                return current
        target = Path(data_dir) if data_dir is not None else paths.engine_data_dir()
        holder = data_dir_holder(target)
        if holder is not None:
            raise EngineStartError(
                f"The data directory {target} is in use by the engine "
                f"{file_lock.describe(holder)}; only one engine may serve a data directory."
                " Use that engine, stop it, or pick another --data-dir."
            )
        log_path = log_file()
        asked = port
        if asked and not port_free(asked):
            raise EngineStartError(
                f"Port {asked} on 127.0.0.1 is in use by another program; pick another --port"
                " (or none: the engine takes its last port when free, else any)."
            )
        port = asked or previous_port(target)
        if on_start is not None:
            on_start()
        process, start_offset = _spawn(serve_command(target, extra_args, port), log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None and port and not asked:
                # The old port was taken between the check and the bind: any port will do.
                port = 0
                process, start_offset = _spawn(serve_command(target, extra_args), log_path)
            if process.poll() is not None:
                raise EngineStartError(
                    f"The engine exited with code {process.returncode} while starting.\n"
                    + _log_tail(log_path, start_offset)
                )
            recorded = read_state()
            if recorded is not None and recorded.pid == process.pid and healthy(recorded.url):
                return recorded
            time.sleep(0.05)
        process.terminate()
        raise EngineStartError(
            f"The engine did not answer within {timeout:g} s.\n" + _log_tail(log_path, start_offset)
        )


def previous_port(data_dir: Path) -> int:
    """The port the last engine on `data_dir` listened on, when it is free again (else 0).

    A restarted engine (after a crash, a kill -9 or a stop) comes back at the same URL, so a
    live stream that is reconnecting, or a script that kept the URL, finds it again.
    """
    note = file_lock.read_holder(data_lock_file(data_dir))
    url = note.get("url") or note.get("last_url")  # a crashed holder's, or a stopped one's
    if not isinstance(url, str):
        return 0
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port or 0
    except ValueError:
        return 0
    if parts.hostname != "127.0.0.1" or not 1024 <= port <= 65535:
        return 0
    return port if port_free(port) else 0


def port_free(port: int) -> bool:
    """Whether an engine could bind 127.0.0.1:`port` now."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _spawn(command: list[str], log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The engine process, detached, logging to `log_path`; and the log offset it starts at."""
    import subprocess

    log_fd = paths.open_private(log_path, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(log_fd, "ab") as log:
        start_offset = log.seek(0, os.SEEK_END)  # what this start writes comes after
        from velocimex_cli.secret_env import without_secrets

        process = subprocess.Popen(
            command,
            env=without_secrets(os.environ),  # the engine needs no key or secret of ours
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    return process, start_offset


def stop(timeout: float = 10) -> bool:
    """Stop the background engine gracefully (SIGTERM, then SIGKILL). False if none ran."""
    current = status()
    if current is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    # Its run lock goes the moment the process ends, before anyone reaps it.
    while recorded_engine_alive(current):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(current.pid, signal.SIGKILL)
            time.sleep(0.1)
            break
        time.sleep(0.05)
    clear_state(current.pid)
    return True


def _log_tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    """The last lines this start wrote to the log (from `offset`): an earlier run's traceback
    in the same log must not pass for the reason this start failed."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"Last lines of {path}:\n{tail}"
