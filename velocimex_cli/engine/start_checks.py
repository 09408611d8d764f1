"""Checks before the engine trusts its data directory: no commit it had stored is missing
from the database (`check_start`, against the commit record kept beside it,
engine/commit_record.py), and the database is neither damaged nor of a wrong schema
(`check_database`). A lost log or a replaced, emptied or damaged file stops the engine with
one clear message instead of trading on an older state.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote

from velocimex_cli.engine.commit_record import CommitRecord, DamagedRecord, read_record
from velocimex_cli.engine.database import DB_NAME, StoreError, connect, unusable

log = logging.getLogger("vmx.engine.store")


class DataLoss(StoreError):
    """Commits the data directory had stored are missing from its database."""


def _stored_position(db_path: Path) -> CommitRecord | None:
    """The id and epoch engine.db holds; None if it is missing, empty or holds no engine data.
    Reads only (SQLite may replay the log into its index, which changes no data)."""
    try:
        if db_path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(db_path))}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise unusable(db_path, f"cannot be opened ({exc})") from None
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            return None
        meta = dict(connection.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                       ("database_id", "epoch")).fetchall())  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise unusable(db_path, f"is not a usable engine database ({exc})") from None
    finally:
        connection.close()
    if "database_id" not in meta:
        return None
    return CommitRecord(meta["database_id"], int(meta.get("epoch", 0)))


def check_start(data_dir: Path, accept_data_loss: bool = False) -> None:
    """Refuse (DataLoss) a database that lacks commits its data directory had stored: the
    write-ahead log deleted, truncated or damaged; engine.db deleted, emptied or replaced.
    With `accept_data_loss` the loss is logged and the engine starts from what is there.
    A brand-new data directory, and one from before the record existed, pass."""
    db_path = data_dir / DB_NAME
    try:
        record = read_record(data_dir)
    except DamagedRecord as exc:
        problem: str | None = f"{exc}, so lost commits cannot be ruled out"
        record = None
    else:
        if record is None:
            return
        problem = _missing(db_path, record)
    if problem is None:
        return
    if accept_data_loss:
        log.warning("starting with data loss accepted (--accept-data-loss): %s", problem)
        _set_aside_orphaned_log(db_path)
        return
    raise DataLoss(
        f"{problem}. The engine refuses to trade on an older state; nothing was changed. "
        f"Restore {data_dir} from a backup, or start from what is there with "
        "`vmx engine serve --accept-data-loss` (or `vmx engine start --accept-data-loss`)"
    )


def _missing(db_path: Path, record: CommitRecord) -> str | None:
    """What the database lacks of `record`, in words (None: nothing)."""
    stored = _stored_position(db_path)
    wal = f"{db_path.name}-wal"
    if stored is None:
        state = "missing" if not db_path.exists() else "empty (it holds no engine data)"
        return (
            f"{db_path} is {state}, but this data directory had stored commits up to "
            f"epoch {record.epoch}: every order, fill and balance stored there is missing"
        )
    if stored.database_id != record.database_id:
        return (
            f"{db_path} is not the database this data directory stored to (its id is "
            f"{stored.database_id}, the record's {record.database_id}): it was replaced"
        )
    if stored.epoch < record.epoch:
        return (
            f"{db_path} ends at commit epoch {stored.epoch}, but commits up to epoch "
            f"{record.epoch} had been stored: its write-ahead log ({wal}) is missing, "
            "truncated or damaged, and acknowledged orders, fills or balances are lost"
        )
    return None


def _set_aside_orphaned_log(db_path: Path) -> None:
    """A log without its database must not be replayed into a new one: rename it."""
    if db_path.exists() and db_path.stat().st_size > 0:
        return
    for suffix in ("-wal", "-shm"):
        orphan = db_path.with_name(db_path.name + suffix)
        if orphan.exists():
            orphan.replace(orphan.with_name(orphan.name + ".orphaned"))


def check_database(db_path: Path) -> None:
    """One clear StoreError for a damaged database (a page that fails SQLite's checks) or a
    schema this vmx cannot use (a table or column missing), before anything trusts it."""
    connection = connect(db_path)
    try:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            said = "; ".join(" ".join(problem.split()) for problem in problems)
            raise unusable(db_path, f"is damaged ({said})")
        expected = connect(Path(":memory:"))
        try:
            for (table,) in expected.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                wanted = {row[1] for row in expected.execute(f"PRAGMA table_info({table})")}
                have = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                if not wanted <= have:
                    lacking = ", ".join(sorted(wanted - have))
                    raise unusable(db_path, f"has a wrong schema (table {table} lacks {lacking})")
        finally:
            expected.close()
    finally:
        connection.close()
