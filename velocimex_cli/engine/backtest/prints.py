"""Trades-only data replayed into the real matching engine: the fill model of a market whose
book is not in the data (a CSV of trades, an imported Binance file, Tardis `trades` alone).

What a print says, and what the replay makes of it (docs/backtests.md, "Trades-only data"):

- **The market the strategy sees** is the one the last print implies, as real resting orders
  of the mirror account (`bt-market`) in the engine's book: the side the print hit holds the
  print's size at its price, the other side the same size one tick away (a sell print at 100.00
  shows a bid of its size at 100.00 and an ask at 100.01). Best bid, ask, mid, `on_book` and
  the report's marks all read that book. It never crosses the strategy's own resting orders:
  the side that would is shown one tick beyond them.
- **A marketable order** (a market order, or a limit at or through that market) arrives after
  the print it waited for (the backtest's latency rule) and fills against that market in the
  engine, as a taker, paying the taker fee: a buy at the last print's price when that print
  was a buy (it took the ask there), else one tick above it; at most the last print's size,
  as any order meeting that book would. The rest of a market order is canceled (it is
  immediate-or-cancel); the rest of a limit order rests at its price.
- **A resting limit order** fills only when prints reach its price, never by a print that did
  not. A print strictly *through* its price (a sell print below a resting buy) has consumed
  everything ahead of it: it fills the order up to the print's size. A print *at* its price
  first consumes the queue ahead of the order, then fills it. The queue ahead is estimated
  when the order comes to rest: the size of the last print at that exact price (0 when
  nothing has printed there yet), and never less than the queue ahead of the strategy's own
  earlier orders at that price (they are ahead of it). Each print at the price shortens it.
  A print's size is shared in price-time priority: orders at better prices first, then at the
  print's price, each after its queue; the strategy never fills more than the print's size.
  The `touch` model has no queue ahead: an order fills as soon as a print reaches its price.

Design: the fills are the engine's. The replay only decides how much of a print reaches the
strategy's orders (`_reach`: the queue arithmetic above), withdraws the mirror's shown market
from the print's way, and has the tape account (`bt-tape`) trade exactly that much at the
print's price through `Exchange.place`, an immediate-or-cancel order: the engine's matching
fills the strategy's orders in price-time priority (which the allotment follows, so the
engine fills exactly what the model gave), at their own limit prices, with the engine's maker
fees, balances, ledger and order events. A print that reaches none of the strategy's orders
does not enter the engine at all: nothing in the engine would change but the market shown,
which the mirror moves directly (`Liquidity.set_book`, in C with the C core). That is what
makes trades-only data replay faster than a book: a print costs one change of two levels,
while the old model (a one-tick market built around every print and the print traded
against it) cost two level changes, a full order command and a refill.

Every print reaches the engine's listeners as one public trade, as it would live: the parts
that filled the strategy as the engine's own trades (at the strategy's prices), the rest as a
trade event of the print's remaining size at its price, with the engine's next trade id. With
no listener (a replay without a strategy) no event is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.liquidity import mirror_book
from velocimex_cli.engine.core.orders import BUY, IOC, SELL

if TYPE_CHECKING:
    from velocimex_cli.engine.backtest.clock import SimulatedClock
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.ledger import Account
    from velocimex_cli.engine.core.liquidity import Liquidity
    from velocimex_cli.engine.core.orders import Order


class PrintMarket:
    """The trades-only market of one instrument: the shown market, the strategy's queues."""

    def __init__(
        self,
        exchange: Exchange,
        clock: SimulatedClock,
        instrument: Instrument,
        liquidity: Liquidity,
        tape: Account,
        touch: bool,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.instrument = instrument
        self.liquidity = liquidity
        self.tape = tape
        self.touch = touch
        self.strategy: Account | None = None  # whose orders prints may fill (`follow`)
        self.shown: tuple[int, int, int] = (0, 0, 0)  # bid, ask (0: none), lots of each
        self.printed: dict[int, int] = {}  # ticks -> size of the last print there
        self.ahead: dict[int, int] = {}  # a strategy order's id -> market lots ahead of it
        self._book = exchange.book(instrument)
        self._sequence = -1  # the book's sequence when the shown market was last set
        self._listeners = -1  # how many listeners `_check_quiet` saw
        self._mirror = (
            exchange,
            liquidity.account,
            instrument,
            self._book,
            liquidity._quote,
            liquidity._base,
        )

    def follow(self, account: Account) -> None:
        """Prints may fill `account`'s resting orders from now on."""
        self.strategy = account

    # -------------------------------------------------------------- one print
    def trade(self, side: int, ticks: int, lots: int) -> None:
        """The recorded aggressor `side` took `lots` at `ticks`."""
        strategy = self.strategy
        exchange = self.exchange
        if side == BUY:  # it took the ask: the bid is a tick under
            bid, ask = ticks - 1, ticks
        else:
            bid, ask = ticks, ticks + 1
        rest = lots
        if strategy is not None:
            if strategy.open_orders:
                reached = self._reach(strategy, side, ticks, lots)
                if reached:
                    self._set_shown(0, 0, 0)  # out of the print's way
                    exchange.place(self.tape, self.instrument, side, reached, ticks, IOC)
                    rest -= reached
            self.printed[ticks] = lots
        # The print (or what is left of it past the strategy's fills) as a public trade; with
        # no strategy, nobody's orders to fill and nobody to tell but the listeners.
        trade_id = exchange.next_trade_id
        exchange.next_trade_id = trade_id + 1
        if rest and exchange._listeners and exchange._trade_events:
            event = TradeEvent(self.instrument, trade_id, ticks, rest, side, self.clock.micros)
            for listener in exchange._listeners:
                listener(event)
        if strategy is not None and strategy.open_orders:
            bid, ask = self._clear_of(strategy, bid, ask)
        self._set_shown(bid, ask, lots)

    def _resting(self, strategy: Account, side: int) -> list[Order]:
        # The book holds the shown market and the strategy's orders, nothing else: reading it
        # is cheaper than the account's orders, which keep every order it ever placed.
        name = strategy.name
        return [o for o in self._book.resting_orders(side) if o.account == name]

    def _reach(self, strategy: Account, side: int, ticks: int, lots: int) -> int:
        """How much of a print of `lots` at `ticks` fills the strategy's resting orders (the
        model above); the queues ahead at `ticks` are shortened by what it consumed."""
        passive = SELL if side == BUY else BUY
        if passive == BUY:
            orders = [o for o in self._resting(strategy, BUY) if o.price >= ticks]
            orders.sort(key=lambda o: -o.price)
        else:
            orders = [o for o in self._resting(strategy, SELL) if o.price <= ticks]
            orders.sort(key=lambda o: o.price)
        if not orders:
            return 0
        ahead = self.ahead
        left = lots
        reached = 0
        consumed = 0  # market lots ahead at `ticks` the print took
        at_price: list[Order] = []
        for order in orders:  # stable sort: the book's time order within a price (ids rise)
            if order.price != ticks:  # through: nothing is left ahead of it
                ahead[order.id] = 0
                take = min(left, order.remaining)
            else:
                at_price.append(order)
                gap = ahead.get(order.id, 0) - consumed
                if gap > 0:
                    eaten = min(left, gap)
                    consumed += eaten
                    left -= eaten
                take = min(left, order.remaining)
            reached += take
            left -= take
            if not left:
                break
        if consumed:
            for order in self._resting(strategy, passive):
                if order.price == ticks and order.id in ahead:
                    ahead[order.id] = max(0, ahead[order.id] - consumed)
        return reached

    def joined(self, side: int, ticks: int) -> None:
        """A strategy order came to rest at (side, ticks): its queue ahead is estimated."""
        strategy = self.strategy
        if strategy is None:
            return
        ahead = self.ahead
        if len(ahead) > strategy.open_orders + 1000:  # forget orders gone from the book
            live = {o.id for side_ in (BUY, SELL) for o in self._resting(strategy, side_)}
            for order_id in [i for i in ahead if i not in live]:
                del ahead[order_id]
        estimate = 0 if self.touch else self.printed.get(ticks, 0)
        level = sorted(
            (o for o in self._resting(strategy, side) if o.price == ticks), key=lambda o: o.id
        )
        floor = 0
        for order in level:
            if order.id in ahead:
                floor = max(floor, ahead[order.id])
            else:
                ahead[order.id] = floor = max(floor, estimate)

    # -------------------------------------------------------------- the shown market
    def _clear_of(self, strategy: Account, bid: int, ask: int) -> tuple[int, int]:
        """The shown (bid, ask) moved so as not to cross the strategy's resting orders."""
        bids = [o.price for o in self._resting(strategy, BUY)]
        asks = [o.price for o in self._resting(strategy, SELL)]
        if bids:
            ask = max(ask, max(bids) + 1)
        if asks:
            bid = min(bid, min(asks) - 1)
        return bid, ask

    def _set_shown(self, bid: int, ask: int, lots: int) -> None:
        """The mirror's shown market made (bid, ask) with `lots` each (0: no level)."""
        old_bid, old_ask, old_lots = self.shown
        book = self._book
        if book.sequence != self._sequence:  # an order took or joined it: set both levels
            old_lots = -1
        elif bid == old_bid and ask == old_ask and lots == old_lots:
            return
        if bid < 0:
            bid = 0
        self.shown = (bid, ask, lots)
        if bid == old_bid:
            bids = [(bid, lots)] if lots != old_lots and bid else []
        elif old_bid:
            bids = [(old_bid, 0), (bid, lots)] if bid else [(old_bid, 0)]
        else:
            bids = [(bid, lots)] if bid else []
        if ask == old_ask:
            asks = [(ask, lots)] if lots != old_lots and ask else []
        elif old_ask:
            asks = [(old_ask, 0), (ask, lots)] if ask else [(old_ask, 0)]
        else:
            asks = [(ask, lots)] if ask else []
        if bid and old_ask and bid >= old_ask:  # up: the old ask goes before the bid comes
            self._set_levels(bids[:-1], asks)
            self._set_levels(bids[-1:], [])
        elif (  # the common case in one C call, what `_set_levels` would do after its checks
            mirror_book is not None
            and (exchange := self.exchange)._store is None
            and len(exchange._listeners) == self._listeners
        ):
            now = self.clock.micros
            if mirror_book(*self._mirror, bids, asks, 0, now) < len(bids) + len(asks):
                self.liquidity.set_book(bids, asks, now)  # the rest level by level
        else:
            self._set_levels(bids, asks)
        self._sequence = book.sequence

    def _set_levels(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        """`Liquidity.set_book`, calling the C core's batch directly when it is there (what
        set_book checks on every call is checked when the listeners change)."""
        exchange = self.exchange
        if mirror_book is None or exchange._store is not None:
            self.liquidity.set_book(bids, asks, self.clock.micros)
            return
        if len(exchange._listeners) != self._listeners:
            self.liquidity._check_quiet()
            self._listeners = len(exchange._listeners)
        now = self.clock.micros
        if mirror_book(*self._mirror, bids, asks, 0, now) < len(bids) + len(asks):
            self.liquidity.set_book(bids, asks, now)  # the rest level by level (no-op if done)
