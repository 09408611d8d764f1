"""A market made by the engine's seeded simulator, captured as backtest events.

`vmx backtest --simulate 1h --seed 7` needs no file: an in-memory engine node, stepped on a
simulated clock, runs the same simulator the live engine runs (same seed, same clock: same
market), and the book changes and trades of the chosen instrument are captured exactly as a
recording of the live feed would carry them. The backtest then replays them like any recording.
"""

from __future__ import annotations

from collections.abc import Callable

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, TRADE, Event, MarketData
from velocimex_cli.engine.core.events import BookEvent, TradeEvent
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.node import EngineNode, NodeSettings
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import parse_iso, to_micros

STEP_MICROS = 200_000  # the live engine's simulator interval
EPOCH = "2026-01-05T00:00:00Z"  # a Monday: equities are in session from 14:30 UTC
MAX_SECONDS = 30 * 86_400

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str) -> int:
    """`90`, `90s`, `15m`, `2h`, `1d` -> seconds (1 s to 30 days)."""
    raw = text.strip().lower()
    unit = UNITS.get(raw[-1:]) if raw else None
    digits = raw[:-1] if unit else raw
    if not digits.isascii() or not digits.isdigit():
        raise InvalidParameter(
            "simulate", text, f"--simulate {text!r} is not a duration like 90s, 15m, 2h or 1d"
        )
    seconds = int(digits) * (unit or 1)
    if not 1 <= seconds <= MAX_SECONDS:
        raise InvalidParameter("simulate", text, "--simulate is 1 second to 30 days")
    return seconds


def simulate(
    instrument_key: tuple[str, str],
    seconds: int,
    seed: int,
    *,
    on_step: Callable[[int, int], None] | None = None,
) -> MarketData:
    """The seeded simulator's market for `seconds` of simulated time, one instrument's events."""
    start = to_micros(parse_iso(EPOCH))
    clock = SimulatedClock(start)
    node = EngineNode(NodeSettings(seed=seed, always_open=True, simulate=False), clock)
    node.start()  # stepped: the simulator seeds the books and moves only on node.step()
    exchange = node.exchange
    instrument = exchange.catalogue.find(*instrument_key)
    events: list[Event] = [_snapshot(exchange, instrument, start)]
    wanted = (instrument.venue.name, instrument.symbol)
    now = [start]

    def capture(event: object) -> None:
        kind = type(event)
        if kind is TradeEvent:
            trade = event.trade  # type: ignore[attr-defined]
            if (trade["exchange"], trade["symbol"]) == wanted:
                events.append(
                    (
                        now[0],
                        TRADE,
                        BUY if trade["side"] == "buy" else SELL,
                        instrument.ticks_of(trade["price"]),
                        instrument.lots_of(trade["quantity"]),
                    )
                )
        elif kind is BookEvent and (event.exchange, event.symbol) == wanted:  # type: ignore[attr-defined]
            bids, asks = [], []
            for change in event.changes:  # type: ignore[attr-defined]
                level = (
                    instrument.ticks_of(change["price"]),
                    instrument.lots_of(change["quantity"]),
                )
                (bids if change["side"] == "bid" else asks).append(level)
            events.append((now[0], BOOK, False, tuple(bids), tuple(asks)))

    exchange.add_listener(capture)
    steps = seconds * 1_000_000 // STEP_MICROS
    for step in range(1, steps + 1):
        now[0] = start + step * STEP_MICROS
        clock.set(now[0])
        node.step()
        if on_step is not None and step % 5000 == 0:
            on_step(step, steps)
    trades = [e for e in events if e[1] == TRADE]
    first = instrument.price_of(trades[0][3]) if trades else None
    last = instrument.price_of(trades[-1][3]) if trades else None
    return MarketData(events, first, last)


def _snapshot(exchange: Exchange, instrument: Instrument, stamp: int) -> Event:
    book = exchange.books[instrument.index]
    return (
        stamp,
        BOOK,
        True,
        tuple(book.depth(BUY, 1000)),
        tuple(book.depth(SELL, 1000)),
    )
