"""The local engine's record on disk: what the engine writes and the CLI reads to find it.

Both sides use this module (standard library only: the CLI imports it at start-up). Under
paths.state_dir(), private to the user:

- `engine.json` (url, pid, data directory, start time, log file, what it mirrors, and the admin
  token of the engine's loopback key endpoint), written by the engine once it listens;
- `engine.run.lock`, locked (flock) by the engine recorded in engine.json for its whole life:
  a recorded engine whose lock is free is gone (killed, crashed), whatever its pid says now;
- `engine.log`, where a background engine writes.

Each data directory has its own `engine.lock`, held by the engine serving it: a second engine
on the same directory refuses to start (engine/api/server.py), and the CLI names the holder
(local/launcher.py).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from velocimex_cli import paths

STATE_FILE = "engine.json"
LOG_FILE = "engine.log"
RUN_LOCK_FILE = "engine.run.lock"  # in the state dir: held by the recorded engine
DATA_LOCK_FILE = "engine.lock"  # in a data dir: held by the engine serving it
ADMIN_TOKEN_HEADER = "X-VMX-Admin-Token"  # the loopback key endpoint's token (docs/api.md)


@dataclass(frozen=True)
class EngineStatus:
    url: str
    pid: int
    data_dir: str | None
    started_at: str
    log_file: str
    # The token of the engine's loopback-only key endpoint: never printed (not in to_dict).
    admin_token: str | None = field(default=None, repr=False)
    # The certificate an https engine serves (--tls-cert): what this machine's vmx trusts
    # for it (client/tls.py pinned_context). None: plain HTTP.
    tls_cert: str | None = None
    # What it mirrors, as `--mirror` took it: ("binance:BTC/USDT,ETH/USDT",); empty: nothing.
    mirrors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {
            "url": self.url,
            "pid": self.pid,
            "data_dir": self.data_dir,
            "started_at": self.started_at,
            "log_file": self.log_file,
        }
        if self.tls_cert is not None:
            shown["tls_cert"] = self.tls_cert
        shown["mirrors"] = list(self.mirrors)
        return shown


def state_file() -> Path:
    return paths.state_dir() / STATE_FILE


def log_file() -> Path:
    return paths.state_dir() / LOG_FILE


def run_lock_file() -> Path:
    return paths.state_dir() / RUN_LOCK_FILE


def data_lock_file(data_dir: Path) -> Path:
    return data_dir / DATA_LOCK_FILE


def read_state() -> EngineStatus | None:
    """The recorded engine, without checking that it still runs.

    engine.json decides where the local key is sent, so it is trusted only when it is the
    user's own and nobody else may write it (paths.UnsafeFileError says what to chmod).
    """
    path = state_file()
    try:
        paths.check_owned_and_not_writable(path)
    except FileNotFoundError:
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        token = raw.get("admin_token")
        cert = raw.get("tls_cert")
        mirrors = raw.get("mirrors")
        if not isinstance(mirrors, list):
            mirrors = []  # none recorded (an older engine's record)
        return EngineStatus(
            url=str(raw["url"]),
            pid=int(raw["pid"]),
            data_dir=None if raw.get("data_dir") is None else str(raw["data_dir"]),
            started_at=str(raw["started_at"]),
            log_file=str(raw.get("log_file") or log_file()),
            admin_token=None if token is None else str(token),
            tls_cert=None if cert is None else str(cert),
            mirrors=tuple(str(mirror) for mirror in mirrors),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_state(status: EngineStatus) -> None:
    body: dict[str, Any] = {**status.to_dict(), "admin_token": status.admin_token}
    paths.write_private(state_file(), json.dumps(body, indent=2))


def clear_state(pid: int | None = None) -> None:
    """Remove the state file (only if it still names `pid`, when given)."""
    current = read_state()
    if pid is not None and current is not None and current.pid != pid:
        return
    with contextlib.suppress(FileNotFoundError):
        state_file().unlink()
