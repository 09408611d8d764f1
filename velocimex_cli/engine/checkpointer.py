"""WAL checkpoints on a background thread, off the path that acknowledges orders.

SQLite in WAL mode copies the log back into the database file every 1000 pages, inside
whichever commit crosses that mark: that commit then takes milliseconds (the copy and two
fsyncs) instead of tens of microseconds, and so does every answer waiting for it. A server
turns that off on its connection and lets this thread checkpoint every few hundred ms on its
own connection: PASSIVE mode never blocks a writer, and SQLite releases the GIL while it works.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("vmx.engine.store")


class Checkpointer:
    def __init__(self, db_path: Path, interval_seconds: float) -> None:
        self._db_path = db_path
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vmx-checkpoints", daemon=True)

    def start(self, writer: sqlite3.Connection) -> None:
        """Take over checkpoints from `writer` (the connection that commits)."""
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._db_path, isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout = 1000")
            failing = False
            while not self._stop.wait(self._interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # one line per episode (a full disk lasts)
                    if not failing:
                        log.warning("background WAL checkpoints fail (%s); retrying", exc)
                        failing = True
                    continue
                if failing:
                    log.warning("background WAL checkpoints work again")
                    failing = False
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
