"""A venue's books and trades through ccxt's websocket API (`ccxt.pro`, the `live` extra).

`CcxtSource(venue, config, clock)` implements `feed.VenueSource` for one ccxt exchange: `config`
is the user's `--venue-config` entry for that venue, merged into ccxt's constructor config
(`urls`, `options`, `timeout`, proxies). Market loading is restricted to spot. ccxt is imported by
this module only; the engine imports this module only when it mirrors a venue.

How the books are read. One `watch_order_book` per symbol, at the deepest book the venue serves
(Binance: a 5,000-level REST snapshot then the full diff stream; Kraken: the 1,000-level book
channel; Coinbase: the unlimited `level2` channel), and one `watch_trades`. ccxt keeps the book;
this source gives ccxt a book whose sides note each price ccxt stores (and each level ccxt's depth
limit drops), so an update yields only the levels it changed, at the size ccxt now holds, without
diffing the book. A book ccxt resets (a REST snapshot, a resubscription) is yielded whole as a
`BookSnapshot`. Historical trades a venue replays on subscribing (Kraken's and Coinbase's trade
snapshots) are not yielded: only trades printed while mirroring are.

When the book cannot be trusted it yields `FeedDown` with the reason and resyncs:
- Binance: a diff whose first update id `U` is not the last `u` + 1 (ccxt's own check; the
  reason names both ids); ccxt resubscribes and fetches a new snapshot.
- Kraken: the CRC32 of the top ten levels each side (v2 `book` channel, prices and quantities at
  the pair's decimals) differs from the one the venue sent (ccxt 4.5 ships this check disabled
  and broken for float books, so it is done here); the symbol is unsubscribed and subscribed
  again for a new snapshot.
- Coinbase: a `sequence_num` that skips one on the connection (ccxt does not check it); the
  connection is closed and every subscription on it starts again from a snapshot.
- Every venue: a closed connection (ccxt reconnects and resubscribes), no message on the book's
  connection for `stall_after` seconds (the connection is closed and reopened), the venue
  unreachable (retried). Retries back off exponentially (`backoff`, `max_backoff`, an injectable
  `sleep`); `watch` never ends on its own.

Limits. A trade stream that fails (Binance serves trades on a connection of their own) halts the
symbol too, since prints may be lost; it resumes with the book ccxt holds at the next book update.
The stall watchdog watches the book's connection only: a Binance trade connection that stalls
while its book's stays live is not noticed. ccxt paces REST calls by the venue's weights (with
its defaults, a 5,000-level Binance snapshot may wait up to 12.5 s after the previous one), so a
resync can take that long. Books deeper than the depth above keep ccxt's truncation.

Tested how (tests/engine/drivers/venues/test_ccxt_source_{binance,kraken,coinbase}.py, against
local fake exchanges in tests/fakes/ that speak each venue's documented REST and WebSocket formats,
reached only on loopback through the same `urls` config a user writes in `--venue-config`;
unmodified ccxt 4.5 talks to them). For each venue the events, applied to a plain book, equal the
fake's true book after every step and every fault, and trades keep their aggressor:
- binance: exchangeInfo filters -> tick/lot/minimums (fees: ccxt's table); depth snapshot +
  `depthUpdate` diffs with U/u; `trade` events (aggressor from `m`); faults: a sequence gap, a
  dropped connection, a stalled feed, unreachable at start then up; an unknown symbol; the config
  merge (a user's `options` kept, a `timeout` obeyed).
- kraken: AssetPairs -> tick/lot/minimums/fees; v2 `book` snapshot and updates with CRC32 and
  `trade`; faults: a bad checksum, a dropped connection, a stalled feed, unreachable at start
  then up; an unknown symbol; no replayed trades.
- coinbase: Advanced Trade products -> tick/lot/minimums (fees: ccxt's first tier, an account's
  own needs a key); `level2` (`l2_data`) and `market_trades`; faults: a sequence gap, a dropped
  connection, a stalled feed, unreachable at start then up; an unknown symbol; no replayed
  trades.
No test touches the internet; none of the venues is tested against the real exchange here.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import ccxt.pro as ccxtpro
from ccxt.async_support.base.ws.order_book import OrderBook
from ccxt.async_support.base.ws.order_book_side import Asks, Bids
from ccxt.base.decimal_to_precision import DECIMAL_PLACES
from ccxt.base.errors import BaseError, ChecksumError, NetworkError

from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    BookSnapshot,
    FeedDown,
    FeedEvent,
    Level,
    MarketSpec,
    TradePrint,
    UnknownSymbol,
    VenueUnavailable,
)
from velocimex_cli.engine.drivers.venues.spec import TUNING_KEY

# The deepest book each venue serves on its public stream; None: the venue's whole book.
FULL_DEPTH: dict[str, int | None] = {"binance": 5000, "kraken": 1000, "coinbase": None}
# ccxt's client subscription hashes of a symbol's book and trades, per venue (to find their
# connections).
_BOOK_HASH: dict[str, str] = {
    "binance": "orderbook::{}",
    "kraken": "orderbook@{}",
    "coinbase": "level2::{}",
}
_TRADE_HASH: dict[str, str] = {
    "binance": "trade::{}",
    "kraken": "trade@{}",
    "coinbase": "market_trades::{}",
}

Sleep = Callable[[float], Awaitable[None]]


def _dec(value: float | int | str) -> Decimal:
    """A ccxt number as the venue stated it: through its shortest text, never binary float."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _ms_time(ms: Any) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _noting(side: Any) -> Any:
    """ccxt's book side `side` (Asks or Bids), noting each price ccxt stores and the size it
    stored in `changed` (0: removed, also for each level ccxt's depth limit drops)."""

    class Noting(side):
        def __init__(self, deltas: Any = (), depth: int | None = None) -> None:
            self.changed: dict[float, float] = {}
            super().__init__(list(deltas), depth)

        def storeArray(self, delta: list[Any]) -> None:
            self.changed[delta[0]] = delta[1]
            side.storeArray(self, delta)

        def limit(self) -> None:
            extra = len(self) - self._depth
            if extra > 0:
                for level in self[-extra:]:
                    self.changed[level[0]] = 0.0
            side.limit(self)

    Noting.__name__ = Noting.__qualname__ = f"Noting{side.__name__}"
    return Noting


