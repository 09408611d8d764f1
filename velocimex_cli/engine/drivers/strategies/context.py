"""What a strategy sees and does: the `StrategyContext` protocol and the values it passes.

A strategy never touches the engine directly; it gets a context. `EngineContext` (host.py)
implements it in-process over an `Exchange` (backtests, tests); the node implements the same
protocol as a proxy over a pipe for a strategy running in its worker process. So everything
here is plain data the worker protocol (protocol.py) declares and carries: Decimal for money,
timezone-aware UTC datetimes for time, str for ids. Never a float. The values built per
event (OrderInfo, FillInfo, TradeTick, BookTop) are named tuples: immutable, and several times
cheaper to build than a frozen dataclass, which matters at hundreds of thousands of events per
second in a backtest.

Every order a strategy places goes through the engine's normal order entry (the same
validation, ledger, fees, risk checks and order stream as a manual order) on the deploying
user's account, carrying a client_order_id `<deployment_id>:<n>` that marks it as the
deployment's. A refused order raises the API's error (InvalidParameter, InsufficientBalance,
MarketClosed, ...) into the strategy; if the strategy does not catch it, the deployment stops
and reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal, NamedTuple, Protocol, runtime_checkable

Side = Literal["buy", "sell"]
TimeInForceName = Literal["gtc", "ioc", "fok"]
LogLevel = Literal["debug", "info", "warning", "error"]
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """An instrument's trading rules: prices are multiples of `tick_size`, quantities of
    `lot_size`, and an order is at least `min_quantity`."""

    exchange: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    def round_price(self, price: Decimal, direction: Literal["down", "up"] = "down") -> Decimal:
        """`price` on the tick grid, rounded down (a bid's safe side) or up (an ask's)."""
        rounding = ROUND_FLOOR if direction == "down" else ROUND_CEILING
        steps = (price / self.tick_size).to_integral_value(rounding=rounding)
        return steps * self.tick_size

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """`quantity` rounded down to a whole number of lots (may fall below the minimum)."""
        lots = (quantity / self.lot_size).to_integral_value(rounding=ROUND_FLOOR)
        return lots * self.lot_size


class OrderInfo(NamedTuple):
    """One of the deployment's orders, as of the event or call that returned it."""

    order_id: str
    client_order_id: str | None
    exchange: str
    symbol: str
    side: Side
    type: str
    time_in_force: str
    post_only: bool
    quantity: Decimal
    price: Decimal | None
    filled_quantity: Decimal
    average_price: Decimal | None
    status: str
    reason: str | None
    event: str = ""  # on_order: accepted, partially_filled, filled, canceled or rejected

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "partially_filled")

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity


class FillInfo(NamedTuple):
    """One fill of one of the deployment's orders."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    exchange: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: str
    timestamp: datetime


class TradeTick(NamedTuple):
    """A public trade on a subscribed instrument (`side` is the taker's)."""

    exchange: str
    symbol: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    side: Side
    timestamp: datetime


class BookTop(NamedTuple):
    """The top of a subscribed book after a change (None where a side is empty)."""

    exchange: str
    symbol: str
    sequence: int
    bid: Decimal | None
    bid_quantity: Decimal | None
    ask: Decimal | None
    ask_quantity: Decimal | None
    timestamp: datetime

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    exchange: str
    symbol: str
    sequence: int
    bids: tuple[BookLevel, ...] = field(default_factory=tuple)
    asks: tuple[BookLevel, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """The deployment's own position in an instrument, from its own fills (not the account's,
    which manual orders and other deployments share). PnL is in the quote asset and excludes
    fees, which are reported apart."""

    exchange: str
    symbol: str
    quantity: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class BalanceInfo:
    """One asset of the deploying account (shared with its manual orders)."""

    asset: str
    total: Decimal
    available: Decimal
    locked: Decimal


@dataclass(frozen=True, slots=True)
class FeeRates:
    """Fees as fractions of the notional: Decimal("0.0002") is 2 basis points."""

    maker: Decimal
    taker: Decimal


@runtime_checkable
class StrategyContext(Protocol):
    """Everything a strategy may do. `exchange`/`symbol` default to the deployment's own
    instrument wherever they are optional."""

    @property
    def deployment_id(self) -> str: ...

    @property
    def instrument(self) -> InstrumentSpec:
        """The instrument the strategy was deployed on."""
        ...

    def instrument_for(self, exchange: str, symbol: str) -> InstrumentSpec:
        """Another instrument's rules (INVALID_PARAMETER if the engine does not list it)."""
        ...

    def subscribe(self, exchange: str, symbol: str) -> InstrumentSpec:
        """Also receive on_book/on_trade for this instrument (the deployed one always is)."""
        ...

    # -- time ---------------------------------------------------------------------------
    def now(self) -> datetime:
        """The engine's clock (simulated in a backtest): timezone-aware UTC."""
        ...

    def set_timer(
        self, name: str, interval: timedelta | int | Decimal, *, repeat: bool = True
    ) -> None:
        """Call on_timer(name) once `interval` (a timedelta or seconds) has passed on the
        engine's clock, then every `interval` if `repeat` (missed beats are skipped, not
        replayed). Setting an existing name replaces it."""
        ...

    def cancel_timer(self, name: str) -> None: ...

    # -- orders -------------------------------------------------------------------------
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
        """A limit order (with `price`) or a market order (without; IOC or FOK)."""
        ...

    def buy(
        self,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> OrderInfo: ...

    def sell(
        self,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> OrderInfo: ...

    def cancel(self, order_id: str) -> OrderInfo:
        """Cancel one of the deployment's own open orders (by order_id)."""
        ...

    def cancel_all(self, exchange: str | None = None, symbol: str | None = None) -> int:
        """Cancel the deployment's open orders (all instruments when no filter is given);
        returns how many. Manual orders on the same account are never touched."""
        ...

    def open_orders(
        self, exchange: str | None = None, symbol: str | None = None
    ) -> list[OrderInfo]:
        """The deployment's open orders, oldest first (all instruments when no filter)."""
        ...

    # -- portfolio ----------------------------------------------------------------------
    def position(self, exchange: str | None = None, symbol: str | None = None) -> PositionInfo: ...

    def balances(self) -> dict[str, BalanceInfo]: ...

    def balance(self, asset: str) -> BalanceInfo: ...

    def fee_rates(self, exchange: str | None = None, symbol: str | None = None) -> FeeRates:
        """The fee rates of an instrument's fills (the deployed one's by default; a mirrored
        venue's own)."""
        ...

    # -- market data --------------------------------------------------------------------
    def best_bid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        """The best bid; `exclude_own` skips the deployment's own resting quantity."""
        ...

    def best_ask(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None: ...

    def mid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None: ...

    def book(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        depth: int = 10,
        *,
        exclude_own: bool = False,
    ) -> BookSnapshot: ...

    # -- reporting ----------------------------------------------------------------------
    def log(self, message: str, level: LogLevel = "info") -> None:
        """Append to the deployment's log (`vmx strategy logs`). Long messages are cut."""
        ...

    def stop(self, reason: str = "completed") -> None:
        """End the deployment after this callback: on_stop runs, its open orders are
        canceled, and its state becomes `completed` with this reason."""
        ...


def client_order_id_for(deployment_id: str, sequence: int) -> str:
    """The client_order_id that tags a deployment's n-th order."""
    return f"{deployment_id}:{sequence}"


__all__ = [
    "LOG_LEVELS",
    "BalanceInfo",
    "BookLevel",
    "BookSnapshot",
    "BookTop",
    "FeeRates",
    "FillInfo",
    "InstrumentSpec",
    "OrderInfo",
    "PositionInfo",
    "Side",
    "StrategyContext",
    "TradeTick",
    "client_order_id_for",
]
