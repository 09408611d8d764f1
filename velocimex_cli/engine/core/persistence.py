"""The Exchange and its store: the store attached, named values kept with the state, group
commit (a batch of commands written in one transaction, then its events delivered), and what
happens when the store cannot write: the batch rolled back, memory put back to the stored
state, every state change refused until the store works again.

A batch the store could not write is not done, nor ever will be: its events are dropped
undelivered and the commands that would change state are refused (STORAGE_UNAVAILABLE,
nothing executed) until the node sees the store work again (`resume_storing`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from velocimex_cli.engine.core.events import Event
from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.storage import Changes, Store
from velocimex_cli.wire.errors import StorageUnavailable

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState


class Persistence:
    """Storing of the Exchange (a mixin over its state)."""

    def attach_store(self: ExchangeState, store: Store) -> None:
        self._store: Store | None = store  # (typed as ExchangeState declares it)
        self._changes: Changes | None = Changes()  # (typed as ExchangeState declares it)

    def save_meta(self: ExchangeState, key: str, value: str) -> None:
        """Keep a small named value with the engine's state (simulator state); no-op in memory."""
        if self._store is not None:
            self._store.save_meta(key, value)

    def load_meta(self: ExchangeState, key: str) -> str | None:
        return self._store.load_meta(key) if self._store is not None else None

    def defer_commits(self: ExchangeState, schedule_flush: Callable[[], object] | None) -> None:
        """Group commit: from now on a command leaves its changes and events pending, and the
        first command of a batch calls `schedule_flush()`, whose owner must soon call `flush()`.
        That writes the whole batch in one transaction, then delivers its events. Nothing of a
        batch may be acknowledged before its flush. None goes back to one commit per command.
        """
        self.flush()
        self._schedule_flush = schedule_flush

    @property
    def flush_pending(self: ExchangeState) -> bool:
        """Commands have run whose changes are not durable yet (group commit only)."""
        return self._flush_pending

    def flush(self: ExchangeState) -> None:
        """Commit the pending batch in one transaction, then deliver its events.

        If the store cannot write it, the batch is rolled back (see `_roll_back`) and
        StorageUnavailable is raised: nothing of it was done, nor ever will be."""
        self._flush_pending = False
        changes, store = self._changes, self._store
        if changes is not None and changes and store is not None:  # (changes: only with a store)
            try:
                store.commit(changes)
            except Exception as exc:
                self._roll_back(exc)
            self._changes = Changes()
        if self._pending_events:
            events = self._pending_events
            self._pending_events: list[Event] = []  # (typed as ExchangeState declares it)
            for event in events:
                for listener in self._listeners:
                    listener(event)

    def close(self: ExchangeState) -> None:
        try:
            self.flush()
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None
                self._changes = None

    def _roll_back(self: ExchangeState, exc: Exception) -> NoReturn:
        """The store could not write the pending batch: drop it and its events (none was
        delivered), put memory back to what the store holds, and refuse every state change
        until `resume_storing`. Raises StorageUnavailable."""
        self._pending_events = []
        self._changes = Changes()
        self._command_books.clear()
        self._events: list[Event] | None = None  # (typed as ExchangeState declares it)
        self._traded.clear()
        # (typed as ExchangeState declares it)
        self.storage_refusal: str | None = str(exc) or type(exc).__name__
        self.reload_stored()
        if self.on_rollback is not None:
            self.on_rollback()
        raise self.unstored("not done") from exc

    def reload_stored(self: ExchangeState) -> bool:
        """Put memory back to the state the store holds (books, ledger, orders, fills,
        counters). False if the store cannot be read: `state_unstored` then stays set."""
        try:
            if self._store is None:
                raise RuntimeError("no store to reload from")
            self._store.reload()
        except Exception:
            self.state_unstored = True
            return False
        self.state_unstored = False
        return True

    def replace_state(self: ExchangeState, stored: ExchangeState) -> None:
        """Take the books, balances, orders, fills, positions, statistics and dead-man
        switches of `stored` (an exchange the store rebuilt over this one's catalogue).

        The Account objects stay the same ones (the simulator and in-process drivers hold
        them), their contents replaced; an account the rolled-back batch opened goes. Ids and
        book sequences never go back: those the batch used are not handed out again."""
        for book, fresh in zip(self.books, stored.books, strict=True):
            fresh.sequence = max(book.sequence, fresh.sequence)
        self.books = stored.books
        self.stats = stored.stats
        accounts = self.ledger.accounts
        kept = stored.ledger.accounts
        for name in [name for name in accounts if name not in kept]:
            del accounts[name]
        for name, account in kept.items():
            current = accounts.get(name)
            if current is None:
                accounts[name] = account
                continue
            for slot in Account.__slots__:
                setattr(current, slot, getattr(account, slot))
        self.ledger.funded = stored.ledger.funded
        self.next_order_id = max(self.next_order_id, stored.next_order_id)
        self.next_trade_id = max(self.next_trade_id, stored.next_trade_id)
        self._armed = {name: accounts[name] for name in stored._armed}
        self._changes = Changes() if self._store is not None else None
        self._pending_events = []
        self._flush_pending = False

    def storage_works(self: ExchangeState) -> bool:
        """Whether the store can write again (it tries a small write)."""
        return self._store is not None and bool(self._store.probe())

    def resume_storing(self: ExchangeState) -> None:
        """The store works again: state changes run again."""
        self.storage_refusal = None

    def unstored(self: ExchangeState, not_done: str) -> StorageUnavailable:
        """The error for a change the engine could not store (`not_done`: "not placed")."""
        return StorageUnavailable.not_done(not_done, self.storage_refusal or "unknown")
