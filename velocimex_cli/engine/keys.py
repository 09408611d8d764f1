"""API keys of the embedded engine, kept in the engine.db `api_keys` table.

Only a salted hash of each secret is stored: HMAC-SHA256 keyed with a random per-key salt
(secrets are 256 random bits, so no key stretching is needed), compared in constant time.
Every lookup reads the table, so a running server sees keys created or revoked by another
process (`vmx engine keys ...`) at once. Secrets never appear in reprs or listings.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from velocimex_cli.engine.store import DB_NAME, connect
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import iso

# `strategies`: may add, replace and remove user strategy code (deploying needs `trade`).
PERMISSIONS = ("read", "trade", "strategies")
DEFAULT_PERMISSIONS = ("read", "trade")  # a key made without saying which
KEY_PREFIX = "vmxk_"

_DUMMY_SALT = secrets.token_bytes(16)


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, without anything secret."""

    api_key: str
    account: str
    name: str
    permissions: tuple[str, ...]
    ip_allow: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows_ip(self, host: str | None) -> bool:
        if not self.ip_allow:
            return True
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in self.ip_allow)

    def to_wire(self) -> dict[str, object]:
        return {
            "api_key": self.api_key,
            "account": self.account,
            "name": self.name,
            "permissions": list(self.permissions),
            "ip_allow": list(self.ip_allow),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the only time the secret exists outside its owner's hands."""

    info: KeyInfo
    api_secret: str = field(repr=False)

    @property
    def api_key(self) -> str:
        return self.info.api_key


def _hash(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()


def parse_permissions(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    cleaned = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    if not cleaned:
        raise InvalidParameter(
            "permissions", value, f"Give at least one permission: {', '.join(PERMISSIONS)}"
        )
    for item in cleaned:
        if item not in PERMISSIONS:
            raise InvalidParameter(
                "permissions",
                item,
                f"Unknown permission {item!r}; use any of {', '.join(PERMISSIONS)}",
            )
    return cleaned


def parse_cidrs(values: Sequence[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidParameter(
                "ip", value, f"Not an IP address or CIDR block: {value!r} (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(out)


class KeyStore:
    def __init__(
        self, conn: sqlite3.Connection, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._conn = conn
        self._clock = clock or (lambda: datetime.now(UTC))
        self.revocations = 0  # revokes through this object, so callers can drop cached checks

    @classmethod
    def open(cls, data_dir: Path, clock: Callable[[], datetime] | None = None) -> KeyStore:
        """The key table of the engine database in `data_dir` (created if need be)."""
        return cls(connect(data_dir / DB_NAME), clock)

    @classmethod
    def in_memory(cls, clock: Callable[[], datetime] | None = None) -> KeyStore:
        return cls(connect(Path(":memory:")), clock)

    def close(self) -> None:
        self._conn.close()

    def create(
        self,
        account: str,
        name: str = "default",
        permissions: str | Iterable[str] = DEFAULT_PERMISSIONS,
        ip_allow: Sequence[str] = (),
    ) -> NewKey:
        account = account.strip()
        if not account:
            raise InvalidParameter("account", account, "The account name must not be empty")
        perms = parse_permissions(permissions)
        cidrs = parse_cidrs(ip_allow)
        api_key = KEY_PREFIX + secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        created = iso(self._clock())
        with self._conn:
            self._conn.execute(
                "INSERT INTO api_keys (key_id, account, name, salt, secret_hash, permissions,"
                " ip_allow, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    api_key,
                    account,
                    name,
                    salt,
                    _hash(salt, secret),
                    ",".join(perms),
                    json.dumps(list(cidrs)),
                    created,
                ),
            )
        info = KeyInfo(api_key, account, name, perms, cidrs, created, None)
        return NewKey(info, secret)

    def list(self, include_revoked: bool = True) -> list[KeyInfo]:
        rows = self._conn.execute(
            "SELECT key_id, account, name, permissions, ip_allow, created_at, revoked_at"
            " FROM api_keys ORDER BY created_at, key_id"
        ).fetchall()
        infos = [self._info(row) for row in rows]
        return [info for info in infos if include_revoked or info.active]

    def get(self, api_key: str) -> KeyInfo | None:
        row = self._conn.execute(
            "SELECT key_id, account, name, permissions, ip_allow, created_at, revoked_at"
            " FROM api_keys WHERE key_id = ?",
            (api_key,),
        ).fetchone()
        return self._info(row) if row else None

    def revoke(self, api_key: str) -> bool:
        """True if the key existed and was active; it stays listed as revoked."""
        with self._conn:
            cur = self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (iso(self._clock()), api_key),
            )
        self.revocations += 1
        return cur.rowcount == 1

    def verify(self, api_key: str, api_secret: str) -> KeyInfo | None:
        """The key (active or revoked) when the secret matches, else None (same work either way)."""
        row = self._conn.execute(
            "SELECT key_id, account, name, permissions, ip_allow, created_at, revoked_at,"
            " salt, secret_hash FROM api_keys WHERE key_id = ?",
            (api_key,),
        ).fetchone()
        if row is None:
            hmac.compare_digest(_hash(_DUMMY_SALT, api_secret), bytes(32))
            return None
        matches = hmac.compare_digest(_hash(bytes(row[7]), api_secret), bytes(row[8]))
        info = self._info(row[:7])
        return info if matches else None

    @staticmethod
    def _info(row: Sequence[object]) -> KeyInfo:
        key_id, account, name, permissions, ip_allow, created_at, revoked_at = row
        cidrs = tuple(json.loads(str(ip_allow))) if ip_allow else ()
        perms = tuple(p for p in str(permissions).split(",") if p)
        return KeyInfo(
            str(key_id),
            str(account),
            str(name),
            perms,
            cidrs,
            str(created_at),
            None if revoked_at is None else str(revoked_at),
        )
