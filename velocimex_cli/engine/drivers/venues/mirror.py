"""The engine side of a mirrored venue: a real exchange's public books and trades applied to
the engine's own books, where users' orders trade on paper against them.

One `VenueFeed` per `VenueMirror` reads a `VenueSource` (feed.py; ccxt in production, a
scripted source in tests): first the venue's markets (markets.py makes them instruments,
retried with backoff while the venue cannot be reached), then one watch per symbol.

**The venue's liquidity is a volatile account.** The levels of a venue's book are the resting
orders of a simulated account (`venue-<id>`), kept in the engine's book through
`core/liquidity.Liquidity` (`set_book`: one C call per update when the C core is on), the same
mirror a backtest replays a recorded book through. Those orders are a view of the venue, not
state: nothing of them is stored, their changes go out on the book channel as ordinary book
deltas (`Liquidity.watch`/`announce`), and after a restart the venue's next snapshot rebuilds
them (`liquidity.drop_volatile` cancels whatever of them the store kept). A level the venue
shrinks loses the account's newest liquidity first, so a user's order that joined the level
keeps its place in the queue; a level that grows gets the new liquidity behind it.

**Users' orders are paper** and go through the normal command path: accepted, filled and
settled like any order, stored before they are answered; nothing leaves the machine.

**Fills: the queue model.** A venue trade (`TradePrint`) that reaches a price where a user's
order rests is taken through the book by a tape account's IOC (`tape-<id>`), as a backtest's
recorded trades are: it meets the liquidity ahead of the user's order first, so the order fills
only after the volume ahead of it has traded, and a print that does not reach it never fills it.
The venue's liquidity the print took is then put back behind the queue (the level's size is the
venue's to say, in its next book change, which also removes it from the back), so one trade is
never counted twice: the print moves the queue, the book changes size the levels. A print whose
exchange time is not after the last book change's is already in that book (the change removed
its volume, from the back): it moves no queue (the conservative side: a user's order may wait
longer than on the venue, never less). Prints that meet no user order are only printed
(`core/venue_prints.record_print`): the trades stream, the ticker and the stored trades (the
candles) see every venue trade either way.

Venue liquidity that would cross the book is placed (`Liquidity.add` through `Exchange.place`):
it trades with the users' orders it crosses, at their prices, as the venue's order would have
met them; the account's own liquidity on the other side that it crosses is stale (the venue's
book is never crossed) and goes first.

**Feed state.** Until a symbol's first snapshot, and from a `FeedDown` until the next snapshot,
its instrument is halted (`Exchange.halts`, `core/venue_gate.py`: users' orders that need the
book are refused with MARKET_CLOSED and the reason, resting orders stay, cancels work) and the
book channel says so (`book_status`, valid false). The next snapshot replaces the levels (those
it lacks go), sends `book_status` valid and a fresh snapshot, and counts a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.core.events import BookStatusEvent
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument, Venue, VenueKind
from velocimex_cli.engine.core.ledger import MAX_UNITS, Account, AccountKind
from velocimex_cli.engine.core.liquidity import Liquidity, drop_volatile
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.core.venue_prints import record_print
from velocimex_cli.engine.drivers.venues.book_apply import levels_of, set_levels
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    BookSnapshot,
    FeedDown,
    FeedEvent,
    MarketSpec,
    TradePrint,
    UnknownSymbol,
    VenueSource,
    VenueUnavailable,
)
from velocimex_cli.engine.drivers.venues.fills import in_book, take_print
from velocimex_cli.engine.drivers.venues.markets import (
    SpecError,
    SpecFile,
    chargeable,
    instrument_of,
    same_terms,
    with_fee_tier,
)
from velocimex_cli.engine.drivers.venues.spec import FeeTier, MirrorSpecError, VenueMirror, fee_tier
from velocimex_cli.engine.drivers.venues.status import AWAITING, FeedStatus
from velocimex_cli.wire.errors import StorageUnavailable
from velocimex_cli.wire.timefmt import iso, to_micros

log = logging.getLogger("vmx.engine.venues")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
SourceFactory = Callable[[VenueMirror, Mapping[str, Any], Clock], VenueSource]

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
COUNTERPARTY_FUNDS = MAX_UNITS // 4  # of each asset, as a backtest's (backtest/market.py)
ROLLED_BACK = "the engine rolled back to its stored state (a write failed); resyncing"
LIVE_EXTRA = "pip install 'velocimex-cli[live]'"


def require_ccxt() -> None:
    """Mirrors need ccxt (the `live` extra): refuse at once, saying how to install it."""
    try:  # found, not imported (the source imports it)
        found = importlib.util.find_spec("ccxt") is not None
    except (ImportError, ValueError):  # (ValueError: a module entry set to None)
        found = False
    if not found:
        raise MirrorSpecError(f"mirroring a venue needs ccxt, which is not installed: {LIVE_EXTRA}")


def ccxt_source(mirror: VenueMirror, config: Mapping[str, Any], clock: Clock) -> VenueSource:
    """The default source: ccxt.pro through `ccxt_source.CcxtSource`, imported only now."""
    try:
        module = importlib.import_module("velocimex_cli.engine.drivers.venues.ccxt_source")
    except ImportError as exc:
        raise MirrorSpecError(
            f"mirroring {mirror.venue} needs ccxt ({exc}): {LIVE_EXTRA}"
        ) from None
    source: VenueSource = module.CcxtSource(mirror.venue, config, clock)
    return source


def venue_account(venue: str) -> str:
    """The simulated account holding a venue's mirrored liquidity."""
    return f"venue-{venue}"