_NotingAsks = _noting(Asks)
_NotingBids = _noting(Bids)


class _NotingBook(OrderBook):
    """ccxt's order book; `resynced` is set whenever ccxt resets it from a snapshot, and
    `failure` when this module finds it invalid (a checksum mismatch)."""

    def __init__(self, snapshot: Mapping[str, Any] | None = None, depth: int | None = None):
        snap = dict(snapshot or {})
        snap["asks"] = _NotingAsks(snap.get("asks", ()), depth)
        snap["bids"] = _NotingBids(snap.get("bids", ()), depth)
        super().__init__(snap, depth)
        self.resynced = False
        self.failure: str | None = None

    def reset(self, snapshot: Mapping[str, Any] | None = None) -> None:
        super().reset(dict(snapshot or {}))
        self["asks"].changed.clear()
        self["bids"].changed.clear()
        self.resynced = True
        self.failure = None


def _kraken_checksum(book: OrderBook, price_decimals: int, qty_decimals: int) -> int:
    """Kraken v2's book checksum: CRC32 of the top ten asks then the top ten bids, each price and
    quantity at the pair's decimals with the point and leading zeros removed."""
    parts: list[str] = []
    for side in (book["asks"], book["bids"]):
        for price, qty, *_ in side[:10]:
            for value, places in ((price, price_decimals), (qty, qty_decimals)):
                parts.append(f"{_dec(value):.{places}f}".replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


def _exchange_class(venue: str) -> type[Any]:
    """ccxt's exchange class for `venue`, with the hooks this source needs."""
    try:
        base: type[Any] = getattr(ccxtpro, venue)
    except AttributeError:
        raise VenueUnavailable(
            f"{venue} is not an exchange ccxt {ccxtpro.__version__} streams (ccxt.pro)"
        ) from None

    class Mirrored(base):
        vmx_reasons: dict[str, str]
        vmx_sequence: dict[str, int]

        def order_book(self, snapshot: Any = None, depth: int | None = None) -> OrderBook:
            return _NotingBook(snapshot, depth)

        if venue == "binance":

            def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
                market = self.safe_market(message.get("s"), None, None, "spot")
                book = self.orderbooks.get(market["symbol"])
                first = message.get("U")
                nonce = None if book is None else book["nonce"]
                if first is not None and nonce is not None and message.get("u", 0) > nonce:
                    # ccxt's own continuity rule: the first diff after a snapshot must span
                    # it, each later one start right after the last
                    synced = book["timestamp"] is not None
                    if (first - 1 != nonce) if synced else (first - 1 > nonce):
                        self.vmx_reasons[market["symbol"]] = (
                            f"sequence gap: update {first} after {nonce}"
                        )
                super().handle_order_book(client, message)

        if venue == "kraken":

            def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
                super().handle_order_book(client, message)
                data = message.get("data") or [{}]
                first = data[0]
                symbol = first.get("symbol")
                expected = first.get("checksum")
                book = self.orderbooks.get(symbol)
                if book is None or expected is None or symbol not in self.markets:
                    return
                info = self.markets[symbol]["info"]
                got = _kraken_checksum(book, int(info["pair_decimals"]), int(info["lot_decimals"]))
                if got != expected:
                    book.failure = f"checksum mismatch: the book's CRC32 is {got}, {expected} sent"
                    hash_ = _BOOK_HASH["kraken"].format(symbol)
                    client.subscriptions.pop(hash_, None)
                    del self.orderbooks[symbol]
                    unsubscribe = {
                        "method": "unsubscribe",
                        "params": {"channel": "book", "symbol": [symbol]},
                        "req_id": self.request_id(),
                    }
                    _background(self, client.send(unsubscribe))

            def watch_trades(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
                # Kraken replays its last 50 trades on subscribing unless told not to.
                return super().watch_trades(symbol, None, None, {"snapshot": False})

        if venue == "coinbase":

            def handle_message(self, client: Any, message: dict[str, Any]) -> None:
                sequence = message.get("sequence_num") if isinstance(message, dict) else None
                if sequence is not None:
                    last = self.vmx_sequence.get(client.url)
                    if last is not None and sequence != last + 1:
                        self.vmx_sequence.pop(client.url, None)
                        _drop_client(self, client, f"sequence gap: message {sequence} after {last}")
                        return
                    self.vmx_sequence[client.url] = sequence
                super().handle_message(client, message)

            def on_connected(self, client: Any, message: Any = None) -> None:
                self.vmx_sequence.pop(client.url, None)
                super().on_connected(client, message)

            def handle_trade(self, client: Any, message: dict[str, Any]) -> None:
                # Coinbase sends recent trades as a `snapshot` event on subscribing: skip them.
                events = [e for e in message.get("events") or [] if e.get("type") != "snapshot"]
                if events:
                    super().handle_trade(client, {**message, "events": events})

    Mirrored.__name__ = f"Mirrored_{venue}"
    return Mirrored


def _background(exchange: Any, work: Awaitable[Any]) -> None:
    """Run `work` without waiting for it, keeping the task referenced until it ends."""
    task = asyncio.ensure_future(work)
    exchange.vmx_tasks.add(task)
    task.add_done_callback(exchange.vmx_tasks.discard)


class _FeedFault(NetworkError):
    """A fault this module found on a connection; its text is the FeedDown reason."""


def _drop_client(exchange: Any, client: Any, reason: str) -> None:
    """Fail every watch on `client` with `reason` and close it; the next watch opens a new
    connection and subscribes again (a fresh snapshot)."""
    fault = _FeedFault(reason)
    client.reject(fault)
    # marked failed, the old client's close does not unregister its successor on the same url
    client.error = fault
    if exchange.clients.get(client.url) is client:
        del exchange.clients[client.url]
    _background(exchange, client.close())


def _merged_config(venue: str, config: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"enableRateLimit": True, "newUpdates": True}
    for key, value in config.items():
        merged[key] = value
    options = dict(merged.get("options") or {})
    if venue == "binance":
        # spot only: never the futures or options market lists
        fetch = dict(options.get("fetchMarkets") or {})
        fetch["types"] = ["spot"]
        options["fetchMarkets"] = fetch
    merged["options"] = options
    return merged


def _cancelled() -> bool:
    """Whether this task is being cancelled (not merely woken by a future ccxt cancelled)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, _FeedFault):
        return text
    if isinstance(exc, ChecksumError):
        return f"book out of sync: {text}"
    if isinstance(exc, NetworkError | OSError):  # ccxt's, or aiohttp's reset while sending
        return f"connection lost: {text}"
    return f"{type(exc).__name__}: {text}"


class _Symbol:
    """One watched symbol's state between its book and trade loops."""

    __slots__ = ("down", "queue", "reported", "stale_book")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[FeedEvent | UnknownSymbol] = asyncio.Queue()
        self.down = True  # no snapshot since the start or the last fault: yield no changes
        self.reported = False  # a FeedDown was yielded since the last snapshot
        self.stale_book = False  # the next book read is yielded whole (trades were lost)


class CcxtSource:
    """feed.VenueSource over one ccxt.pro exchange instance (see the module docstring)."""

    def __init__(
        self,
        venue: str,
        config: Mapping[str, Any],
        clock: Callable[[], datetime],
        *,
        stall_after: float = 30.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.venue = venue
        self._clock = clock
        config = dict(config)
        # the venue config's `vmx` entry tunes this source and is not ccxt's (spec.TUNING_KEY)
        tuning = dict(config.pop(TUNING_KEY, None) or {})
        self._stall_after = float(tuning.get("stall_after", stall_after))
        self._backoff = float(tuning.get("backoff", backoff))
        self._max_backoff = float(tuning.get("max_backoff", max_backoff))
        self._sleep = sleep
        self.exchange: Any = _exchange_class(venue)(_merged_config(venue, config))
        self.exchange.vmx_reasons = {}
        self.exchange.vmx_sequence = {}
        self.exchange.vmx_tasks = set()
        self._depth = FULL_DEPTH.get(venue)

    # -- markets -------------------------------------------------------------------------

    async def _load_markets(self) -> dict[str, Any]:
        try:
            return dict(await self.exchange.load_markets())
        except (BaseError, OSError) as exc:
            # ccxt's class says what happened (RequestTimeout, ExchangeNotAvailable, ...)
            raise VenueUnavailable(
                f"{self.venue} unreachable: {type(exc).__name__}: {exc}"
            ) from None

    def _spot(self, markets: Mapping[str, Any], symbol: str) -> dict[str, Any] | None:
        market = markets.get(symbol)
        if market is None or not market.get("spot") or market.get("active") is False:
            return None
        return dict(market)

    async def markets(self, symbols: Sequence[str]) -> list[MarketSpec]:
        markets = await self._load_markets()
        unknown = [s for s in symbols if self._spot(markets, s) is None]
        if unknown:
            raise UnknownSymbol(
                f"{self.venue} lists no active spot market {', '.join(unknown)}; "
                f"check the symbol (ccxt's unified form, e.g. BTC/USDT)"
            )
        return [self._spec(markets[s]) for s in symbols]

    def _spec(self, market: Mapping[str, Any]) -> MarketSpec:
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}

        def step(value: Any) -> Decimal:
            if self.exchange.precisionMode == DECIMAL_PLACES:
                return Decimal(1).scaleb(-int(value))
            return _dec(value)

        def optional(value: Any) -> Decimal | None:
            return None if value is None else _dec(value)

        return MarketSpec(
            symbol=market["symbol"],
            base=market["base"],
            quote=market["quote"],
            tick_size=step(precision["price"]),
            lot_size=step(precision["amount"]),
            min_quantity=optional((limits.get("amount") or {}).get("min")),
            min_notional=optional((limits.get("cost") or {}).get("min")),
            taker_fee=optional(market.get("taker")),
            maker_fee=optional(market.get("maker")),
        )

    # -- streams -------------------------------------------------------------------------

    async def watch(self, symbol: str) -> AsyncIterator[FeedEvent]:
        state = _Symbol()
        tasks = [
            asyncio.create_task(self._book_loop(symbol, state)),
            asyncio.create_task(self._trade_loop(symbol, state)),
            asyncio.create_task(self._watchdog(symbol, state)),
        ]
        try:
            while True:
                event = await state.queue.get()
                if isinstance(event, UnknownSymbol):
                    raise event
                yield event
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _down(self, symbol: str, state: _Symbol, reason: str) -> None:
        state.down = True
        if not state.reported:
            state.reported = True
            state.queue.put_nowait(FeedDown(symbol, reason, self._clock()))

    async def _check_symbol(self, symbol: str, state: _Symbol) -> bool:
        """False (and UnknownSymbol queued) when the loaded markets lack `symbol`."""
        markets = await self._load_markets()
        if self._spot(markets, symbol) is None:
            state.queue.put_nowait(
                UnknownSymbol(f"{self.venue} lists no active spot market {symbol}")
            )
            return False
        return True

    async def _book_loop(self, symbol: str, state: _Symbol) -> None:
        exchange = self.exchange
        failures = 0
        queue = state.queue
        while True:
            try:
                if not await self._check_symbol(symbol, state):
                    return
                while True:
                    book = await exchange.watch_order_book(symbol, self._depth)
                    if book.failure is not None:
                        raise _FeedFault(book.failure)
                    asks = book["asks"]
                    bids = book["bids"]
                    if book.resynced or state.stale_book:
                        book.resynced = False
                        state.stale_book = False
                        state.down = False
                        state.reported = False
                        failures = 0
                        asks.changed.clear()
                        bids.changed.clear()
                        queue.put_nowait(
                            BookSnapshot(
                                symbol,
                                [(_dec(p), _dec(q)) for p, q, *_ in bids],
                                [(_dec(p), _dec(q)) for p, q, *_ in asks],
                                _ms_time(book["timestamp"]),
                                self._clock(),
                            )
                        )
                        continue
                    if state.down:
                        asks.changed.clear()
                        bids.changed.clear()
                        continue
                    if not asks.changed and not bids.changed:
                        continue
                    bid_levels: list[Level] = [(_dec(p), _dec(q)) for p, q in bids.changed.items()]
                    ask_levels: list[Level] = [(_dec(p), _dec(q)) for p, q in asks.changed.items()]
                    bids.changed.clear()
                    asks.changed.clear()
                    queue.put_nowait(
                        BookChanges(
                            symbol,
                            bid_levels,
                            ask_levels,
                            _ms_time(book["timestamp"]),
                            self._clock(),
                        )
                    )
            except asyncio.CancelledError:
                if _cancelled():
                    raise
                reason = exchange.vmx_reasons.pop(symbol, None) or "connection closed"
            except VenueUnavailable as exc:
                reason = exc.reason
            except Exception as exc:
                reason = exchange.vmx_reasons.pop(symbol, None) or _reason(exc)
            state.stale_book = False  # only a resync by ccxt makes this book whole again
            self._down(symbol, state, reason)
            await self._sleep(min(self._max_backoff, self._backoff * 2**failures))
            failures = min(failures + 1, 16)

    async def _trade_loop(self, symbol: str, state: _Symbol) -> None:
        exchange = self.exchange
        failures = 0
        queue = state.queue
        while True:
            try:
                if not await self._check_symbol(symbol, state):
                    return
                while True:
                    trades = await exchange.watch_trades(symbol)
                    failures = 0
                    if state.down:
                        continue
                    received = self._clock()
                    for trade in trades:
                        side: Literal["buy", "sell"] = "sell" if trade["side"] == "sell" else "buy"
                        queue.put_nowait(
                            TradePrint(
                                symbol,
                                _dec(trade["price"]),
                                _dec(trade["amount"]),
                                side,
                                None if trade.get("id") is None else str(trade["id"]),
                                _ms_time(trade.get("timestamp")),
                                received,
                            )
                        )
            except asyncio.CancelledError:
                if _cancelled():
                    raise
                reason = "trade stream: connection closed"
            except VenueUnavailable as exc:
                reason = exc.reason
            except _FeedFault as exc:
                reason = str(exc)  # the connection's fault, the book's too
            except Exception as exc:
                reason = f"trade stream: {_reason(exc)}"
            # Trades may have been missed: halt until the book is yielded whole again.
            was_down = state.down
            self._down(symbol, state, reason)
            if not was_down:
                state.stale_book = True
            await self._sleep(min(self._max_backoff, self._backoff * 2**failures))
            failures = min(failures + 1, 16)

    def _client(self, hashes: Mapping[str, str], symbol: str) -> Any:
        hash_ = hashes.get(self.venue, "{}").format(symbol)
        for client in list((self.exchange.clients or {}).values()):
            if hash_ in client.subscriptions:
                return client
        return None

    def _quiet_for(self, client: Any) -> float | None:
        """Seconds since `client` last received a message (None: not connected yet)."""
        if client is None or not client.connected.done():
            return None
        last = client.last_message_at or client.connectionEstablished
        if last is None:
            return None
        return float(self.exchange.milliseconds() - last) / 1000

    async def _watchdog(self, symbol: str, state: _Symbol) -> None:
        """No message on a live book's connection for `stall_after` seconds: drop the connection
        (the book loop yields FeedDown and ccxt resubscribes on a new one), and the symbol's
        trade connection with it when that has been as quiet. A venue that sends nothing while a
        book is quiet (Binance's diff stream) needs `stall_after` longer than its quietest
        symbol's silence."""
        period = max(self._stall_after / 4, 0.01)
        while True:
            await asyncio.sleep(period)
            if state.down:
                continue  # resyncing: ccxt's own timeouts bound the snapshot and the dial
            book_client = self._client(_BOOK_HASH, symbol)
            quiet = self._quiet_for(book_client)
            if quiet is None or quiet < self._stall_after:
                continue
            reason = f"stalled: no message for {quiet:.1f}s"
            trade_client = self._client(_TRADE_HASH, symbol)
            if trade_client is not None and trade_client is not book_client:
                trade_quiet = self._quiet_for(trade_client)
                if trade_quiet is not None and trade_quiet >= self._stall_after:
                    _drop_client(self.exchange, trade_client, reason)
            _drop_client(self.exchange, book_client, reason)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.exchange.close()
