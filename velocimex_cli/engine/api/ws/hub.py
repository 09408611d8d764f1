"""Fan-out of engine events to WebSocket subscribers.

The engine calls `Hub.on_event` synchronously after each command commits (on the event loop).
Each message is serialised once and the same text is queued for every interested connection;
a per-connection pump sends it, at most `rate` messages per second. Slow consumers never slow
matching: tickers conflate to the latest per instrument, a book whose deltas overflow the queue
is resent as a fresh snapshot, trades beyond the bound are dropped, and an orders connection that
cannot keep up is closed with a reason (order updates are never silently dropped).

Every send has a deadline (`send_timeout`): a peer that does not take a frame in time (it stopped
reading, its socket buffers are full) is closed with 1013, given `close_grace` seconds to take
the close frame, then its transport is aborted, so its handler returns and its slot is freed.
The message shapes come from velocimex_cli.wire.streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from velocimex_cli.engine.api.ws.outbox import Outbox
from velocimex_cli.engine.core import events
from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire import streams as wire

log = logging.getLogger("vmx.engine.api")

CHANNELS = wire.CHANNELS
ALL = None  # a channel subscribed for every instrument

CLOSE_TOO_SLOW = wire.CLOSE_TRY_AGAIN_LATER
CLOSE_GOING_AWAY = wire.CLOSE_GOING_AWAY
SEND_TIMEOUT = 5.0
CLOSE_GRACE = 1.0


def abort_transport(ws: WebSocket) -> bool:
    """Drop the connection at once (unsent data discarded) when the server exposes its
    transport (uvicorn's websockets protocol does); False when it cannot."""
    protocol = getattr(getattr(ws, "_send", None), "__self__", None)
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    transport.abort()
    return True


def instrument_key(exchange: str, symbol: str) -> str:
    return f"{exchange}:{symbol}"


class SendWatchdog:
    """Checks a few times per `send_timeout` whether the subscriber's send in progress is
    stuck; if so it marks the subscriber timed out and cancels the pumping task."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.task = asyncio.current_task()
        self.loop = asyncio.get_running_loop()
        self.interval = max(sub.send_timeout / 4, 0.01)
        self.handle = self.loop.call_later(self.interval, self.check)

    def check(self) -> None:
        sub = self.sub
        started = sub._send_started
        if started and time.monotonic() - started > sub.send_timeout:
            sub._timed_out = True
            if self.task is not None:
                self.task.cancel()
            return
        self.handle = self.loop.call_later(self.interval, self.check)

    def cancel(self) -> None:
        self.handle.cancel()


class Subscriber:
    """One WebSocket connection's queue and pump."""

    def __init__(
        self,
        ws: WebSocket,
        limit: int,
        rate: int,
        send_timeout: float = SEND_TIMEOUT,
        close_grace: float = CLOSE_GRACE,
    ) -> None:
        self.ws = ws
        self.outbox = Outbox(limit)
        self.rate = rate
        self.send_timeout = send_timeout
        self.close_grace = close_grace
        self.close_code: int | None = None
        self.close_reason = ""
        self._send_started = 0.0  # monotonic time the send in progress began; 0: none
        self._timed_out = False

    def send_now(self, payload: dict[str, Any]) -> None:
        """Queue a reply (subscribed, error...); a client that never reads them is closed."""
        if not self.outbox.put_control(jsonfmt.dumps(payload)):
            self.close(CLOSE_TOO_SLOW, "consumer too slow: replies were not read")

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.outbox.close()

    async def pump(self) -> None:
        """Send queued frames until closed; at most `rate` per second. A send that has not
        completed after `send_timeout` is canceled by the watchdog and the peer closed."""
        rate = self.rate
        burst = max(1.0, rate / 10)  # at most a tenth of a second's worth at once
        tokens = burst
        monotonic = time.monotonic
        last = monotonic()
        outbox, ws = self.outbox, self.ws
        send = ws.send_text
        watchdog = SendWatchdog(self)
        try:
            while await outbox.wait():
                if rate:
                    now = monotonic()
                    tokens = min(burst, tokens + (now - last) * rate)
                    last = now
                    if tokens < 1.0:
                        await asyncio.sleep((1.0 - tokens) / rate)
                        continue
                    tokens -= 1.0
                item = outbox.pop()
                frame = item() if callable(item) else item
                if frame is not None:
                    # A time read per frame instead of a wait_for (a task per frame).
                    self._send_started = monotonic()
                    await send(frame)
                    self._send_started = 0.0
        except asyncio.CancelledError:
            if not self._timed_out:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            timeout = self.send_timeout
            self.close(CLOSE_TOO_SLOW, f"consumer too slow: data not taken within {timeout:g} s")
            log.warning("closing a WebSocket peer that stopped reading (1013)")
        except Exception:  # the peer went away mid-send; the receive loop notices and cleans up
            return
        finally:
            watchdog.cancel()
        if self.close_code is not None and ws.application_state == WebSocketState.CONNECTED:
            await self._close_within_deadline()

    async def _close_within_deadline(self) -> None:
        """Send the close frame; a peer that does not take it within the grace is aborted."""
        try:
            await asyncio.wait_for(
                self.ws.close(self.close_code or CLOSE_TOO_SLOW, self.close_reason),
                self.close_grace,
            )
        except Exception:  # TimeoutError, or the peer is gone: drop the connection
            with contextlib.suppress(Exception):
                abort_transport(self.ws)


class MarketSubscriber(Subscriber):
    def __init__(
        self,
        ws: WebSocket,
        limit: int,
        rate: int,
        snapshot: Callable[[str], str | None],
        send_timeout: float = SEND_TIMEOUT,
        close_grace: float = CLOSE_GRACE,
        book_status: Callable[[str], str | None] | None = None,
    ) -> None:
        """`book_status(key)`: the `book_status` frame that follows a snapshot of a mirrored
        book that is not valid now (None: nothing follows)."""
        super().__init__(ws, limit, rate, send_timeout, close_grace)
        self.default_feed = True
        self.channels: dict[str, set[str] | None] = {"ticker": ALL}
        self.stale_books: set[str] = set()
        self._snapshot = snapshot
        self._book_status = book_status

    def wants(self, channel: str, key: str) -> bool:
        if channel not in self.channels:
            return False
        chosen = self.channels[channel]
        return chosen is ALL or key in chosen

    def wants_any(self, channel: str) -> bool:
        """Whether some instrument's messages of `channel` are wanted."""
        if channel not in self.channels:
            return False
        chosen = self.channels[channel]
        return chosen is ALL or bool(chosen)

    def subscribe(self, channels: Iterable[str], keys: list[str] | None) -> None:
        if self.default_feed:
            self.default_feed = False
            self.channels = {}
        for channel in channels:
            if keys is None:
                self.channels[channel] = ALL
            else:
                current = self.channels.get(channel, set())
                if current is not ALL:
                    assert current is not None
                    current.update(keys)
                    self.channels[channel] = current

    def unsubscribe(
        self, channels: Iterable[str], keys: list[str] | None, every: list[str]
    ) -> None:
        self.default_feed = False
        for channel in channels:
            if channel not in self.channels:
                continue
            if keys is None:
                del self.channels[channel]
                continue
            current = self.channels[channel]
            remaining = (set(every) if current is ALL else set(current)) - set(keys)
            self.channels[channel] = remaining
            if channel == "book":
                self.stale_books.difference_update(keys)

    def forget_unwanted_tickers(self) -> None:
        self.outbox.drop_latest(
            lambda key: (
                isinstance(key, tuple) and key[0] == "ticker" and not self.wants("ticker", key[1])
            )
        )

    def resnapshot(self, key: str) -> None:
        """Drop further deltas of `key` until a fresh snapshot (rendered at send time) goes out."""
        self.stale_books.add(key)

        def render() -> str | None:
            self.stale_books.discard(key)
            if not self.wants("book", key):
                return None
            frame = self._snapshot(key)
            follow = None if self._book_status is None else self._book_status(key)
            if follow is not None:
                self.outbox.put_latest(("book_status", key), follow)
            return frame

        self.outbox.put_latest(("snapshot", key), render)

    def offer_delta(self, key: str, frame: str) -> None:
        if key in self.stale_books:
            return
        if not self.outbox.put(frame):
            self.resnapshot(key)


class OrderSubscriber(Subscriber):
    def offer(self, frame: str) -> None:
        if not self.outbox.put(frame):
            self.close(CLOSE_TOO_SLOW, "consumer too slow: order updates were not read in time")


class Hub:
    """Subscribers of both streams. `on_active(True)` fires when the first one arrives and
    `on_active(False)` when the last leaves, so the engine builds events only while someone
    listens (without listeners it skips that work; book sequences advance either way).
    While some do, `on_interest` is told what they need built (`interest`) whenever that may
    have changed (a subscriber came or went, or changed its subscriptions), so the engine
    builds no book, ticker or trade event that no market subscriber wants and no order or fill
    event of an account without an orders stream."""

    def __init__(
        self,
        on_active: Callable[[bool], None] | None = None,
        on_interest: Callable[[Interest], None] | None = None,
    ) -> None:
        self.market: set[MarketSubscriber] = set()
        self.orders: dict[str, set[OrderSubscriber]] = {}
        self.on_active = on_active
        self.on_interest = on_interest
        self._count = 0

    def interest(self) -> Interest:
        """What the subscribers need built: book and ticker events while a market subscriber
        wants either channel (one Interest covers both), trade events while one wants trades,
        the order and fill events of the accounts with an orders stream."""
        books = trades = False
        for sub in self.market:
            books = books or sub.wants_any("book") or sub.wants_any("ticker")
            trades = trades or sub.wants_any("trades")
        return Interest(accounts=frozenset(self.orders), books=books, trades=trades)

    def subscriptions_changed(self) -> None:
        """A subscriber's channels changed: the engine may need more, or less, built."""
        if self._count and self.on_interest is not None:
            self.on_interest(self.interest())

    def _added(self) -> None:
        self._count += 1
        if self._count == 1 and self.on_active is not None:
            self.on_active(True)
        self.subscriptions_changed()

    def _removed(self) -> None:
        self._count -= 1
        if self._count == 0 and self.on_active is not None:
            self.on_active(False)
        self.subscriptions_changed()

    # registration -------------------------------------------------------------------------
    def add_market(self, sub: MarketSubscriber) -> None:
        if sub not in self.market:
            self.market.add(sub)
            self._added()

    def remove_market(self, sub: MarketSubscriber) -> None:
        if sub in self.market:
            self.market.discard(sub)
            self._removed()

    def add_orders(self, account: str, sub: OrderSubscriber) -> None:
        subs = self.orders.setdefault(account, set())
        if sub not in subs:
            subs.add(sub)
            self._added()

    def remove_orders(self, account: str, sub: OrderSubscriber) -> None:
        subs = self.orders.get(account)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self._removed()
            if not subs:
                del self.orders[account]

    def close_all(self, reason: str = "server shutting down") -> None:
        for sub in list(self.market):
            sub.close(CLOSE_GOING_AWAY, reason)
        for subs in list(self.orders.values()):
            for order_sub in list(subs):
                order_sub.close(CLOSE_GOING_AWAY, reason)

    # publishing ---------------------------------------------------------------------------
    def publish_ticker(self, ticker: dict[str, Any]) -> None:
        key = instrument_key(ticker["exchange"], ticker["symbol"])
        frame: str | None = None
        for sub in self.market:
            if sub.wants("ticker", key):
                if frame is None:
                    frame = jsonfmt.dumps(wire.ticker_message(ticker))
                sub.outbox.put_latest(("ticker", key), frame)

    def publish_trade(self, trade: dict[str, Any]) -> None:
        key = instrument_key(trade["exchange"], trade["symbol"])
        frame: str | None = None
        for sub in self.market:
            if sub.wants("trades", key):
                if frame is None:
                    frame = jsonfmt.dumps(wire.trade_message(trade))
                sub.outbox.put(frame)

    def publish_book_delta(
        self,
        exchange: str,
        symbol: str,
        sequence: int,
        timestamp: str,
        changes: list[dict[str, Any]],
        checksum: int,
    ) -> None:
        key = instrument_key(exchange, symbol)
        frame: str | None = None
        for sub in self.market:
            if sub.wants("book", key):
                if frame is None:
                    frame = jsonfmt.dumps(
                        wire.book_delta_message(
                            exchange, symbol, sequence, timestamp, changes, checksum
                        )
                    )
                sub.offer_delta(key, frame)

    def publish_book_status(self, event: events.BookStatusEvent) -> None:
        """A mirrored book became valid or not: said on the book channel, in order with its
        deltas; once valid again a fresh snapshot follows."""
        key = instrument_key(event.exchange, event.symbol)
        frame: str | None = None
        for sub in self.market:
            if sub.wants("book", key):
                if frame is None:
                    frame = jsonfmt.dumps(
                        wire.book_status_message(
                            event.exchange, event.symbol, event.valid, event.reason,
                            event.timestamp,
                        )
                    )  # fmt: skip
                sub.offer_delta(key, frame)
                if event.valid:
                    sub.resnapshot(key)

    def publish_order(self, account: str, event: str, order: dict[str, Any]) -> None:
        subs = self.orders.get(account)
        if subs:
            frame = jsonfmt.dumps(wire.order_message(event, order))
            for sub in list(subs):
                sub.offer(frame)

    def publish_fill(self, account: str, fill: dict[str, Any]) -> None:
        subs = self.orders.get(account)
        if subs:
            frame = jsonfmt.dumps(wire.fill_message(fill))
            for sub in list(subs):
                sub.offer(frame)

    def on_event(self, event: object) -> None:
        """The engine listener: route one committed event to its subscribers."""
        try:
            if isinstance(event, events.TickerEvent):
                self.publish_ticker(event.ticker)
            elif isinstance(event, events.BookEvent):
                self.publish_book_delta(
                    event.exchange,
                    event.symbol,
                    event.sequence,
                    event.timestamp,
                    event.changes,
                    event.checksum,
                )
            elif isinstance(event, events.TradeEvent):
                self.publish_trade(event.trade)
            elif isinstance(event, events.OrderEvent):
                self.publish_order(event.account, event.event, event.order)
            elif isinstance(event, events.FillEvent):
                self.publish_fill(event.account, event.fill)
            elif isinstance(event, events.BookStatusEvent):
                self.publish_book_status(event)
        except Exception:  # a fan-out fault must never break the engine's command
            log.exception("failed to publish %r", type(event).__name__)
