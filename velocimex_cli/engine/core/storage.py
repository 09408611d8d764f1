"""The storage port: what the core needs from whatever keeps its state.

The core owns this interface and imports no store; `engine/store.py` implements it with SQLite
(and an in-memory twin for backtests), and the engine node (`engine/node.py`) plugs one into an
Exchange. A store receives each command's (or each group commit's) `Changes` and writes them in
one transaction; it also keeps small named values (the simulator's state, the deployments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Changes


class Store(Protocol):  # pragma: no cover - structural type
    def commit(self, changes: Changes) -> None:
        """Write everything one batch changed in one transaction (raise: nothing written)."""
        ...

    def save_meta(self, key: str, value: str) -> None:
        """Keep a small named value with the engine's state."""
        ...

    def load_meta(self, key: str) -> str | None: ...

    def close(self) -> None: ...
