"""A venue's books and trades through ccxt's websocket API (`ccxt.pro`, the `live` extra).

`CcxtSource(venue, config, clock)` implements `feed.VenueSource` for one ccxt exchange: `config`
is the user's `--venue-config` entry for that venue, merged into ccxt's constructor config
(`urls`, `options`, `timeout`, proxies). Market loading is restricted to spot. ccxt is imported by
this module only; the engine imports this module only when it mirrors a venue.

How the books are read. One `watch_order_book` per symbol, at the deepest book the venue serves
(Binance: a 5,000-level REST snapshot then the full diff stream; Kraken: the 1,000-level book
channel; Coinbase: the unlimited `level2` channel), and one `watch_trades`. ccxt keeps the book;
this source gives ccxt a book whose sides note each price ccxt stores (ccxt_book.py), so an
update yields only the levels it changed, at the size ccxt now holds, without diffing the book.
A book ccxt resets (a REST snapshot, a resubscription) is yielded whole as a `BookSnapshot`.
Historical trades a venue replays on subscribing (Kraken's and Coinbase's trade snapshots) are
not yielded: only trades printed while mirroring are. Markets: ccxt_markets.py.

When the book cannot be trusted it yields `FeedDown` with the reason and resyncs:
- a venue's own check fails (ccxt_venues.py: Binance's update id continuity, Kraken's CRC32,
  Coinbase's sequence numbers); ccxt fetches or is made to fetch a new snapshot.
- Every venue: a closed connection (ccxt reconnects and resubscribes), a stalled connection
  (ccxt_watchdog.py: the book's silent for `stall_after` seconds; a trade connection of its own
  that does not answer a probe), the venue unreachable (retried). Retries back off exponentially
  (`backoff`, `max_backoff`, an injectable `sleep`); `watch` never ends on its own.

A trade stream that fails (Binance serves trades on a connection of their own) halts the symbol
too ("trade stream ...": prints may have been lost, so resting orders may have missed fills); it
resumes with the book ccxt holds at the next book update, while the trade stream reconnects.

How the books are awaited. The first read of a book goes through `watch_order_book` (which
subscribes and connects); each later one awaits ccxt's future for the book's next update on its
connection directly while that connection still carries the subscription, which is all
`watch_order_book` does then after checking its options per call (ccxt_venues.book_client).
A busy book is read in batches: woken less than `BATCH_BUSY` (20 ms) after its last wake, the
loop waits `BATCH_WAIT` (2 ms) before it reads what changed, so the rest of a burst joins one
`BookChanges` (one apply, one book delta to every subscriber). On the benchmark feed (`python -m
benchmarks mirror`: bursts of 5 updates per symbol every 10 ms) that makes one book delta per
symbol per burst, 4,000 per 20,000 updates (about 8,100 read at once; 4,900-5,600 with a 1 ms
wait, which ended before ccxt had parsed the burst's last messages: a burst of 20 takes it over
a millisecond), for at most 2 ms more latency; a book updated less often (Binance's 100 ms diff
stream) is read at once, never waited for.

Limits. ccxt paces REST calls by the venue's weights (with its defaults, a 5,000-level Binance
snapshot may wait up to 12.5 s after the previous one), so a resync can take that long. Books
deeper than the depth above keep ccxt's truncation.

Tested how (tests/engine/drivers/venues/test_ccxt_source_{binance,kraken,coinbase}.py, against
local fake exchanges in tests/fakes/ that speak each venue's documented REST and WebSocket formats,
reached only on loopback through the same `urls` config a user writes in `--venue-config`;
unmodified ccxt 4.5 talks to them). For each venue the events, applied to a plain book, equal the
fake's true book after every step and every fault, and trades keep their aggressor:
- binance: exchangeInfo filters -> tick/lot/minimums (fees: ccxt's table); depth snapshot +
  `depthUpdate` diffs with U/u; `trade` events (aggressor from `m`); faults: a sequence gap, a
  dropped connection, a stalled feed, a trade connection stalled alone (and a quiet tape not
  halted), unreachable at start then up; an unknown symbol; the config merge (a user's
  `options` kept, a `timeout` obeyed).
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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from velocimex_cli.engine.drivers.venues.ccxt_book import dec, levels, ms_time, number
from velocimex_cli.engine.drivers.venues.ccxt_markets import load_markets, spec_of, spot_market
from velocimex_cli.engine.drivers.venues.ccxt_venues import (
    BOOK_HASH,
    FULL_DEPTH,
    FeedFault,
    book_client,
    exchange_class,
    merged_config,
    reason_of,
    subscribed_client,
)
from velocimex_cli.engine.drivers.venues.ccxt_watchdog import StallWatchdog
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

Sleep = Callable[[float], Awaitable[None]]
# A book loop woken less than BATCH_BUSY seconds after its last wake waits BATCH_WAIT seconds
# before it reads the book's changes: the rest of the venue's burst, read meanwhile, joins the
# same BookChanges, one apply and one book delta instead of several (see the module docstring).
BATCH_BUSY = 0.020
BATCH_WAIT = 0.002


def _cancelled() -> bool:
    """Whether this task is being cancelled (not merely woken by a future ccxt cancelled)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Symbol:
    """One watched symbol's state between its book and trade loops."""

    __slots__ = ("book_client", "book_hash", "down", "queue", "reported", "stale_book", "woken")

    def __init__(self) -> None:
        self.woken = float("-inf")  # the loop time the book loop was last woken by an update
        self.book_client: Any = None  # ccxt's connection the book was last read from
        self.book_hash = ""  # ccxt's message hash of the book's updates
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
        self.exchange: Any = exchange_class(venue)(merged_config(venue, config))
        self.exchange.vmx_reasons = {}
        self.exchange.vmx_sequence = {}
        self.exchange.vmx_symbols = {}
        self.exchange.vmx_probes = {}
        self.exchange.vmx_tasks = set()
        self._depth = FULL_DEPTH.get(venue)

    # -- markets -------------------------------------------------------------------------

    async def _load_markets(self) -> dict[str, Any]:
        return await load_markets(self.exchange, self.venue)

    async def markets(self, symbols: Sequence[str]) -> list[MarketSpec]:
        markets = await self._load_markets()
        unknown = [s for s in symbols if spot_market(markets, s) is None]
        if unknown:
            raise UnknownSymbol(
                f"{self.venue} lists no active spot market {', '.join(unknown)}; "
                f"check the symbol (ccxt's unified form, e.g. BTC/USDT)"
            )
        return [spec_of(markets[s], self.exchange.precisionMode) for s in symbols]

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
        if spot_market(markets, symbol) is None:
            state.queue.put_nowait(
                UnknownSymbol(f"{self.venue} lists no active spot market {symbol}")
            )
            return False
        return True

    async def _next_book(self, symbol: str, state: _Symbol) -> Any:
        """ccxt's book of `symbol` once an update has changed it: awaited on its connection
        directly while that still carries the subscription, else through `watch_order_book`
        (which subscribes and connects again as needed)."""
        client = state.book_client
        message_hash = state.book_hash
        if book_client(self.exchange, client, message_hash):
            book = await client.future(message_hash)
            return book.limit()  # (as watch_order_book returns it)
        book = await self.exchange.watch_order_book(symbol, self._depth)
        state.book_client = subscribed_client(self.exchange, state.book_hash)
        return book

    async def _book_loop(self, symbol: str, state: _Symbol) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        queue = state.queue
        state.book_hash = BOOK_HASH.get(self.venue, "{}").format(symbol)
        while True:
            try:
                if not await self._check_symbol(symbol, state):
                    return
                while True:
                    book = await self._next_book(symbol, state)
                    now = loop.time()
                    if now - state.woken < BATCH_BUSY:  # a busy book: the burst's rest joins
                        await asyncio.sleep(BATCH_WAIT)
                    state.woken = now
                    if book.failure is not None:
                        raise FeedFault(book.failure)
                    asks = book["asks"]
                    bids = book["bids"]
                    if book.resynced or state.stale_book:
                        book.resynced = False
                        state.stale_book = False
                        state.down = False
                        state.reported = False
                        failures = 0
                        asks.changed = {}
                        bids.changed = {}
                        queue.put_nowait(
                            BookSnapshot(
                                symbol,
                                [(number(p), number(q)) for p, q, *_ in bids],
                                [(number(p), number(q)) for p, q, *_ in asks],
                                ms_time(book["timestamp"]),
                                self._clock(),
                            )
                        )
                        continue
                    if state.down:
                        asks.changed = {}
                        bids.changed = {}
                        continue
                    if not asks.changed and not bids.changed:
                        continue
                    bid_levels: list[Level] = levels(bids)
                    ask_levels: list[Level] = levels(asks)
                    queue.put_nowait(
                        BookChanges(
                            symbol,
                            bid_levels,
                            ask_levels,
                            ms_time(book["timestamp"]),
                            self._clock(),
                        )
                    )
            except asyncio.CancelledError:
                if _cancelled():
                    raise
                reason = self.exchange.vmx_reasons.pop(symbol, None) or "connection closed"
            except VenueUnavailable as exc:
                reason = exc.reason
            except Exception as exc:
                reason = self.exchange.vmx_reasons.pop(symbol, None) or reason_of(exc)
            state.book_client = None
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
                                dec(trade["price"]),
                                dec(trade["amount"]),
                                side,
                                None if trade.get("id") is None else str(trade["id"]),
                                ms_time(trade.get("timestamp")),
                                received,
                            )
                        )
            except asyncio.CancelledError:
                if _cancelled():
                    raise
                reason = "trade stream: connection closed"
            except VenueUnavailable as exc:
                reason = exc.reason
            except FeedFault as exc:
                reason = str(exc)  # the connection's fault, the book's too
            except Exception as exc:
                reason = f"trade stream: {reason_of(exc)}"
            # Trades may have been missed: halt until the book is yielded whole again.
            was_down = state.down
            self._down(symbol, state, reason)
            if not was_down:
                state.stale_book = True
            await self._sleep(min(self._max_backoff, self._backoff * 2**failures))
            failures = min(failures + 1, 16)

    async def _watchdog(self, symbol: str, state: _Symbol) -> None:
        """ccxt_watchdog.py: a connection of the symbol's that stopped delivering is dropped."""
        # Resting while the book resyncs; watching while the symbol waits for a whole book
        # after a trade stream's fault (its book connection must still deliver one).
        watchdog = StallWatchdog(
            self.exchange,
            self.venue,
            symbol,
            self._stall_after,
            lambda: state.down and not state.stale_book,
        )
        await watchdog.run()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.exchange.close()
