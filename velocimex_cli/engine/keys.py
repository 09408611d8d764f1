"""API keys of the embedded engine, kept in the engine.db `api_keys` table.

Only a salted hash of each secret is stored: HMAC-SHA256 keyed with a random per-key salt
(secrets are 256 random bits, so no key stretching is needed), compared in constant time.
Every lookup reads the table, so a running server sees keys created or revoked by another
process (`vmx engine keys ...`) at once. Secrets never appear in reprs or listings.

A key may expire (`expires_at`); the API refuses it from then on. Rotating a key gives it a new
secret under the same key id: the secret that was in use stays valid for a grace period
(`previous_until`), then only the new one works. A key with a lifetime gets it again from the
rotation (expires_at = rotation time + lifetime): rotating is how a key is renewed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from velocimex_cli.engine.database import DB_NAME, connect
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import iso, parse_iso

# `strategies`: may add, replace and remove user strategy code (deploying needs `trade`).
PERMISSIONS = ("read", "trade", "strategies")
DEFAULT_PERMISSIONS = ("read", "trade")  # a key made without saying which
KEY_PREFIX = "vmxk_"
DEFAULT_GRACE_SECONDS = 3600  # how long a rotated-out secret keeps working, unless told
MAX_GRACE_SECONDS = 30 * 86400
MAX_LIFETIME_SECONDS = 10 * 365 * 86400
# The name of the keys the engine provisions for the CLI's local profile (one active at a time).
LOCAL_PROFILE_KEY_NAME = "vmx-local"

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
    expires_at: str | None = None
    rotated_at: str | None = None
    # Until when the secret that was current before the last rotation still works.
    previous_until: str | None = None
    # Set by `verify` when the secret given was the rotated-out one: when it stops working.
    secret_until: datetime | None = field(default=None, repr=False, compare=False)
    expires: datetime | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def secret_retired(self, now: datetime) -> bool:
        """True when the secret verified was rotated out and its grace period is over."""
        return self.secret_until is not None and now >= self.secret_until

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
            "expires_at": self.expires_at,
            "rotated_at": self.rotated_at,
            "previous_until": self.previous_until,
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


def check_seconds(parameter: str, value: object, maximum: int, what: str) -> int:
    """A whole number of seconds from 0 to `maximum`, or INVALID_PARAMETER saying so.

    JSON bodies give numbers as Decimal: a whole one is taken."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidParameter(
            parameter, value, f"{what} is a whole number of seconds from 0 to {maximum}"
        )
    return value