def tape_account(venue: str) -> str:
    """The simulated account whose IOCs take a venue's prints through users' orders."""
    return f"tape-{venue}"


@dataclass
class SymbolFeed:
    """One mirrored symbol: its instrument's mirror and whether its book is whole."""

    symbol: str
    liquidity: Liquidity
    valid: bool = False
    snapshots: int = 0
    last_book_time: datetime | None = None  # the exchange time of the last book message

    @property
    def instrument(self) -> Instrument:
        return self.liquidity.instrument


class VenueFeed:
    """One mirrored venue: its markets, a watch per symbol, its feed's state."""

    def __init__(
        self,
        exchange: Exchange,
        mirror: VenueMirror,
        source: VenueSource,
        clock: Clock,
        specs: SpecFile,
        sleep: Sleep = asyncio.sleep,
        tier: FeeTier | None = None,
    ) -> None:
        """`tier`: the user's own fee rates at the venue (the venue config's `vmx` entry), in
        place of those the venue states."""
        self.exchange = exchange
        self.mirror = mirror
        self.tier = tier
        self.source = source
        self.clock = clock
        self.specs = specs
        self.sleep = sleep
        self.status = FeedStatus(mirror.venue, mirror.exchange)
        self.venue = exchange.catalogue.venues.get(mirror.exchange) or Venue(
            mirror.exchange, VenueKind.CRYPTO
        )
        self.account = self._account(venue_account(mirror.venue))
        self.tape = self._account(tape_account(mirror.venue))
        self.feeds: dict[str, SymbolFeed] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: dict[str, asyncio.Task[None]] = {}
        dropped = drop_volatile(exchange, self.account)
        if dropped:
            log.info(
                "%s: dropped %d stored orders of the venue's past book", mirror.text(), dropped
            )
        for instrument in exchange.catalogue.instruments:
            if instrument.exchange == mirror.exchange:
                exchange.gated.add(instrument.index)
                if instrument.symbol in mirror.symbols:
                    self._track(instrument)

    # ------------------------------------------------------------------ set-up
    def _account(self, name: str) -> Account:
        exchange = self.exchange
        exchange.ensure_account(name, AccountKind.SIMULATED)
        return exchange.account(name)

    def _fund(self, instrument: Instrument) -> None:
        """The venue's side of the market never runs out (backtest/market.py's amount)."""
        for account in (self.account, self.tape):
            for asset in (instrument.base, instrument.quote):
                held = account.balance(asset)[0]
                if held < COUNTERPARTY_FUNDS // 2:
                    units = COUNTERPARTY_FUNDS - held
                    self.exchange.fund(account.name, asset, Decimal(units) / LEDGER_SCALE)

    def _track(self, instrument: Instrument) -> None:
        self._fund(instrument)
        liquidity = Liquidity(self.exchange, self.account, instrument, volatile=True)
        self.feeds[instrument.symbol] = SymbolFeed(instrument.symbol, liquidity)
        self._down(self.feeds[instrument.symbol], AWAITING, announce=False)

    def use_markets(self, specs: Sequence[MarketSpec]) -> None:
        """The venue's markets loaded: instruments for the mirrored symbols (new ones added,
        stand-ins replaced by the venue's terms while nothing rests on them), kept on disk as
        the venue states them (the user's fee tier is applied to what is traded, not kept)."""
        exchange = self.exchange
        usable: list[MarketSpec] = []
        for stated in specs:
            if stated.symbol not in self.mirror.symbols:
                continue
            spec = chargeable(with_fee_tier(stated, self.tier), self.mirror.exchange)
            feed = self.feeds.get(spec.symbol)
            try:
                if feed is None:
                    instrument = instrument_of(spec, len(exchange.catalogue.instruments),
                                               self.venue)  # fmt: skip
                    exchange.add_instrument(instrument)
                    exchange.gated.add(instrument.index)
                    self._track(instrument)
                elif not same_terms(feed.instrument, spec):
                    fresh = instrument_of(spec, feed.instrument.index, self.venue)
                    try:
                        exchange.replace_instrument(fresh)
                    except ValueError:
                        log.warning(
                            "%s %s: the venue now states other terms (tick %s, lot %s) than the "
                            "orders resting on it were placed on; they stay until a restart "
                            "with no order resting on it",
                            self.mirror.exchange, spec.symbol, spec.tick_size, spec.lot_size,
                        )  # fmt: skip
                        continue
                    self._fund(fresh)
                    feed.liquidity = Liquidity(exchange, self.account, fresh, volatile=True)
            except SpecError as exc:
                log.warning("%s: %s", self.mirror.exchange, exc)
                continue
            usable.append(stated)
        self.specs.save(self.mirror.venue, usable)

    # ------------------------------------------------------------------ running
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._tasks.append(loop.create_task(self._run()))

    async def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                specs = await self.source.markets(self.mirror.symbols)
                break
            except asyncio.CancelledError:
                raise
            except UnknownSymbol as exc:  # not retried: the mirror names a wrong symbol
                self.status.venue_reason = str(exc)
                log.error("%s: %s", self.mirror.text(), exc)
                return
            except VenueUnavailable as exc:
                reason = exc.reason
            except Exception as exc:  # a source's bug must not end the mirror
                reason = f"{type(exc).__name__}: {exc}"
            self.status.venue_reason = reason
            log.warning("%s: markets not loaded (%s); trying again in %g s", self.mirror.text(),
                        reason, delay)  # fmt: skip
            await self.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
        try:
            self.use_markets(specs)
        except StorageUnavailable as exc:
            self.status.venue_reason = f"the engine cannot store ({exc.details.get('reason')})"
            return
        self.status.venue_reason = None
        self._watch_all(asyncio.get_running_loop())

    def _watch_all(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)start a watch per symbol: a new watch begins with the venue's snapshot."""
        for feed in self.feeds.values():
            running = self._watches.pop(feed.symbol, None)
            if running is not None:
                running.cancel()
            self._watches[feed.symbol] = loop.create_task(self._watch(feed))

    def rolled_back(self) -> None:
        """The engine put its memory back to the stored state (a write failed): the venue's
        liquidity, never stored, is gone from the new books. Each symbol is halted and its
        watch started again, whose first snapshot rebuilds it."""
        account = self.account
        if not any(account.live_orders()):
            for balance in account.balances.values():
                balance[1] = 0  # (its stored figure is rewritten with the next write)
        for feed in self.feeds.values():
            feed.liquidity = Liquidity(self.exchange, account, feed.instrument, volatile=True)
            self._down(feed, ROLLED_BACK)
        if self._watches:
            self._watch_all(asyncio.get_running_loop())

    async def _watch(self, feed: SymbolFeed) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                async for event in self.source.watch(feed.symbol):
                    self.apply(feed, event)
                    if feed.valid:
                        delay = FIRST_RETRY_SECONDS
                reason = "the venue's stream ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("%s %s: feed failed (%s)", self.mirror.exchange, feed.symbol, reason)
            self._down(feed, reason)
            await self.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._watches.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        self._watches.clear()
        with contextlib.suppress(Exception):
            await self.source.close()

    # ------------------------------------------------------------------ events
    def apply(self, feed: SymbolFeed, event: FeedEvent) -> None:
        """One event of the symbol's feed (see feed.py for their order)."""
        if isinstance(event, BookChanges):  # the most frequent first
            if feed.valid:
                self._changes(feed, event)
        elif isinstance(event, TradePrint):
            self._print(feed, event)
        elif isinstance(event, BookSnapshot):
            self._snapshot(feed, event)
        elif isinstance(event, FeedDown):
            self._down(feed, event.reason)
        # Anything raised (StorageUnavailable: a crossing order the engine could not store)
        # ends this watch: the symbol is down until a new watch's snapshot (see `_watch`).

    def _changes(self, feed: SymbolFeed, event: BookChanges) -> None:
        self.status.message(event.exchange_time, event.received)
        feed.last_book_time = event.exchange_time
        instrument = feed.instrument
        self._set(feed, levels_of(instrument, event.bids), levels_of(instrument, event.asks))

    def _snapshot(self, feed: SymbolFeed, event: BookSnapshot) -> None:
        self.status.message(event.exchange_time, event.received)
        feed.last_book_time = event.exchange_time
        instrument, liquidity = feed.instrument, feed.liquidity
        bids, asks = levels_of(instrument, event.bids), levels_of(instrument, event.asks)
        keep_bids, keep_asks = {t for t, _ in bids}, {t for t, _ in asks}
        gone_bids = [(t, 0) for t in liquidity.prices(BUY) if t not in keep_bids]
        gone_asks = [(t, 0) for t in liquidity.prices(SELL) if t not in keep_asks]
        self._set(feed, gone_bids + bids, gone_asks + asks)
        if not feed.valid:
            feed.valid = True
            if feed.snapshots:
                self.status.reconnects += 1
            self.status.down.pop(feed.symbol, None)
            self.exchange.halts.pop(instrument.index, None)
            self._announce_status(feed, True, None)
        feed.snapshots += 1

    def _down(self, feed: SymbolFeed, reason: str, announce: bool = True) -> None:
        instrument = feed.instrument
        changed = feed.valid or self.status.down.get(feed.symbol) != reason
        feed.valid = False
        self.status.down[feed.symbol] = reason
        self.exchange.halts[instrument.index] = reason
        if announce and changed:
            self._announce_status(feed, False, reason)

    def _announce_status(self, feed: SymbolFeed, valid: bool, reason: str | None) -> None:
        exchange = self.exchange
        if not exchange._listeners:
            return
        instrument = feed.instrument
        exchange._pending_events.append(
            BookStatusEvent(
                instrument.exchange, instrument.symbol, valid, reason, iso(self.clock())
            )
        )
        exchange._commit()

    def _set(
        self, feed: SymbolFeed, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
    ) -> None:
        set_levels(feed.liquidity, bids, asks, to_micros(self.clock()))

    def _print(self, feed: SymbolFeed, event: TradePrint) -> None:
        self.status.message(event.exchange_time, event.received)
        if self.exchange.storage_refusal is not None:
            return  # (the engine refuses every change: the print can be neither stored nor met)
        instrument = feed.instrument
        ticks = instrument.ticks_of(event.price)
        lots = int(event.quantity / instrument.lot_size)
        if ticks is None or lots <= 0:
            return  # off the venue's own grid: nothing the engine can print
        taker = BUY if event.taker_side == "buy" else SELL
        left = lots
        if feed.valid and not in_book(event.exchange_time, feed.last_book_time):
            left = take_print(
                self.tape, feed.liquidity, taker, ticks, lots, to_micros(self.clock())
            )
        if left > 0:
            record_print(self.exchange, instrument, taker, ticks, left)

    # ------------------------------------------------------------------ views
    def book_status(self, symbol: str) -> tuple[bool, str | None] | None:
        feed = self.feeds.get(symbol)
        if feed is None:
            return None
        return feed.valid, self.status.down.get(symbol)


