"""The strategy context's operations performed on an in-process `Exchange`.

`EngineContext` is the engine side: one method per operation of operations.OPERATIONS, taking
the checked values in declared order. It serves both a backtest's strategy, through
`LocalContext` (the strategy-facing calls of operations.ContextCalls performed here directly),
and a live strategy's worker, whose protocol messages the node applies to it
(protocol.Request.apply). It knows its host only as a `ContextHost`: host.py builds it, this
module never imports host.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from velocimex_cli.engine.core.exchange import order_wire
from velocimex_cli.engine.core.ledger import units_to_decimal
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.strategies.context import (
    BalanceInfo,
    BookLevel,
    BookSnapshot,
    FeeRates,
    InstrumentSpec,
    OrderInfo,
    PositionInfo,
)
from velocimex_cli.engine.drivers.strategies.event_values import instrument_spec, order_info
from velocimex_cli.engine.drivers.strategies.operations import (
    OPERATIONS,
    ContextCalls,
    Operation,
    api_error_of,
)
from velocimex_cli.wire.errors import ApiError, InvalidParameter
from velocimex_cli.wire.timefmt import to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.orders import Order
    from velocimex_cli.engine.drivers.strategies.tally import Tally
    from velocimex_cli.engine.drivers.strategies.timers import Timers


class ContextHost(Protocol):
    """What the context needs of the host running the strategy (host.StrategyHost)."""

    exchange: Exchange
    deployment_id: str
    account: str
    instrument: Instrument
    state: str
    timers: Timers
    tally: Tally

    @property
    def running(self) -> bool: ...

    def subscribe(self, instrument: Instrument) -> None: ...

    def place(self, request: dict[str, Any]) -> OrderInfo: ...

    def cancel(self, order_id: str) -> OrderInfo: ...

    def cancel_all(self, only: Instrument | None) -> int: ...

    def live_orders(self) -> list[Order]: ...

    def log(self, message: str, level: str = "info") -> None: ...

    def request_stop(self, reason: str) -> None: ...


class EngineContext:
    """Each operation on the engine (see context.StrategyContext for what each does)."""

    def __init__(self, host: ContextHost) -> None:
        self._host = host
        self._exchange = host.exchange
        self._spec = instrument_spec(host.instrument)

    # -- identity and instruments ----------------------------------------------------------
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

    def set_timer(self, name: str, interval_micros: int, repeat: bool) -> None:
        self._host.timers.set(name, to_micros(self._exchange.clock()), interval_micros, repeat)

    def cancel_timer(self, name: str) -> None:
        self._host.timers.cancel(name)

    # -- orders ----------------------------------------------------------------------------
    def place_order(
        self,
        side: str,
        quantity: Decimal,
        price: Decimal | None,
        time_in_force: str | None,
        post_only: bool,
        exchange: str | None,
        symbol: str | None,
    ) -> OrderInfo:
        host = self._host
        if not host.running:
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

    def cancel(self, order_id: str) -> OrderInfo:
        return self._host.cancel(order_id)

    def _only(self, exchange: str | None, symbol: str | None) -> Instrument | None:
        return None if exchange is None and symbol is None else self._find(exchange, symbol)

    def cancel_all(self, exchange: str | None, symbol: str | None) -> int:
        return self._host.cancel_all(self._only(exchange, symbol))

    def open_orders(self, exchange: str | None, symbol: str | None) -> list[OrderInfo]:
        only = None if exchange is None and symbol is None else self._find(exchange, symbol)
        return [
            order_info(order_wire(o))
            for o in self._host.live_orders()
            if only is None or o.instrument is only
        ]

    # -- portfolio -------------------------------------------------------------------------
    def position(self, exchange: str | None, symbol: str | None) -> PositionInfo:
        return self._host.tally.position(self._find(exchange, symbol))

    def balances(self) -> dict[str, BalanceInfo]:
        return {
            row["asset"]: BalanceInfo(row["asset"], row["total"], row["available"], row["locked"])
            for row in self._exchange.balances(self._host.account)
        }

    def balance(self, asset: str) -> BalanceInfo:
        found = self.balances().get(asset.upper())
        if found is None:
            zero = units_to_decimal(0)
            return BalanceInfo(asset.upper(), zero, zero, zero)
        return found

    def fee_rates(self, exchange: str | None, symbol: str | None) -> FeeRates:
        """An instrument's rates (the deployed one's by default): its own (a mirrored
        venue's), else the engine's."""
        instrument = self._find(exchange, symbol)
        if instrument.maker_fee is not None and instrument.taker_fee is not None:
            return FeeRates(maker=instrument.maker_fee, taker=instrument.taker_fee)
        config = self._exchange.config
        return FeeRates(
            maker=Decimal(config.maker_fee_bps) / 10_000,
            taker=Decimal(config.taker_fee_bps) / 10_000,
        )

    # -- market data -----------------------------------------------------------------------
    def _levels(self, instrument: Instrument, side: int, depth: int, exclude_own: bool) -> list:
        book = self._exchange.book(instrument)
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

    def best_bid(self, exchange: str | None, symbol: str | None, exclude_own: bool) -> Any:
        return self._best(BUY, exchange, symbol, exclude_own)

    def best_ask(self, exchange: str | None, symbol: str | None, exclude_own: bool) -> Any:
        return self._best(SELL, exchange, symbol, exclude_own)

    def mid(self, exchange: str | None, symbol: str | None, exclude_own: bool) -> Any:
        bid = self.best_bid(exchange, symbol, exclude_own)
        ask = self.best_ask(exchange, symbol, exclude_own)
        return None if bid is None or ask is None else (bid + ask) / 2

    def book(
        self, exchange: str | None, symbol: str | None, depth: int, exclude_own: bool
    ) -> BookSnapshot:
        instrument = self._find(exchange, symbol)
        price_of, quantity_of = instrument.price_of, instrument.quantity_of
        return BookSnapshot(
            exchange=instrument.venue.name,
            symbol=instrument.symbol,
            sequence=self._exchange.book(instrument).sequence,
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
    def log(self, message: str, level: str) -> None:
        self._host.log(message, level)

    def stop(self, reason: str) -> None:
        self._host.request_stop(reason)


class LocalContext(ContextCalls):
    """The StrategyContext of a strategy running in the engine's own process (a backtest, a
    test): each operation, checked as the worker checks it, performed on `engine`. An
    unexpected exception reaches the strategy as the API error a live strategy gets."""

    def __init__(self, deployment_id: str, engine: EngineContext) -> None:
        self._deployment_id = deployment_id
        self._attributes = {}
        self.engine = engine
        self._serve = {op.name: getattr(engine, op.name) for op in OPERATIONS}

    @property
    def deployment_id(self) -> str:
        return self._deployment_id

    def _perform(self, operation: Operation, values: tuple[Any, ...]) -> Any:
        try:
            return self._serve[operation.name](*values)
        except ApiError:
            raise
        except Exception as exc:
            raise api_error_of(exc) from exc


__all__ = ["ContextHost", "EngineContext", "LocalContext"]
