"""Recorded markets replayed into the real matching engine.

Recorded liquidity becomes real resting orders of a `bt-market` account (the mirror) in the
engine's own book, and recorded trades become real orders of a `bt-tape` account that trade
against that book. A strategy's orders rest and match in the same book under the same
price-time priority and fees, so:

- queue position is real: an order joining a level rests behind the mirror's liquidity already
  there and fills only after the recorded trades have consumed it (the default `queue` fill
  model). With `touch`, the mirror's orders at a level a strategy joins are re-queued behind the
  strategy's order, so it fills as soon as the price trades there (optimistic).
- a level the recording shrinks loses the mirror's newest liquidity first: its newest orders
  go, and the newest that keeps some shrinks in place, keeping its queue position; a level it
  grows gets the new liquidity at the back of the queue (the mirror's last order grows when it
  is the last of its level, else a new mirror order joins behind).
- a recorded trade that finds no liquidity left (because the strategy already took it) trades
  what is there and no more.

A CSV of trades has no book: before each print the mirror makes a one-tick market around the
print's price with the print's size (see `prepare_print`), the strategy's due orders meet it,
then the tape takes the print.
"""

from __future__ import annotations

from decimal import Decimal

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument
from velocimex_cli.engine.core.ledger import Account, AccountKind
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, IOC, SELL, Order

MIRROR = "bt-market"
TAPE = "bt-tape"
FILL_MODELS = ("queue", "touch")
_FUNDS = 10**17  # ledger units: far beyond any recorded book, within the ledger's int64


class MarketReplay:
    def __init__(
        self,
        exchange: Exchange,
        clock: SimulatedClock,
        instrument: Instrument,
        fill_model: str = "queue",
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.instrument = instrument
        self.touch = fill_model == "touch"
        self.mirror = self._account(MIRROR)
        self.tape = self._account(TAPE)
        self.liquidity = Liquidity(exchange, self.mirror, instrument)
        # side -> price ticks -> the mirror's live orders at that level, oldest first
        self._levels: dict[int, dict[int, list[Order]]] = {BUY: {}, SELL: {}}

    def _account(self, name: str) -> Account:
        exchange = self.exchange
        exchange.ensure_account(name, AccountKind.SIMULATED)
        account = exchange.ledger.accounts[name]
        for asset in (self.instrument.base, self.instrument.quote):
            exchange.fund(name, asset, Decimal(_FUNDS) / LEDGER_SCALE)
        return account

    # -------------------------------------------------------------- the recorded book
    def _live(self, side: int, ticks: int) -> list[Order]:
        orders = self._levels[side].get(ticks)
        if not orders:
            return []
        alive = [o for o in orders if o.resting]
        if len(alive) != len(orders):
            if alive:
                self._levels[side][ticks] = alive
            else:
                del self._levels[side][ticks]
        return alive

    def set_level(self, side: int, ticks: int, lots: int) -> None:
        """Make the mirror's resting quantity at (side, ticks) equal the recorded `lots`."""
        levels = self._levels[side]
        orders = levels.get(ticks)
        if orders is None:
            if lots:
                order = self.liquidity.add(side, ticks, lots, self.clock.micros)
                if order.resting:
                    levels[ticks] = [order]
            return
        held = 0
        for order in orders:
            if not order.resting:  # traded away since: drop what no longer rests
                orders = self._live(side, ticks)
                held = sum(o.remaining for o in orders)
                break
            held += order.remaining
        if held == lots:
            return
        liquidity = self.liquidity
        now = self.clock.micros
        while held > lots:  # the newest liquidity goes first
            newest = orders[-1]
            left = newest.remaining
            if held - left < lots:
                liquidity.resize(newest, lots - held + left, now)
                held = lots
            else:
                orders.pop()
                liquidity.remove(newest, now)
                held -= left
        if lots > held:
            newest = orders[-1] if orders else None
            grown = newest is not None and liquidity.resize(
                newest, newest.remaining + lots - held, now
            )
            if not grown:
                order = liquidity.add(side, ticks, lots - held, now)
                if order.resting:
                    orders.append(order)
        if orders:
            self._levels[side][ticks] = orders
        else:
            self._levels[side].pop(ticks, None)

    def book(self, reset: bool, bids: tuple, asks: tuple) -> None:
        if reset:
            keep_bids = {t for t, _ in bids}
            keep_asks = {t for t, _ in asks}
            for ticks in [t for t in self._levels[BUY] if t not in keep_bids]:
                self.set_level(BUY, ticks, 0)
            for ticks in [t for t in self._levels[SELL] if t not in keep_asks]:
                self.set_level(SELL, ticks, 0)
        set_level = self.set_level
        for ticks, lots in bids:
            set_level(BUY, ticks, lots)
        for ticks, lots in asks:
            set_level(SELL, ticks, lots)
        self.liquidity.publish()

    # -------------------------------------------------------------- recorded trades
    def trade(self, side: int, ticks: int, lots: int) -> None:
        """A recorded print: the aggressor `side` took `lots` at `ticks`, through the engine."""
        self.exchange.place(self.tape, self.instrument, side, lots, ticks, IOC)

    def prepare_print(self, side: int, ticks: int, lots: int) -> None:
        """Before a print from trades-only data, which has no book: a one-tick market around it.

        The passive side holds at least the print's size at its price and the other side the
        same size one tick away; every other mirror level is withdrawn. Liquidity the mirror
        already holds at the print's price stays where it is in the queue (the `queue` model's
        estimate of the queue ahead: a strategy order that joined later waits behind it), new
        liquidity joins the back. Orders the strategy sends now meet this book; then
        `take_print` lets the recorded aggressor trade.
        """
        passive = SELL if side == BUY else BUY
        away = ticks + 1 if passive == BUY else ticks - 1
        for level_side in (BUY, SELL):
            keep = ticks if level_side == passive else away
            for level in [lv for lv in self._levels[level_side] if lv != keep]:
                self.set_level(level_side, level, 0)
        held = sum(o.remaining for o in self._live(passive, ticks))
        if held < lots:
            self.set_level(passive, ticks, lots)
        if away > 0:
            self.set_level(side, away, lots)
        self.liquidity.publish()

    def take_print(self, side: int, ticks: int, lots: int) -> None:
        """The recorded aggressor trades; with the `queue` model the passive side then holds
        the print's size again, at the back of the queue: whoever waited behind the liquidity
        the print took is now ahead of it."""
        self.exchange.place(self.tape, self.instrument, side, lots, ticks, IOC)
        if not self.touch:
            passive = SELL if side == BUY else BUY
            held = sum(o.remaining for o in self._live(passive, ticks))
            if held < lots:
                self.set_level(passive, ticks, lots)
                self.liquidity.publish()

    def strategy_joined(self, side: int, ticks: int) -> None:
        """`touch` model: the mirror's orders at the level a strategy order joined go behind it."""
        if not self.touch:
            return
        orders = self._live(side, ticks)
        if orders:
            lots = sum(o.remaining for o in orders)
            now = self.clock.micros
            for order in orders:
                self.liquidity.remove(order, now)
            self._levels[side].pop(ticks, None)
            self.set_level(side, ticks, lots)
            self.liquidity.publish()
