"""Lost or damaged storage is found at start, on a real engine (`vmx engine serve` subprocesses).

After acknowledged orders, a write-ahead log that is deleted, truncated or garbled, and an
engine.db that is emptied, deleted or replaced, make the engine refuse to start (exit 1, one
message saying what is missing and how to go on) instead of trading on an older state;
`--accept-data-loss` starts it from what is there. A damaged page or a wrong schema is one
message and exit 1, never a traceback. A kill -9 with the log intact and a clean restart start
as usual.

The test keeps a reader on the database while the orders are placed (a second process, as
`vmx engine keys list` would be), so the engine's background checkpoints cannot move them out
of the log before it is damaged.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import VMX, make_env, serve, stop_process, vmx

pytestmark = pytest.mark.e2e

ORDERS = 30
BUY = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit"}
BUY |= {"quantity": "0.01000", "price": "1000.00"}
_PIN = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN')\n"
    "c.execute('SELECT count(*) FROM meta').fetchone()\n"
    "print('pinned', flush=True)\n"
    "time.sleep(600)\n"
)


def serve_on(env: dict[str, str], data_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    return serve(env, "--data-dir", str(data_dir), "--no-rate-limit", *extra)


def refused_start(env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VMX, "engine", "serve", "--port", "0", "--no-simulate", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def trading_key(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    made = vmx(
        env, "engine", "keys", "create", "--data-dir", str(data_dir), "--account", "desk",
        "--name", "test", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    return {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}


def order_ids(url: str, headers: dict[str, str]) -> list[int]:
    listed = httpx.get(url + "/v1/trading/orders?status=all&limit=1000", headers=headers)
    assert listed.status_code == 200, listed.text
    return sorted(o["order_id"] for o in listed.json()["data"]["orders"])


@pytest.fixture
def crashed_with_orders(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, list[int]]]:
    """An engine that acknowledged ORDERS orders, all still only in its log, then was killed
    (kill -9); yields (env, data_dir, the acknowledged order ids)."""
    env = make_env(tmp_path / "home")
    data_dir = tmp_path / "data"
    process, url = serve_on(env, data_dir)
    pin: subprocess.Popen[str] | None = None
    try:
        headers = trading_key(env, data_dir)
        first = httpx.get(url + "/v1/account/balance", headers=headers)  # opens the account
        assert first.status_code == 200, first.text
        pin = subprocess.Popen(
            [sys.executable, "-c", _PIN, str(data_dir / "engine.db")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert pin.stdout is not None and pin.stdout.readline().strip() == "pinned"
        env["TEST_WAL_CUT"] = str(_cut(_frames_in_use(data_dir / "engine.db-wal")))
        acknowledged = []
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for _ in range(ORDERS):
                placed = client.post("/v1/trading/orders", json=BUY)
                assert placed.status_code == 201, placed.text
                acknowledged.append(placed.json()["data"]["order_id"])
                time.sleep(0.02)  # spread over several commit epochs
        assert order_ids(url, headers) == sorted(acknowledged)
        time.sleep(0.5)  # the commit record catches up (it lags by at most ~0.1 s)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if pin is not None:
            pin.send_signal(signal.SIGKILL)  # no checkpoint on close: the log stays as it is
            pin.wait()
    # the orders' frames reach past the cut, so the damage below loses some of them
    assert _cut(_frames_in_use(data_dir / "engine.db-wal")) > int(env["TEST_WAL_CUT"])
    env["TEST_HEADERS"] = json.dumps(headers)
    yield env, data_dir, sorted(acknowledged)
    vmx(env, "engine", "stop")


def _delete(wal: Path, cut: int) -> None:
    wal.unlink()


# The log is a 32-byte header, then frames of a 24-byte header and a 4096-byte page.
_FRAME = 24 + 4096


def _frames_in_use(wal: Path) -> int:
    """How many frames the log holds since it last restarted: those carrying the salt of its
    header (a restart keeps the file and writes over it from the start with a new salt, so an
    older tail carries another)."""
    if not wal.exists():
        return 0
    data = wal.read_bytes()
    salt = data[16:24]
    frames = 0
    while 32 + (frames + 1) * _FRAME <= len(data) and (
        data[32 + frames * _FRAME + 8 : 32 + frames * _FRAME + 16] == salt
    ):
        frames += 1
    return frames


def _cut(pinned_frames: int) -> int:
    """Where the damage starts: past every frame written before the reader pinned the log
    (the background checkpointer may have copied those into engine.db, and cutting into them
    would leave engine.db newer than the log that is kept: a malformed database, not a lost
    log), and at least three frames in."""
    return 32 + max(3, pinned_frames) * _FRAME


def _truncate(wal: Path, cut: int) -> None:
    with open(wal, "r+b") as handle:
        handle.truncate(cut)


def _garble(wal: Path, cut: int) -> None:
    with open(wal, "r+b") as handle:
        handle.seek(cut)
        handle.write(b"\xa5" * 8192)


@pytest.mark.parametrize("damage", [_delete, _truncate, _garble], ids=lambda f: f.__name__[1:])
def test_a_lost_or_damaged_log_stops_the_start_until_the_loss_is_accepted(
    crashed_with_orders: tuple[dict[str, str], Path, list[int]],
    damage: Callable[[Path, int], None],
) -> None:
    env, data_dir, acknowledged = crashed_with_orders
    damage(data_dir / "engine.db-wal", int(env["TEST_WAL_CUT"]))

    refused = refused_start(env, data_dir)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "write-ahead log (engine.db-wal) is missing, truncated or damaged" in refused.stderr
    assert "--accept-data-loss" in refused.stderr and "backup" in refused.stderr
    again = refused_start(env, data_dir)  # refusing changed nothing: it refuses again
    assert again.returncode == 1 and "write-ahead log" in again.stderr

    process, url = serve_on(env, data_dir, "--accept-data-loss")
    try:
        headers = json.loads(env["TEST_HEADERS"])
        survivors = order_ids(url, headers)
        assert len(survivors) < len(acknowledged)
        assert set(survivors) <= set(acknowledged)
    finally:
        stop_process(process)
    restarted, url = serve_on(env, data_dir)  # the loss was accepted: it starts as usual
    stop_process(restarted)
    assert restarted.returncode == 0


def test_a_kill_with_the_log_intact_and_a_clean_restart_start_as_usual(
    crashed_with_orders: tuple[dict[str, str], Path, list[int]],
) -> None:
    env, data_dir, acknowledged = crashed_with_orders
    headers = json.loads(env["TEST_HEADERS"])
    for _ in range(2):
        process, url = serve_on(env, data_dir)
        try:
            assert order_ids(url, headers) == acknowledged
        finally:
            stop_process(process)
        assert process.returncode == 0


def _stopped_engine(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A data directory whose engine acknowledged an order and stopped cleanly."""
    env = make_env(tmp_path / "home")
    data_dir = tmp_path / "data"
    process, url = serve_on(env, data_dir)
    try:
        headers = trading_key(env, data_dir)
        placed = httpx.post(url + "/v1/trading/orders", json=BUY, headers=headers)
        assert placed.status_code == 201, placed.text
    finally:
        stop_process(process)
    return env, data_dir


