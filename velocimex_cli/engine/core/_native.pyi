# The C core (_native.c) as the type checker sees it. Its types follow the pure-Python
# reference classes field for field (orders.PyOrder, book.PyOrderBook, fills.PyFillRecord;
# tests/engine/core/test_native_*.py run both), so they are described as those; the functions are
# the engine path (native_path.py), the backtest's book mirror (liquidity.py) and recording
# reader (engine/backtest/recording.py), and a strategy's TradeTick (drivers/strategies/
# event_values.py). Change a C signature: change it here too.

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.core.book import PyOrderBook
from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.exchange_state import ExchangeState, Fill
from velocimex_cli.engine.core.fills import PyFillRecord
from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.orders import OrderType, PyOrder, Status, TimeInForce
from velocimex_cli.engine.drivers.strategies.context import TradeTick

Order = PyOrder
OrderBook = PyOrderBook
FillRecord = PyFillRecord

def _configure(open: Status, partially_filled: Status, side_names: tuple[str, str]) -> None: ...
def _configure_engine(**constants: object) -> None: ...
def place(
    exchange: ExchangeState,
    account: Account,
    instrument: Instrument,
    side: int,
    lots: int,
    price: int | None,
    tif: TimeInForce,
    client_id: str | None,
) -> PyOrder | None: ...
def cancel(exchange: ExchangeState, account: Account, order: PyOrder) -> bool: ...
def settle(
    exchange: ExchangeState, taker_account: Account, taker: PyOrder, fills: list[Fill]
) -> None: ...
def mirror_book(
    exchange: ExchangeState,
    account: Account,
    instrument: Instrument,
    book: PyOrderBook,
    quote_balance: list[int],
    base_balance: list[int],
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    start: int,
    now: int,
) -> int: ...

# The recording reader's arguments are the Python loop's own state (recording.py): the
# decoder, the message types, the step parsers and the mutable [line, t, first, last] list.
def recording_events(
    readline: Callable[[int], bytes],
    limit: int,
    max_t: int,
    decode: Any,
    types: Any,
    exchange: str,
    symbol: str,
    origin: int,
    ticks: Any,
    lots: Any,
    events: list[Any],
    state: list[Any],
) -> bytes | None: ...
def _configure_ticks(
    tick_type: type[TradeTick],
    values: dict[int, tuple[Instrument, str, str, dict[int, Decimal], dict[int, Decimal]]],
    new_values: Callable[[Instrument], tuple[Any, ...]],
    side_names: tuple[str, str],
    utc: tzinfo,
    from_seconds: Callable[[int, tzinfo], datetime],
    cached: int,
    trade_type: type[TradeEvent],
    instrument_type: type[Instrument],
) -> None: ...
def trade_tick(trade: TradeEvent) -> TradeTick: ...
def _configure_views(
    wire_name: dict[object, str | None],
    side_names: tuple[str, str],
    limit: OrderType,
    iso_from_micros: Callable[[int], str],
    average_price: Callable[[Instrument, int, int], Decimal],
    python_order_wire: Callable[[PyOrder], dict[str, Any]],
) -> None: ...
def order_wire(order: PyOrder) -> dict[str, Any]: ...
