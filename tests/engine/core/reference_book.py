"""A deliberately naive reference exchange for the matching model test.

Written from the rules in docs/api.md, independently of the engine's book: every resting order
of every instrument sits in one plain list, and each question ("what is the best ask?", "who is
next in the queue?") re-filters and re-sorts that list by (price, arrival). Balances are plain
totals per (account, asset); what is locked is never stored, it is recomputed from the live
orders every time it is needed. Slow and obvious on purpose.

Units: prices in ticks, quantities in lots, amounts in ledger units of 10**-8 of an asset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SCALE = 10**8
BPS = 10_000
LIVE = ("open", "partially_filled")


@dataclass(frozen=True)
class Market:
    """What the reference needs to know about an instrument, taken from its public dict."""

    key: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal

    @property
    def lot_units(self) -> int:
        return int(self.lot_size * SCALE)

    @property
    def notional_units(self) -> int:
        """Ledger units of quote for one tick times one lot."""
        return int(self.tick_size * self.lot_size * SCALE)


@dataclass
class RefOrder:
    seq: int  # arrival number: the time priority
    account: str
    market: Market
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    tif: str  # "gtc" | "ioc" | "fok"
    post_only: bool
    price: int  # ticks; a market order's is its protection bound
    quantity: int  # lots
    filled: int = 0
    status: str = "open"
    reason: str | None = None
    resting: bool = False

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True)
class RefFill:
    maker: int  # seq of the resting order
    taker: int  # seq of the incoming order
    price: int
    lots: int


@dataclass(frozen=True)
class Insufficient:
    """The order was refused for lack of funds; nothing changed."""

    asset: str
    required: int
    available: int


def lock_needed(order: RefOrder, lock_bps: int) -> int:
    """What a live order must hold: a buy its remaining notional plus the fee at the higher
    rate (rounded down), a sell its remaining base."""
    if order.side == "buy":
        notional = order.price * order.remaining * order.market.notional_units
        return notional + notional * lock_bps // BPS
    return order.remaining * order.market.lot_units


@dataclass
class ReferenceExchange:
    markets: dict[str, Market]
    maker_bps: int
    taker_bps: int
    protection_bps: int
    orders: list[RefOrder] = field(default_factory=list)
    resting: list[RefOrder] = field(default_factory=list)
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    funded: dict[str, int] = field(default_factory=dict)
    fills: list[RefFill] = field(default_factory=list)
    fee_account: str = "fees"

    # ------------------------------------------------------------------ ledger
    def fund(self, account: str, asset: str, units: int) -> None:
        self.totals[(account, asset)] = self.totals.get((account, asset), 0) + units
        self.funded[asset] = self.funded.get(asset, 0) + units

    def _move(self, account: str, asset: str, units: int) -> None:
        self.totals[(account, asset)] = self.totals.get((account, asset), 0) + units

    @property
    def lock_bps(self) -> int:
        return max(self.maker_bps, self.taker_bps)

    def locked(self, account: str, asset: str) -> int:
        total = 0
        for order in self.orders:
            if not order.live or order.account != account:
                continue
            held = order.market.quote if order.side == "buy" else order.market.base
            if held == asset:
                total += lock_needed(order, self.lock_bps)
        return total

    def available(self, account: str, asset: str) -> int:
        return self.totals.get((account, asset), 0) - self.locked(account, asset)

    # ------------------------------------------------------------------ book queries
    def side_queue(self, market: Market, side: str) -> list[RefOrder]:
        """Resting orders of one side, in matching priority: best price, then arrival."""
        mine = [o for o in self.resting if o.market is market and o.side == side]
        if side == "buy":
            return sorted(mine, key=lambda o: (-o.price, o.seq))
        return sorted(mine, key=lambda o: (o.price, o.seq))

    def best(self, market: Market, side: str) -> int | None:
        queue = self.side_queue(market, side)
        return queue[0].price if queue else None

    def levels(self, market: Market, side: str) -> list[tuple[int, int]]:
        """Aggregated (price, lots) per level, best first."""
        result: list[tuple[int, int]] = []
        for order in self.side_queue(market, side):
            if result and result[-1][0] == order.price:
                result[-1] = (order.price, result[-1][1] + order.remaining)
            else:
                result.append((order.price, order.remaining))
        return result

    @staticmethod
    def _reachable(side: str, limit: int, price: int) -> bool:
        return price <= limit if side == "buy" else price >= limit

    # ------------------------------------------------------------------ commands
    def place(
        self,
        account: str,
        market: Market,
        side: str,
        type_: str,
        tif: str,
        post_only: bool,
        lots: int,
        price: int | None,
    ) -> RefOrder | Insufficient:
        opposite = "sell" if side == "buy" else "buy"
        best_opposite = self.best(market, opposite)
        reject: str | None = None
        if type_ == "market":
            if best_opposite is None:
                reject, price = "no_liquidity", 0
            elif side == "buy":
                # ceil(best_ask * (1 + bps)) without floats
                price = -(-best_opposite * (BPS + self.protection_bps) // BPS)
            else:
                price = max(1, best_opposite * (BPS - self.protection_bps) // BPS)
        assert price is not None
        order = RefOrder(
            seq=len(self.orders),
            account=account,
            market=market,
            side=side,
            type=type_,
            tif=tif,
            post_only=post_only,
            price=price,
            quantity=lots,
        )
        if reject is None:
            asset = market.quote if side == "buy" else market.base
            required = lock_needed(order, self.lock_bps)
            available = self.available(account, asset)
            if required > available:
                return Insufficient(asset, required, available)
        self.orders.append(order)
        would_take = best_opposite is not None and self._reachable(side, price, best_opposite)
        if reject is None and post_only and would_take:
            reject = "post_only_would_take"
        if reject is not None:
            order.status, order.reason = "rejected", reject
            return order
        if tif == "fok":
            fillable = sum(
                maker.remaining
                for maker in self.side_queue(market, opposite)
                if maker.account != account and self._reachable(side, price, maker.price)
            )
            if fillable < lots:
                order.status, order.reason = "canceled", "fok_not_fillable"
                return order
        self._match(order, opposite)
        if order.remaining == 0:
            order.status = "filled"
        elif tif == "gtc":
            order.status = "partially_filled" if order.filled else "open"
            order.resting = True
            self.resting.append(order)
        else:
            order.status = "canceled"
            if type_ == "market":
                still = self.best(market, opposite) is not None
                order.reason = "market_protection" if still else "no_liquidity"
            else:
                order.reason = "ioc_remainder"
        return order

    def _match(self, taker: RefOrder, opposite: str) -> None:
        market = taker.market
        while taker.remaining:
            queue = self.side_queue(market, opposite)
            if not queue or not self._reachable(taker.side, taker.price, queue[0].price):
                return
            maker = queue[0]
            if maker.account == taker.account:
                # Self-trade prevention: the resting order goes, matching goes on.
                self._take_out(maker, "canceled", "self_trade_prevention")
                continue
            lots = min(maker.remaining, taker.remaining)
            self._trade(maker, taker, maker.price, lots)
            if maker.remaining == 0:
                self._take_out(maker, "filled", None)
            else:
                maker.status = "partially_filled"

    def _trade(self, maker: RefOrder, taker: RefOrder, price: int, lots: int) -> None:
        market = maker.market
        notional = price * lots * market.notional_units
        base_units = lots * market.lot_units
        maker_fee = notional * self.maker_bps // BPS
        taker_fee = notional * self.taker_bps // BPS
        buyer, seller = (taker, maker) if taker.side == "buy" else (maker, taker)
        buyer_fee = taker_fee if buyer is taker else maker_fee
        seller_fee = taker_fee if seller is taker else maker_fee
        self._move(buyer.account, market.quote, -(notional + buyer_fee))
        self._move(buyer.account, market.base, base_units)
        self._move(seller.account, market.base, -base_units)
        self._move(seller.account, market.quote, notional - seller_fee)
        self._move(self.fee_account, market.quote, buyer_fee + seller_fee)
        maker.filled += lots
        taker.filled += lots
        self.fills.append(RefFill(maker.seq, taker.seq, price, lots))

    def _take_out(self, order: RefOrder, status: str, reason: str | None) -> None:
        order.status, order.reason, order.resting = status, reason, False
        self.resting.remove(order)

    def cancel(self, order: RefOrder) -> bool:
        """Cancel by the user; False when the order is no longer live."""
        if not order.live:
            return False
        order.status, order.reason = "canceled", "canceled_by_user"
        if order.resting:
            self._take_out(order, "canceled", "canceled_by_user")
        return True

    def cancel_all(self, account: str, market: Market | None) -> list[RefOrder]:
        targets = [
            o
            for o in self.orders
            if o.live and o.account == account and (market is None or o.market is market)
        ]
        for order in targets:
            self.cancel(order)
        return targets