def _empty(db: Path) -> None:
    db.write_bytes(b"")


def _remove(db: Path) -> None:
    db.unlink()


def _replace(db: Path) -> None:
    other = db.parent.parent / "other"
    env = make_env(db.parent.parent / "other-home")
    process, _ = serve_on(env, other)
    stop_process(process)
    shutil.copyfile(other / "engine.db", db)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_empty, "engine.db is empty"),
        (_remove, "engine.db is missing"),
        (_replace, "is not the database this data directory stored to"),
    ],
    ids=["emptied", "deleted", "replaced"],
)
def test_an_emptied_deleted_or_replaced_database_is_not_a_new_exchange(
    tmp_path: Path, damage: Callable[[Path], None], said: str
) -> None:
    env, data_dir = _stopped_engine(tmp_path)
    damage(data_dir / "engine.db")

    refused = refused_start(env, data_dir)
    assert refused.returncode == 1, refused.stderr
    assert said in refused.stderr and "--accept-data-loss" in refused.stderr
    assert "Traceback" not in refused.stderr

    started = vmx(env, "engine", "start", "--data-dir", str(data_dir), "--accept-data-loss")
    assert started.returncode == 0, started.stderr
    stopped = vmx(env, "engine", "stop")
    assert stopped.returncode == 0, stopped.stderr


def _orders_root(db: Path) -> int:
    connection = sqlite3.connect(db)
    try:
        return int(
            connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = 'orders'"
            ).fetchone()[0]
        )
    finally:
        connection.close()


def _damage_page(db: Path) -> None:
    page = _orders_root(db)
    with open(db, "r+b") as handle:
        handle.seek((page - 1) * 4096)
        handle.write(b"\xa5" * 4096)


def _drop_a_table(db: Path) -> None:
    connection = sqlite3.connect(db)
    try:
        connection.execute("DROP TABLE trades")
        connection.commit()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_damage_page, "is damaged"),
        (_drop_a_table, "has a wrong schema (table trades lacks"),
    ],
    ids=["damaged-page", "wrong-schema"],
)
def test_a_damaged_database_is_one_message_and_exit_1(
    tmp_path: Path, damage: Callable[[Path], None], said: str
) -> None:
    env, data_dir = _stopped_engine(tmp_path)
    damage(data_dir / "engine.db")
    for extra in ((), ("--accept-data-loss",)):  # there is nothing to start from
        refused = subprocess.run(
            [*VMX, "engine", "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1, refused.stderr
        assert "Traceback" not in refused.stderr
        lines = [line for line in refused.stderr.splitlines() if line.startswith("vmx engine:")]
        assert len(lines) == 1 and said in lines[0], refused.stderr
        assert "backup" in lines[0]
