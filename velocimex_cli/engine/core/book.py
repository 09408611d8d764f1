"""A central limit order book with price-time priority, in integer ticks and lots.

Each side is a dict price -> Level plus a sorted list of keys whose best entry is last (bids
by price, asks by negated price), so the best level is found in O(1) and levels are added and
removed with a binary search. A level keeps its orders in a deque in arrival order. Canceling
is O(1): the order is unlinked from the level's totals and marked not resting, and the matcher
drops such entries when it reaches them (a level compacts itself when they pile up).

`OrderBook` is the C type from `book.c` (sorted level arrays, an intrusive FIFO per level,
true O(1) cancels) whenever orders.py selected the C `Order`; otherwise it is `PyOrderBook`
below, which is also the reference the C type follows. `NATIVE` says which one is active. The
C book takes only C orders, and refuses with ValueError to rest an order that already rests or
to remove one that does not rest in it (the Python book would corrupt its totals).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import TYPE_CHECKING

from velocimex_cli.engine.core.orders import BUY, NATIVE, Order


class Level:
    __slots__ = ("count", "orders", "price", "quantity")

    def __init__(self, price: int) -> None:
        self.price = price
        self.quantity = 0
        self.count = 0
        self.orders: deque[Order] = deque()


Fill = tuple[Order, int, int]  # (maker, lots, price in ticks)


class PyOrderBook:
    __slots__ = ("ask_keys", "asks", "bid_keys", "bids", "changed", "sequence", "touched")

    def __init__(self) -> None:
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []  # ascending prices, best bid last
        self.ask_keys: list[int] = []  # ascending negated prices, best ask last
        self.sequence = 0
        self.changed = False
        # Levels changed during the current command, (side, price); None when nobody listens.
        self.touched: set[tuple[int, int]] | None = None

    # -- queries ---------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self.bid_keys[-1] if self.bid_keys else None

    def best_ask(self) -> int | None:
        return -self.ask_keys[-1] if self.ask_keys else None

    def level_quantity(self, side: int, price: int) -> int:
        level = (self.bids if side == BUY else self.asks).get(price)
        return level.quantity if level is not None else 0

    def depth(self, side: int, levels: int) -> list[tuple[int, int]]:
        """(price, quantity) of the best `levels` levels of one side, best first."""
        if side == BUY:
            book, keys = self.bids, self.bid_keys
            return [(p, book[p].quantity) for p in reversed(keys[-levels:])] if levels else []
        book, keys = self.asks, self.ask_keys
        return [(-k, book[-k].quantity) for k in reversed(keys[-levels:])] if levels else []

    def resting_orders(self, side: int) -> list[Order]:
        """Every resting order of a side, best price first, then time priority."""
        if side == BUY:
            levels = [self.bids[p] for p in reversed(self.bid_keys)]
        else:
            levels = [self.asks[-k] for k in reversed(self.ask_keys)]
        return [o for level in levels for o in level.orders if o.resting]

    def level_orders(self, side: int, price: int) -> list[Order]:
        """The orders resting at one level, oldest first."""
        level = (self.bids if side == BUY else self.asks).get(price)
        return [o for o in level.orders if o.resting] if level is not None else []

    def resting_count(self) -> int:
        """How many orders rest in the book, both sides."""
        return sum(level.count for level in self.bids.values()) + sum(
            level.count for level in self.asks.values()
        )

    def crosses(self, side: int, price: int) -> bool:
        """Would a limit order at `price` on `side` take liquidity?"""
        if side == BUY:
            return bool(self.ask_keys) and price >= -self.ask_keys[-1]
        return bool(self.bid_keys) and price <= self.bid_keys[-1]

    def fillable(self, side: int, limit: int, lots: int, account: str) -> int:
        """How much of `lots` an order could fill up to `limit`, not counting `account`'s own."""
        found = 0
        if side == BUY:
            for key in reversed(self.ask_keys):
                if -key > limit:
                    break
                for maker in self.asks[-key].orders:
                    if maker.resting and maker.account != account:
                        found += maker.quantity - maker.filled
                        if found >= lots:
                            return lots
        else:
            for price in reversed(self.bid_keys):
                if price < limit:
                    break
                for maker in self.bids[price].orders:
                    if maker.resting and maker.account != account:
                        found += maker.quantity - maker.filled
                        if found >= lots:
                            return lots
        return found

    # -- changes ---------------------------------------------------------------------------
    def rest(self, order: Order) -> None:
        """Put an order's remaining quantity at the back of its price level."""
        price = order.price
        if order.side == BUY:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = Level(price)
                insort(self.bid_keys, price)
        else:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = Level(price)
                insort(self.ask_keys, -price)
        level.orders.append(order)
        level.quantity += order.quantity - order.filled
        level.count += 1
        order.resting = True
        self.changed = True
        if self.touched is not None:
            self.touched.add((order.side, price))

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (cancel)."""
        price = order.price
        side = order.side
        levels = self.bids if side == BUY else self.asks
        level = levels[price]
        level.quantity -= order.quantity - order.filled
        level.count -= 1
        order.resting = False
        if level.count == 0:
            self._drop_level(side, price)
        elif len(level.orders) > 2 * level.count + 16:
            level.orders = deque(o for o in level.orders if o.resting)
        self.changed = True
        if self.touched is not None:
            self.touched.add((side, price))

    def resize(self, order: Order, remaining: int) -> bool:
        """Set a resting order's remaining lots in place, keeping its place in the queue.
        Shrinking is always allowed; growing only for the last order of its level (nothing
        behind it loses priority), else False and nothing changes."""
        if not order.resting:
            raise ValueError(f"order {order.id} is not resting in this book")
        if remaining <= 0:
            raise ValueError("remaining must be positive (remove the order instead)")
        level = (self.bids if order.side == BUY else self.asks)[order.price]
        delta = remaining - (order.quantity - order.filled)
        if delta > 0 and next(o for o in reversed(level.orders) if o.resting) is not order:
            return False
        if delta:
            order.quantity = order.filled + remaining
            level.quantity += delta
            self.changed = True
            if self.touched is not None:
                self.touched.add((order.side, order.price))
        return True

    def _drop_level(self, side: int, price: int) -> None:
        if side == BUY:
            del self.bids[price]
            keys, key = self.bid_keys, price
        else:
            del self.asks[price]
            keys, key = self.ask_keys, -price
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def take(
        self, side: int, account: str, limit: int, lots: int, self_trades: list[Order]
    ) -> list[Fill]:
        """Match an incoming order against the opposite side, best price first, up to `limit`.

        Fills update the makers' `filled`; a maker of the same account is taken out of the book
        and appended to `self_trades` (self-trade prevention cancels the resting order).
        """
        fills: list[Fill] = []
        touched = self.touched
        if side == BUY:
            levels, keys, sign, maker_side = self.asks, self.ask_keys, -1, 1
        else:
            levels, keys, sign, maker_side = self.bids, self.bid_keys, 1, 0
        while lots and keys:
            price = keys[-1] * sign
            if (price > limit) if side == BUY else (price < limit):
                break
            level = levels[price]
            orders = level.orders
            while lots and orders:
                maker = orders[0]
                if not maker.resting:
                    orders.popleft()
                    continue
                available = maker.quantity - maker.filled
                if maker.account == account:
                    orders.popleft()
                    maker.resting = False
                    level.quantity -= available
                    level.count -= 1
                    self_trades.append(maker)
                    continue
                if available <= lots:
                    orders.popleft()
                    maker.resting = False
                    level.count -= 1
                    maker.filled += available
                    level.quantity -= available
                    lots -= available
                    fills.append((maker, available, price))
                else:
                    maker.filled += lots
                    level.quantity -= lots
                    fills.append((maker, lots, price))
                    lots = 0
            if touched is not None:
                touched.add((maker_side, price))
            self.changed = True
            if level.count == 0:
                del levels[price]
                keys.pop()
        return fills


if TYPE_CHECKING:  # the C type follows the Python one method for method: check against that
    OrderBook = PyOrderBook
elif NATIVE:
    from velocimex_cli.engine.core._native import OrderBook
else:
    OrderBook = PyOrderBook
