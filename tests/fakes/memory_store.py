"""The core's storage port (`engine/core/storage.py`) without a file, for tests of a node
whose memory is its whole state (`EngineNode(..., store=MemoryStore())`): every command still
goes through the port, which counts it. The engine's own store is engine/store.py (SQLite); a
backtest's node runs with no store at all."""

from __future__ import annotations

from velocimex_cli.engine.core.storage import Changes
from velocimex_cli.engine.database import StoreError


class MemoryStore:
    """The storage port without a file: the Exchange's memory is the state, so commits are
    counted and dropped; named values (simulator state, deployments) are kept in a dict."""

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.commits = 0

    def commit(self, changes: Changes) -> None:
        self.commits += 1

    def save_meta(self, key: str, value: str) -> None:
        self.meta[key] = value

    def load_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def reload(self) -> None:
        raise StoreError("an in-memory store keeps no state apart from the exchange")

    def probe(self) -> bool:
        return True

    def close(self) -> None:
        pass