_COLUMNS = (
    "key_id, account, name, permissions, ip_allow, created_at, revoked_at, expires_at,"
    " rotated_at, previous_until"
)


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
        # FULL: a key change (a rotation above all) is answered only once it would survive a
        # power cut, not just a crash of the process.
        return cls(connect(data_dir / DB_NAME, synchronous="FULL"), clock)

    @classmethod
    def in_memory(cls, clock: Callable[[], datetime] | None = None) -> KeyStore:
        return cls(connect(Path(":memory:")), clock)

    def close(self) -> None:
        self._conn.close()

    def now(self) -> datetime:
        """The store's clock (what it stamps changes with)."""
        return self._clock()

    def create(
        self,
        account: str,
        name: str = "default",
        permissions: str | Iterable[str] = DEFAULT_PERMISSIONS,
        ip_allow: Sequence[str] = (),
        expires_in: int | None = None,
    ) -> NewKey:
        """A new key; `expires_in` seconds gives it a lifetime (None: it never expires)."""
        account = account.strip()
        if not account:
            raise InvalidParameter("account", account, "The account name must not be empty")
        perms = parse_permissions(permissions)
        cidrs = parse_cidrs(ip_allow)
        if expires_in is not None:
            expires_in = check_seconds("expires_in", expires_in, MAX_LIFETIME_SECONDS, "expires_in")
            if expires_in == 0:
                raise InvalidParameter(
                    "expires_in", 0, "A key's lifetime must be at least 1 second"
                )
        api_key = KEY_PREFIX + secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = self._clock()
        created = iso(now)
        expires = None if expires_in is None else iso(now + timedelta(seconds=expires_in))
        with self._conn:
            self._conn.execute(
                "INSERT INTO api_keys (key_id, account, name, salt, secret_hash, permissions,"
                " ip_allow, created_at, revoked_at, expires_at, lifetime_seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    api_key,
                    account,
                    name,
                    salt,
                    _hash(salt, secret),
                    ",".join(perms),
                    json.dumps(list(cidrs)),
                    created,
                    expires,
                    expires_in,
                ),
            )
        info = self.get(api_key)
        assert info is not None
        return NewKey(info, secret)

    def rotate(
        self,
        api_key: str,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
        presented_secret: str | None = None,
    ) -> NewKey:
        """A new secret for the same key id; NotFound if there is no such active key.

        The secret in use keeps working for `grace_seconds` (0: it stops at once): the one
        the caller `presented_secret` with when it is given (the API's own rotation, so a
        client that lost the answer can retry with what it has), else the current one. Any
        other older secret stops at once. A key with a lifetime is renewed: it expires its
        lifetime after the rotation.
        """
        from velocimex_cli.wire.errors import NotFound

        grace_seconds = check_seconds(
            "grace_seconds", grace_seconds, MAX_GRACE_SECONDS, "grace_seconds"
        )
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = self._clock()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            row = self._conn.execute(
                "SELECT salt, secret_hash, previous_salt, previous_hash, lifetime_seconds,"
                " expires_at FROM api_keys WHERE key_id = ? AND revoked_at IS NULL",
                (api_key,),
            ).fetchone()
            if row is None:
                raise NotFound(f"No active API key {api_key}", {"api_key": api_key})
            kept: tuple[bytes, bytes] | None = (bytes(row[0]), bytes(row[1]))
            if (
                presented_secret is not None
                and row[2] is not None
                and not hmac.compare_digest(_hash(bytes(row[0]), presented_secret), bytes(row[1]))
                and hmac.compare_digest(_hash(bytes(row[2]), presented_secret), bytes(row[3]))
            ):
                kept = (bytes(row[2]), bytes(row[3]))
            until = None
            if grace_seconds:
                until = iso(now + timedelta(seconds=grace_seconds))
            else:
                kept = None
            lifetime = row[4]
            expires = row[5] if lifetime is None else iso(now + timedelta(seconds=lifetime))
            self._conn.execute(
                "UPDATE api_keys SET salt = ?, secret_hash = ?, previous_salt = ?,"
                " previous_hash = ?, previous_until = ?, rotated_at = ?, expires_at = ?"
                " WHERE key_id = ?",
                (salt, _hash(salt, secret), kept and kept[0], kept and kept[1], until, iso(now),
                 expires, api_key),
            )  # fmt: skip
        self.revocations += 1  # a server's cached checks of the old secret must go
        info = self.get(api_key)
        assert info is not None
        return NewKey(info, secret)

    def list(self, include_revoked: bool = True) -> list[KeyInfo]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        ).fetchall()
        infos = [self._info(row) for row in rows]
        return [info for info in infos if include_revoked or info.active]

    def get(self, api_key: str) -> KeyInfo | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (api_key,)
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

    def set_permissions(self, api_key: str, permissions: str | Iterable[str]) -> KeyInfo:
        """Give an active key these permissions; NotFound if there is no such active key."""
        perms = parse_permissions(permissions)
        return self._update(api_key, "permissions = ?", (",".join(perms),))

    def set_expiry(self, api_key: str, expires_in: int | None) -> KeyInfo:
        """Give an active key a lifetime from now (None: it never expires)."""
        if expires_in is None:
            return self._update(api_key, "expires_at = NULL, lifetime_seconds = NULL", ())
        expires_in = check_seconds("expires_in", expires_in, MAX_LIFETIME_SECONDS, "expires_in")
        if expires_in == 0:
            raise InvalidParameter("expires_in", 0, "A key's lifetime must be at least 1 second")
        expires = iso(self._clock() + timedelta(seconds=expires_in))
        return self._update(api_key, "expires_at = ?, lifetime_seconds = ?", (expires, expires_in))

    def _update(self, api_key: str, assignments: str, values: tuple[object, ...]) -> KeyInfo:
        from velocimex_cli.wire.errors import NotFound

        with self._conn:
            cur = self._conn.execute(
                f"UPDATE api_keys SET {assignments} WHERE key_id = ? AND revoked_at IS NULL",
                (*values, api_key),
            )
        if cur.rowcount != 1:
            raise NotFound(f"No active API key {api_key}", {"api_key": api_key})
        self.revocations += 1  # a server's cached checks must see the change at once
        info = self.get(api_key)
        assert info is not None
        return info

    def verify(self, api_key: str, api_secret: str) -> KeyInfo | None:
        """The key (active or revoked) when the secret matches, else None (same work either way)."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS}, salt, secret_hash, previous_salt, previous_hash"
            " FROM api_keys WHERE key_id = ?",
            (api_key,),
        ).fetchone()
        if row is None:
            hmac.compare_digest(_hash(_DUMMY_SALT, api_secret), bytes(32))
            return None
        info = self._info(row[:10])
        if hmac.compare_digest(_hash(bytes(row[10]), api_secret), bytes(row[11])):
            return info
        previous = row[12]
        if (
            previous is not None
            and info.previous_until is not None
            and hmac.compare_digest(_hash(bytes(previous), api_secret), bytes(row[13]))
        ):
            return dataclasses.replace(info, secret_until=parse_iso(info.previous_until))
        return None

    @staticmethod
    def _info(row: Sequence[object]) -> KeyInfo:
        (key_id, account, name, permissions, ip_allow, created_at, revoked_at, expires_at,
         rotated_at, previous_until) = row  # fmt: skip
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
            None if expires_at is None else str(expires_at),
            None if rotated_at is None else str(rotated_at),
            None if previous_until is None else str(previous_until),
            expires=None if expires_at is None else parse_iso(str(expires_at)),
        )
