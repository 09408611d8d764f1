"""Pure market making, with Hummingbot's parameter names: quote `order_levels` bids and asks
of `order_amount` around the mid, `bid_spread`/`ask_spread` percent away (each further level
another `order_level_spread` percent), refresh every `order_refresh_time` seconds and whenever
the mid moves more than `order_refresh_tolerance_pct` percent, and never hold more than
`max_inventory` long or short.

The mid is the market's: the deployment's own quotes are left out of it, so quoting never
moves the price it quotes around. Every refresh sizes the quotes so that the position plus
every bid filled stays within max_inventory (and the asks likewise on the short side), keeps
the live quotes that are already right, cancels the others before placing the missing ones:
even if all quotes filled at once the bound would hold. A quote the engine refuses (the account
cannot fund it, the market is closed, a pre-trade risk limit such as the account's order rate)
is skipped with a warning, once per run of refusals, and tried again at the next book change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.context import BookTop, InstrumentSpec
from velocimex_cli.engine.drivers.strategies.params import Param, ParamValues
from velocimex_cli.wire.errors import (
    InsufficientBalance,
    InvalidParameter,
    MarketClosed,
    OrderNotOpen,
    RiskLimitExceeded,
)

HUNDRED = Decimal(100)


class MarketMaker(Strategy):
    id = "market-maker"
    name = "Pure market making"
    description = (
        "Quote both sides around the mid (Hummingbot pure market making parameters), requote "
        "as the market moves, never hold more than max_inventory either way."
    )
    params: ClassVar[dict[str, Param]] = {
        "bid_spread": Param(
            Decimal, Decimal("0.1"), min=Decimal(0), max=Decimal(50),
            description="percent below the mid for the first bid (1 = 1%)",
        ),
        "ask_spread": Param(
            Decimal, Decimal("0.1"), min=Decimal(0), max=Decimal(1000),
            description="percent above the mid for the first ask (1 = 1%)",
        ),
        "order_amount": Param(
            Decimal, Decimal("0.001"), min=Decimal("0.00000001"),
            description="quantity of each quote, in the base asset",
        ),
        "order_levels": Param(int, 1, min=1, max=20, description="quotes per side"),
        "order_level_spread": Param(
            Decimal, Decimal("0.1"), min=Decimal(0), max=Decimal(50),
            description="extra percent between consecutive levels",
        ),
        "order_refresh_time": Param(
            Decimal, Decimal(30), min=Decimal("0.01"), max=Decimal(86_400),
            description="seconds between refreshes of the quotes",
        ),
        "order_refresh_tolerance_pct": Param(
            Decimal, Decimal(0), min=Decimal(0), max=Decimal(50),
            description="requote on a book change only when the mid moved more than this "
            "percent since the last quote (0: on any move)",
        ),
        "max_inventory": Param(
            Decimal, Decimal("0.01"), min=Decimal(0),
            description="largest position, long or short, in the base asset",
        ),
    }  # fmt: skip

    @classmethod
    def check(cls, config: ParamValues, instrument: InstrumentSpec) -> None:
        amount = config.order_amount
        if amount % instrument.lot_size or amount < instrument.min_quantity:
            raise InvalidParameter(
                "order_amount",
                amount,
                f"parameter 'order_amount' must be a multiple of {instrument.lot_size} "
                f"and at least {instrument.min_quantity} on {instrument.key}",
            )
        if config.max_inventory % instrument.lot_size:
            raise InvalidParameter(
                "max_inventory",
                config.max_inventory,
                f"parameter 'max_inventory' must be a multiple of {instrument.lot_size}",
            )

    def on_start(self) -> None:
        self.spec = self.ctx.instrument
        self.quoted_mid: Decimal | None = None
        self.refreshes = 0
        self.refusing = False  # the last requote had a quote refused (logged once)
        self.ctx.set_timer("refresh", self.config.order_refresh_time)
        self.requote()

    def on_book(self, book: BookTop) -> None:
        mid = self.ctx.mid(exclude_own=True)
        if mid is None or mid == self.quoted_mid:
            return
        if self.quoted_mid is not None:
            tolerance = self.config.order_refresh_tolerance_pct
            if abs(mid - self.quoted_mid) * HUNDRED <= tolerance * self.quoted_mid and tolerance:
                return
        self.requote(mid)

    def on_timer(self, name: str) -> None:
        self.requote()

    def requote(self, mid: Decimal | None = None) -> None:
        """Bring the live quotes to what the mid and the position call for: quotes already
        right are kept, the others canceled first, the missing ones placed after."""
        ctx = self.ctx
        mid = ctx.mid(exclude_own=True) if mid is None else mid
        if mid is None:
            ctx.cancel_all()
            self.quoted_mid = None
            return  # one side of the market is empty: wait for it
        self.quoted_mid = mid
        self.refreshes += 1
        wanted = self._quotes(mid)
        for order in ctx.open_orders():
            key = (order.side, order.price, order.remaining)
            if key in wanted:
                wanted.remove(key)  # already quoted
            else:
                try:
                    ctx.cancel(order.order_id)
                except OrderNotOpen:
                    # It filled after the read: quote again from a fresh position instead.
                    self.quoted_mid = None
                    return
        refused = ""
        for side, price, size in wanted:
            try:
                ctx.place_order(side, size, price, post_only=True)
            except (InsufficientBalance, MarketClosed, RiskLimitExceeded) as exc:
                refused = refused or f"{side} {size} at {price} not quoted: {exc.message}"
        if refused:  # quote what can be quoted; the rest at the next book change
            self.quoted_mid = None
            if not self.refusing:
                ctx.log(refused, "warning")
        self.refusing = bool(refused)

    def _quotes(self, mid: Decimal) -> list[tuple[Literal["buy", "sell"], Decimal, Decimal]]:
        """(side, price, size) of every quote, sized as if no quote were live: the position
        plus every bid filled stays <= max_inventory, minus every ask filled >= -max."""
        ctx, spec, config = self.ctx, self.spec, self.config
        best_bid = ctx.best_bid(exclude_own=True)
        best_ask = ctx.best_ask(exclude_own=True)
        position = ctx.position().quantity
        room_buy = config.max_inventory - position
        room_sell = config.max_inventory + position
        quotes: list[tuple[Literal["buy", "sell"], Decimal, Decimal]] = []
        for level in range(config.order_levels):
            extra = config.order_level_spread * level
            size = self._size(room_buy)
            if size:
                price = spec.round_price(mid * (1 - (config.bid_spread + extra) / HUNDRED))
                if best_ask is not None:  # stay a maker: below the market's ask
                    price = min(price, best_ask - spec.tick_size)
                if price > 0:
                    quotes.append(("buy", price, size))
                    room_buy -= size
            size = self._size(room_sell)
            if size:
                price = spec.round_price(mid * (1 + (config.ask_spread + extra) / HUNDRED), "up")
                if best_bid is not None:
                    price = max(price, best_bid + spec.tick_size)
                quotes.append(("sell", price, size))
                room_sell -= size
        return quotes

    def _size(self, room: Decimal) -> Decimal:
        """order_amount, or what room is left on the lot grid; 0 below the minimum."""
        size = self.spec.round_quantity(min(self.config.order_amount, room))
        return size if size >= self.spec.min_quantity else Decimal(0)
