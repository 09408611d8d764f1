"""The node-side stand-in of a strategy that runs in a worker process.

A deployment keeps, on the node, a `RemoteHost`: the strategies package's `StrategyHost` (event
queueing, timers, order entry tagged `<deployment_id>:<n>`, the deployment's own accounting,
logs) whose strategy is `remote_strategy`'s stand-in, which forwards each hook to the worker
(deployment.py) instead of running it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy
from velocimex_cli.engine.drivers.strategies.host import (
    CREATED,
    FAILED,
    RUNNING,
    StrategyHost,
)
from velocimex_cli.engine.drivers.strategies.params import ParamValues
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.core.events import BookEvent
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.drivers.strategies.context import BookTop


class Forwarded(Protocol):
    """What the stand-in and its host need of their deployment (deployment.Deployment)."""

    strategy_id: str
    stop_requested: str | None

    def enqueue(self, hook: str, args: tuple[Any, ...]) -> None: ...


def remote_strategy(deployment: Forwarded, hooks: list[str]) -> type[Strategy]:
    """The node-side stand-in for a strategy running in a worker: the hooks its class
    overrides are queued for the worker, never run here (the host then listens only for
    what those need). Its parameters were validated and checked by the worker already."""

    def forward(hook: str) -> Callable[..., None]:
        def queued(self: Strategy, *args: Any) -> None:
            deployment.enqueue(hook, args)

        queued.__name__ = hook
        return queued

    namespace: dict[str, Any] = {
        "id": deployment.strategy_id,
        "validate": classmethod(lambda cls, params: ParamValues(params or {})),
        "check": classmethod(lambda cls, config, instrument: None),
    }
    for hook in hooks:
        if hook in HOOKS and hook != "on_stop":  # on_stop is sent by the Deployment itself
            namespace[hook] = forward(hook)
    return type("RemoteStrategy", (Strategy,), namespace)


class RemoteHost(StrategyHost):
    """StrategyHost whose stop requests and endings are sequenced by the Deployment, and which
    has the exchange build book events for it only while its worker waits for one.

    While a hook runs in the worker (or the deployment waits for its fair share), the book
    changes it misses would only be coalesced into its next on_book: the host then stops
    asking for book events (building them costs every command that touches a book), and before
    the next hook compares each subscribed book's sequence with the one it last delivered."""

    deployment: Forwarded

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._told: dict[tuple[str, str], int] = {}  # book -> sequence of the last on_book
        super().__init__(*args, **kwargs)
        self._hearing_books = "on_book" in self._wants  # as StrategyHost.start listens

    def subscribe(self, instrument: Instrument) -> None:
        super().subscribe(instrument)
        key = (instrument.venue.name, instrument.symbol)
        self._told.setdefault(key, self.exchange.book(instrument).sequence)

    def told(self, top: BookTop) -> None:
        """The worker is sent this book (a later one may replace it before it is sent)."""
        self._told[(top.exchange, top.symbol)] = top.sequence

    def hear_books(self, on: bool) -> None:
        """Have the exchange build book events for this host, or not (see the class)."""
        on = on and "on_book" in self._wants
        if on != self._hearing_books and self.state == RUNNING:
            self._hearing_books = on
            self.exchange.restrict_listener(self._listen, self._interest(on))

    def _book_changed(self, event: BookEvent) -> None:
        if event.sequence > self._told.get((event.exchange, event.symbol), -1):
            super()._book_changed(event)  # not a change the worker was sent already

    def step(self) -> int:
        if not self._hearing_books and self.state == RUNNING:
            books, stamp = self.exchange.books, ""
            for key, instrument in self._subscribed.items():
                if books[instrument.index].sequence != self._told[key]:
                    stamp = stamp or iso(self.exchange.clock())
                    self._queue_book(instrument, stamp)
        return super().step()

    def request_stop(self, reason: str) -> None:
        self.deployment.stop_requested = reason or "completed"

    def finish(self, state: str, reason: str) -> None:
        if self.state in (RUNNING, CREATED):
            self._finish(state, reason)

    def fail(self, message: str) -> None:
        self.last_error = message
        self.log(message, "error")
        self.finish(FAILED, message)
