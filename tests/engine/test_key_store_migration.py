"""engine.db of the previous schema (2, before key expiry and rotation) is upgraded in place:
its keys keep working, with no expiry, and can then be rotated and given lifetimes."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

from tests.conftest import FakeClock
from velocimex_cli.engine.database import DB_NAME, MIGRATIONS, SCHEMA_VERSION
from velocimex_cli.engine.keys import KeyStore

SALT = bytes(range(16))
SECRET = "an-old-secret-made-by-the-previous-vmx"


def previous_schema_db(data_dir: Path) -> None:
    """A database as vmx wrote it at schema 2, holding one key it created."""
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    for migrate in MIGRATIONS[:2]:
        migrate(db)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO api_keys (key_id, account, name, salt, secret_hash, permissions, ip_allow,"
        " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        ("vmxk_old", "alice", "legacy", SALT,
         hmac.new(SALT, SECRET.encode(), hashlib.sha256).digest(), "read,trade",
         json.dumps([]), "2026-01-01T00:00:00.000000Z"),
    )  # fmt: skip
    db.close()


def test_a_schema_2_database_is_upgraded_and_its_keys_still_work(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "engine"
    previous_schema_db(data_dir)
    store = KeyStore.open(data_dir, clock)
    try:
        info = store.verify("vmxk_old", SECRET)
        assert info is not None and info.active and info.account == "alice"
        assert info.expires_at is None and not info.expired(clock())
        assert store.verify("vmxk_old", "wrong") is None
        (listed,) = store.list()
        assert listed.to_wire()["expires_at"] is None
        assert listed.to_wire()["previous_until"] is None

        rotated = store.rotate("vmxk_old", grace_seconds=60)
        assert store.verify("vmxk_old", rotated.api_secret) is not None
        kept = store.verify("vmxk_old", SECRET)
        assert kept is not None and kept.secret_until is not None
        clock.advance(seconds=60)
        assert kept.secret_retired(clock())

        fresh = store.create("bob", expires_in=30)
        assert fresh.info.expires_at is not None
    finally:
        store.close()
    with sqlite3.connect(data_dir / DB_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3


def test_the_upgrade_keeps_columns_a_file_already_has(tmp_path: Path, clock: FakeClock) -> None:
    """A file whose version number was set back (or an upgrade interrupted and redone)."""
    data_dir = tmp_path / "engine"
    KeyStore.open(data_dir, clock).close()
    with sqlite3.connect(data_dir / DB_NAME) as db:
        db.execute("PRAGMA user_version = 2")
    store = KeyStore.open(data_dir, clock)
    try:
        made = store.create("alice", expires_in=10)
        assert store.verify(made.api_key, made.api_secret) is not None
    finally:
        store.close()
