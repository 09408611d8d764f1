"""Cross-venue arbitrage: the same asset on two venues (by default BINANCE BTC/USDT, where it
is deployed, against COINBASE BTC/USD), trading when one venue's bid exceeds the other's ask
by more than `min_edge_bps` after the taker fee of each leg, each at its own venue's rate
(`ctx.fee_rates` of its instrument: a mirrored venue's own, else the engine's), by the
arithmetic `vmx ticker --watch` shows its cross-venue spread with (wire/cross_venue.py).

Prices of the deployed instrument are converted into the other's quote asset at
`quote_rate` (1 USDT = 1 USD unless configured). On an edge it buys where it is cheap and
sells where it is dear with IOC limit orders at the quoted prices (never worse), the second
leg sized to what the first actually filled, so the legs stay matched. Should they not (the
book moved between the legs, or the venues' lot sizes differ), the next book change first
hedges the difference at market on the better venue. `max_position` bounds the position on
each venue (the net over both stays near zero).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import ClassVar, Literal

from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.context import BookSnapshot, BookTop, InstrumentSpec
from velocimex_cli.engine.drivers.strategies.params import Param, ParamValues
from velocimex_cli.wire.cross_venue import edge_bps
from velocimex_cli.wire.errors import InvalidParameter


class Arbitrage(Strategy):
    id = "arbitrage"
    name = "Cross-venue arbitrage"
    description = (
        "Buy on one venue and sell on another when the price gap exceeds min_edge_bps net of "
        "the taker fees of both legs."
    )
    params: ClassVar[dict[str, Param]] = {
        "other_exchange": Param(str, "COINBASE", description="the second venue"),
        "other_symbol": Param(str, "BTC/USD", description="the same asset on the second venue"),
        "min_edge_bps": Param(
            Decimal, Decimal(10), min=Decimal(0), max=Decimal(10_000),
            description="smallest edge to trade, in basis points, after fees on both legs",
        ),
        "order_amount": Param(
            Decimal, Decimal("0.001"), min=Decimal("0.00000001"),
            description="largest quantity per arbitrage, in the base asset",
        ),
        "quote_rate": Param(
            Decimal, Decimal(1), min=Decimal("0.00000001"),
            description="value of one unit of the deployed instrument's quote asset in the "
            "other's (USDT at par with USD: 1)",
        ),
        "max_position": Param(
            Decimal, Decimal("0.01"), min=Decimal(0),
            description="largest position on either venue, in the base asset",
        ),
    }  # fmt: skip

    @classmethod
    def check(cls, config: ParamValues, instrument: InstrumentSpec) -> None:
        if (
            config.other_exchange.upper() == instrument.exchange
            and config.other_symbol.upper().replace("-", "/") == instrument.symbol
        ):
            raise InvalidParameter(
                "other_symbol",
                config.other_symbol,
                "parameter 'other_symbol' must name another instrument than the deployed one",
            )

    def on_start(self) -> None:
        ctx = self.ctx
        self.a = ctx.instrument
        self.b = ctx.subscribe(self.config.other_exchange, self.config.other_symbol)
        if self.a.base != self.b.base:
            raise InvalidParameter(
                "other_symbol",
                self.config.other_symbol,
                f"{self.b.key} trades {self.b.base}, not {self.a.base}",
            )
        self.a_taker = ctx.fee_rates().taker
        self.b_taker = ctx.fee_rates(self.b.exchange, self.b.symbol).taker
        self.lot = max(self.a.lot_size, self.b.lot_size)
        self.minimum = max(self.a.min_quantity, self.b.min_quantity)
        self.trades = 0
        ctx.log(f"arbitrage {self.a.key} against {self.b.key}, edge >= {self.config.min_edge_bps}")

    def on_book(self, book: BookTop) -> None:
        ctx, a, b = self.ctx, self.a, self.b
        a_book = ctx.book(a.exchange, a.symbol, 1)
        b_book = ctx.book(b.exchange, b.symbol, 1)
        rate = self.config.quote_rate
        if self._hedge(a_book, b_book):
            return
        if a_book.asks and b_book.bids:  # buy on A, sell on B
            ask, bid = a_book.asks[0], b_book.bids[0]
            edge = edge_bps(ask.price * rate, bid.price, self.a_taker, self.b_taker)
            if edge >= self.config.min_edge_bps:
                self._trade(a, ask.price, ask.quantity, b, bid.price, bid.quantity)
                return
        if b_book.asks and a_book.bids:  # buy on B, sell on A
            ask, bid = b_book.asks[0], a_book.bids[0]
            edge = edge_bps(ask.price, bid.price * rate, self.b_taker, self.a_taker)
            if edge >= self.config.min_edge_bps:
                self._trade(b, ask.price, ask.quantity, a, bid.price, bid.quantity)

    def _hedge(self, a_book: BookSnapshot, b_book: BookSnapshot) -> bool:
        """Close what one leg did more than the other (a partial fill, lots of different
        sizes): sell a net long where the bid is better, buy a net short back where the ask
        is cheaper, at market. True when it traded."""
        ctx, a, b, rate = self.ctx, self.a, self.b, self.config.quote_rate
        net = ctx.position(a.exchange, a.symbol).quantity
        net += ctx.position(b.exchange, b.symbol).quantity
        if not net:
            return False
        if net > 0:
            venues = [(a, a_book.bids, rate), (b, b_book.bids, Decimal(1))]
            venues = [v for v in venues if v[1]]
            venues.sort(key=lambda v: v[1][0].price * v[2], reverse=True)  # best bid first
        else:
            venues = [(a, a_book.asks, rate), (b, b_book.asks, Decimal(1))]
            venues = [v for v in venues if v[1]]
            venues.sort(key=lambda v: v[1][0].price * v[2])  # cheapest ask first
        for spec, _levels, _rate in venues:
            size = spec.round_quantity(abs(net))
            if size >= spec.min_quantity:
                side: Literal["buy", "sell"] = "sell" if net > 0 else "buy"
                ctx.log(f"hedging an unmatched leg: {side} {size} {spec.key}", "warning")
                ctx.place_order(side, size, exchange=spec.exchange, symbol=spec.symbol)
                return True
        return False

    def _trade(
        self,
        buy_on: InstrumentSpec,
        buy_price: Decimal,
        buy_size: Decimal,
        sell_on: InstrumentSpec,
        sell_price: Decimal,
        sell_size: Decimal,
    ) -> None:
        ctx, limit = self.ctx, self.config.max_position
        room_buy = limit - ctx.position(buy_on.exchange, buy_on.symbol).quantity
        room_sell = limit + ctx.position(sell_on.exchange, sell_on.symbol).quantity
        size = min(self.config.order_amount, buy_size, sell_size, room_buy, room_sell)
        size = (size / self.lot).to_integral_value(rounding=ROUND_FLOOR) * self.lot
        if size < self.minimum:
            return
        first = ctx.buy(
            size, buy_price, time_in_force="ioc", exchange=buy_on.exchange, symbol=buy_on.symbol
        )
        filled = sell_on.round_quantity(first.filled_quantity)
        if filled < sell_on.min_quantity:
            return
        second = ctx.sell(
            filled, sell_price, time_in_force="ioc", exchange=sell_on.exchange,
            symbol=sell_on.symbol,
        )  # fmt: skip
        self.trades += 1
        ctx.log(
            f"arbitrage: bought {first.filled_quantity} {buy_on.key} at {buy_price}, sold "
            f"{second.filled_quantity} {sell_on.key} at {sell_price}"
        )
