"""The engine's audit log: who changed keys, permissions, user strategies and account limits.

`audit.log` in the engine's data directory, one JSON object per line, appended (O_APPEND) and
fsync'd record by record, mode 0600 like every file there. A record says who (`who`: the API
key id with its `account`, or "local admin" for the loopback key endpoint, or "cli" for
`vmx engine keys` on the data directory), from which address, what (`action`), on what
(`target`), when (UTC) and the new settings (`details`). It never holds a secret, a hash or a
salt: `record` refuses details named like one.

An in-memory engine (`--in-memory`) keeps nothing on disk, so it keeps no audit log either.
`vmx engine audit` reads the file (the data directory's owner may read it directly).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli import paths
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.api.operations import Call

AUDIT_FILE = "audit.log"
LOCAL_ADMIN = "local admin"
CLI = "cli"
MAX_LINE_CHARS = 64 * 1024  # longer lines are reported as damaged, not parsed
_SECRET_WORDS = ("secret", "hash", "salt", "token", "password")


@dataclass(frozen=True)
class Actor:
    """Who made a change: a key id and its account, LOCAL_ADMIN or CLI; and from where."""

    who: str
    account: str | None = None
    address: str | None = None


def audit_file(data_dir: Path) -> Path:
    return data_dir / AUDIT_FILE


def record(
    data_dir: Path | None,
    actor: Actor,
    action: str,
    target: str,
    when: datetime,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one record and fsync it (nothing when there is no data directory)."""
    if data_dir is None:
        return
    shown = dict(details or {})
    for name in shown:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"audit details may not carry {name!r}: no secrets in the log")
    entry = {
        "time": iso(when),
        "who": actor.who,
        "account": actor.account,
        "address": actor.address,
        "action": action,
        "target": target,
        "details": shown,
    }
    line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode("utf-8")
    fd = paths.open_private(audit_file(data_dir), os.O_WRONLY | os.O_APPEND)
    try:
        written = os.write(fd, line)
        if written != len(line):  # a full disk: say so rather than leave half a record
            raise OSError(f"short write to {audit_file(data_dir)}")
        os.fsync(fd)
    finally:
        os.close(fd)


def record_call(
    call: Call, action: str, target: str, details: Mapping[str, Any] | None = None
) -> None:
    """`record` for a change made through an API route, by the route's authenticated caller."""
    runtime = call.runtime
    principal = call.principal
    client = call.scope.get("client")
    actor = Actor(
        principal.api_key if principal is not None else LOCAL_ADMIN,
        principal.account if principal is not None else None,
        client[0] if client else None,
    )
    settings = runtime.settings
    record(settings.data_dir, actor, action, target, settings.clock(), details)


@dataclass(frozen=True)
class Damaged:
    """A line of the log that is not a record (cut short, edited by hand, not UTF-8)."""

    line: int
    problem: str


def read(data_dir: Path, limit: int | None = None) -> list[tuple[int, dict[str, Any] | Damaged]]:
    """The last `limit` lines (all with None) as (line number, record or Damaged)."""
    kept: deque[tuple[int, dict[str, Any] | Damaged]] = deque(maxlen=limit)
    path = audit_file(data_dir)
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            kept.append((number, _parse(number, raw)))
    return list(kept)


def _parse(number: int, raw: bytes) -> dict[str, Any] | Damaged:
    if len(raw) > MAX_LINE_CHARS:
        return Damaged(number, f"line of {len(raw)} bytes, longer than any record")
    if not raw.endswith(b"\n"):
        return Damaged(number, "cut short (no end of line): a write was interrupted")
    try:
        entry = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Damaged(number, "not UTF-8 text")
    except json.JSONDecodeError as exc:
        return Damaged(number, f"not JSON ({exc.msg} at column {exc.colno})")
    except ValueError as exc:  # not a JSON syntax error: an integer too long to convert
        return Damaged(number, f"not readable JSON ({exc})")
    if not isinstance(entry, dict) or not isinstance(entry.get("action"), str):
        return Damaged(number, "JSON, but not an audit record (no action)")
    return entry