class VenueMirrors:
    """The node's driver for every mirrored venue."""

    def __init__(
        self,
        exchange: Exchange,
        mirrors: Sequence[VenueMirror],
        venue_config: Mapping[str, Mapping[str, Any]],
        factory: SourceFactory,
        clock: Clock,
        specs: SpecFile,
        halted: Mapping[str, str],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        for key, reason in halted.items():
            exchange_name, _, symbol = key.partition(":")
            instrument = exchange.catalogue.find(exchange_name, symbol)
            exchange.gated.add(instrument.index)
            exchange.halts[instrument.index] = reason
        self.venues = [
            VenueFeed(
                exchange,
                mirror,
                factory(mirror, venue_config.get(mirror.venue, {}), clock),
                clock,
                specs,
                sleep,
                fee_tier(venue_config.get(mirror.venue, {})),
            )
            for mirror in mirrors
        ]
        self._by_exchange = {v.mirror.exchange: v for v in self.venues}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for venue in self.venues:
            venue.start(loop)

    async def stop(self) -> None:
        for venue in self.venues:
            await venue.stop()

    def rolled_back(self) -> None:
        """The exchange's memory was put back to the stored state (node._storage_failed)."""
        for venue in self.venues:
            venue.rolled_back()

    def step(self) -> None:
        """(A stepped node reads no feed.)"""

    def close(self) -> None:
        """(The feeds are stopped by `stop`, on the loop.)"""

    def status_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The market status with each mirrored exchange's row from its feed."""
        now = self.clock()
        return [
            self._by_exchange[row["exchange"]].status.wire(now)
            if row["exchange"] in self._by_exchange
            else row
            for row in rows
        ]

    def book_status(self, exchange: str, symbol: str) -> tuple[bool, str | None] | None:
        """(valid, reason) of a mirrored instrument's book; None when it is not mirrored."""
        venue = self._by_exchange.get(exchange)
        if venue is None:
            return None
        return venue.book_status(symbol)
