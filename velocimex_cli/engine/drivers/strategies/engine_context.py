"""`StrategyContext` implemented in-process over an `Exchange` (for `StrategyHost`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.exchange import order_wire
from velocimex_cli.engine.core.ledger import units_to_decimal
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.strategies.context import (
    BalanceInfo,
    BookLevel,
    BookSnapshot,
    FeeRates,
    InstrumentSpec,
    LogLevel,
    OrderInfo,
    PositionInfo,
    Side,
    TimeInForceName,
)
from velocimex_cli.engine.drivers.strategies.event_values import instrument_spec, order_info
from velocimex_cli.engine.drivers.strategies.timers import interval_micros
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.drivers.strategies.host import StrategyHost

RUNNING = "running"  # host.RUNNING (host imports this module)


class EngineContext:
    """`StrategyContext` over an in-process `Exchange` (see context.py for each method)."""

    def __init__(self, host: StrategyHost) -> None:
        self._host = host
        self._exchange = host.exchange
        self._spec = instrument_spec(host.instrument)

    # -- identity and instruments ----------------------------------------------------------
    @property
    def deployment_id(self) -> str:
        return self._host.deployment_id

    @property
    def instrument(self) -> InstrumentSpec:
        return self._spec

    def _find(self, exchange: str | None, symbol: str | None) -> Instrument:
        if exchange is None and symbol is None:
            return self._host.instrument
        if exchange is None or symbol is None:
            raise InvalidParameter(
                "symbol" if symbol is None else "exchange",
                None,
                "give both exchange and symbol, or neither for the deployed instrument",
            )
        return self._exchange.catalogue.find(exchange, symbol)

    def instrument_for(self, exchange: str, symbol: str) -> InstrumentSpec:
        return instrument_spec(self._find(exchange, symbol))

    def subscribe(self, exchange: str, symbol: str) -> InstrumentSpec:
        instrument = self._find(exchange, symbol)
        self._host.subscribe(instrument)
        return instrument_spec(instrument)

    # -- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._exchange.clock()

    def set_timer(
        self, name: str, interval: timedelta | int | Decimal, *, repeat: bool = True
    ) -> None:
        micros = interval_micros(interval)
        self._host.timers.set(name, to_micros(self._exchange.clock()), micros, repeat)

    def cancel_timer(self, name: str) -> None:
        self._host.timers.cancel(name)

    # -- orders ----------------------------------------------------------------------------
    def place_order(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> OrderInfo:
        host = self._host
        if host.state != RUNNING:
            raise InvalidParameter(
                "state", host.state, f"deployment {host.deployment_id} is {host.state}"
            )
        instrument = self._find(exchange, symbol)
        request: dict[str, Any] = {
            "exchange": instrument.venue.name,
            "symbol": instrument.symbol,
            "side": side,
            "quantity": quantity,
        }
        if price is not None:
            request["type"] = "limit"
            request["price"] = price
        else:
            request["type"] = "market"
        if time_in_force is not None:
            request["time_in_force"] = time_in_force
        if post_only:
            request["post_only"] = True
        return host.place(request)

    def buy(
        self,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> OrderInfo:
        return self.place_order(
            "buy", quantity, price, time_in_force=time_in_force, post_only=post_only,
            exchange=exchange, symbol=symbol,
        )  # fmt: skip

    def sell(
        self,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> OrderInfo:
        return self.place_order(
            "sell", quantity, price, time_in_force=time_in_force, post_only=post_only,
            exchange=exchange, symbol=symbol,
        )  # fmt: skip

    def cancel(self, order_id: str) -> OrderInfo:
        return self._host.cancel(str(order_id))

    def cancel_all(self, exchange: str | None = None, symbol: str | None = None) -> int:
        only = None if exchange is None and symbol is None else self._find(exchange, symbol)
        return self._host.cancel_all(only)

    def open_orders(
        self, exchange: str | None = None, symbol: str | None = None
    ) -> list[OrderInfo]:
        only = None if exchange is None and symbol is None else self._find(exchange, symbol)
        return [
            order_info(order_wire(o))
            for o in self._host.live_orders()
            if only is None or o.instrument is only
        ]

    # -- portfolio -------------------------------------------------------------------------
    def position(self, exchange: str | None = None, symbol: str | None = None) -> PositionInfo:
        return self._host.tally.position(self._find(exchange, symbol))

    def balances(self) -> dict[str, BalanceInfo]:
        return {
            row["asset"]: BalanceInfo(row["asset"], row["total"], row["available"], row["locked"])
            for row in self._exchange.balances(self._host.account)
        }

    def balance(self, asset: str) -> BalanceInfo:
        found = self.balances().get(str(asset).upper())
        if found is None:
            zero = units_to_decimal(0)
            return BalanceInfo(str(asset).upper(), zero, zero, zero)
        return found

    def fee_rates(self) -> FeeRates:
        config = self._exchange.config
        return FeeRates(
            maker=Decimal(config.maker_fee_bps) / 10_000,
            taker=Decimal(config.taker_fee_bps) / 10_000,
        )

    # -- market data -----------------------------------------------------------------------
    def _levels(self, instrument: Instrument, side: int, depth: int, exclude_own: bool) -> list:
        book = self._exchange.books[instrument.index]
        if not exclude_own:
            return book.depth(side, depth)
        own: dict[int, int] = {}
        for order in self._host.live_orders():
            if order.instrument is instrument and order.side == side and order.resting:
                own[order.price] = own.get(order.price, 0) + order.quantity - order.filled
        if not own:
            return book.depth(side, depth)
        # Enough levels to still have `depth` after dropping those that are only ours.
        levels = [
            (price, quantity - own.get(price, 0))
            for price, quantity in book.depth(side, depth + len(own))
        ]
        return [(p, q) for p, q in levels if q > 0][:depth]

    def _best(self, side: int, exchange: str | None, symbol: str | None, exclude: bool) -> Any:
        instrument = self._find(exchange, symbol)
        levels = self._levels(instrument, side, 1, exclude)
        return instrument.price_of(levels[0][0]) if levels else None

    def best_bid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._best(BUY, exchange, symbol, exclude_own)

    def best_ask(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._best(SELL, exchange, symbol, exclude_own)

    def mid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        bid = self.best_bid(exchange, symbol, exclude_own=exclude_own)
        ask = self.best_ask(exchange, symbol, exclude_own=exclude_own)
        return None if bid is None or ask is None else (bid + ask) / 2

    def book(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        depth: int = 10,
        *,
        exclude_own: bool = False,
    ) -> BookSnapshot:
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 1000:
            raise InvalidParameter("depth", depth, "depth must be a whole number from 1 to 1000")
        instrument = self._find(exchange, symbol)
        price_of, quantity_of = instrument.price_of, instrument.quantity_of
        return BookSnapshot(
            exchange=instrument.venue.name,
            symbol=instrument.symbol,
            sequence=self._exchange.books[instrument.index].sequence,
            bids=tuple(
                BookLevel(price_of(p), quantity_of(q))
                for p, q in self._levels(instrument, BUY, depth, exclude_own)
            ),
            asks=tuple(
                BookLevel(price_of(p), quantity_of(q))
                for p, q in self._levels(instrument, SELL, depth, exclude_own)
            ),
        )

    # -- reporting -------------------------------------------------------------------------
    def log(self, message: str, level: LogLevel = "info") -> None:
        self._host.log(str(message), level)

    def stop(self, reason: str = "completed") -> None:
        self._host.request_stop(str(reason))


__all__ = ["EngineContext"]
