"""Start, find and stop the background engine; provision a local API key.

Light on purpose: the CLI imports this at start-up, so nothing heavy (fastapi, uvicorn, the
engine) is imported here. State lives under paths.state_dir(): `engine.json` (url, pid, data
directory, start time, log file), written by the server once it listens, and `engine.log`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from velocimex_cli import paths

STATE_FILE = "engine.json"
LOG_FILE = "engine.log"
LOCK_FILE = "engine.lock"
START_TIMEOUT_SECONDS = 30.0


class EngineStartError(RuntimeError):
    """The background engine did not come up; the message quotes the end of its log."""


@dataclass(frozen=True)
class EngineStatus:
    url: str
    pid: int
    data_dir: str | None
    started_at: str
    log_file: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def state_file() -> Path:
    return paths.state_dir() / STATE_FILE


def log_file() -> Path:
    return paths.state_dir() / LOG_FILE


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


def read_state() -> EngineStatus | None:
    """The recorded engine, without checking that it still runs."""
    try:
        raw = json.loads(state_file().read_text(encoding="utf-8"))
        return EngineStatus(
            url=str(raw["url"]),
            pid=int(raw["pid"]),
            data_dir=None if raw.get("data_dir") is None else str(raw["data_dir"]),
            started_at=str(raw["started_at"]),
            log_file=str(raw.get("log_file") or log_file()),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(status: EngineStatus) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status.to_dict(), indent=2), encoding="utf-8")
    tmp.replace(path)


def clear_state(pid: int | None = None) -> None:
    """Remove the state file (only if it still names `pid`, when given)."""
    current = read_state()
    if pid is not None and current is not None and current.pid != pid:
        return
    with contextlib.suppress(FileNotFoundError):
        state_file().unlink()


def status() -> EngineStatus | None:
    """The running background engine, or None; a stale state file is removed."""
    current = read_state()
    if current is None:
        if state_file().exists():
            clear_state()
        return None
    if not pid_alive(current.pid):
        clear_state(current.pid)
        return None
    return current


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/v1/health", timeout=timeout) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    """One starter at a time, so two `vmx` calls never start two engines."""
    lock_path = paths.state_dir() / LOCK_FILE
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def serve_command(data_dir: Path | None, extra: Sequence[str] = ()) -> list[str]:
    command = [sys.executable, "-m", "velocimex_cli.cli.engine", "serve", "--port", "0"]
    if data_dir is None:
        command.append("--in-memory")
    else:
        command += ["--data-dir", str(data_dir)]
    return [*command, *extra]


def ensure_running(
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = START_TIMEOUT_SECONDS,
) -> EngineStatus:
    """The running engine, starting one detached in the background if none runs.

    `data_dir=None` means the default engine data directory (paths.engine_data_dir()).
    """
    with _start_lock():
        current = status()
        if current is not None:
            # A recorded, live engine: give it the start-up time to answer before giving up.
            deadline = time.monotonic() + timeout
            while not healthy(current.url):
                if not pid_alive(current.pid):
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
        log_path = log_file()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                serve_command(target, extra_args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EngineStartError(
                    f"The engine exited with code {process.returncode} while starting.\n"
                    + _log_tail(log_path)
                )
            recorded = read_state()
            if recorded is not None and recorded.pid == process.pid and healthy(recorded.url):
                return recorded
            time.sleep(0.05)
        process.terminate()
        raise EngineStartError(
            f"The engine did not answer within {timeout:g} s.\n" + _log_tail(log_path)
        )


def stop(timeout: float = 10) -> bool:
    """Stop the background engine gracefully (SIGTERM, then SIGKILL). False if none ran."""
    current = status()
    if current is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(current.pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(current.pid, signal.SIGKILL)
            time.sleep(0.1)
            break
        time.sleep(0.05)
    clear_state(current.pid)
    return True


def provision_key(
    account: str = "local",
    name: str = "vmx-local",
    permissions: Sequence[str] = ("read", "trade"),
    data_dir: Path | None = None,
) -> tuple[str, str]:
    """Create an API key in the engine database (the server sees it at once): (key, secret)."""
    from velocimex_cli.engine.keys import KeyStore

    store = KeyStore.open(Path(data_dir) if data_dir is not None else paths.engine_data_dir())
    try:
        created = store.create(account, name, permissions)
    finally:
        store.close()
    return created.api_key, created.api_secret


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"Last lines of {path}:\n{tail}"
