"""Candles (open, high, low, close, volume, trades, quote volume) of each instrument's public
trades, for the intervals of `wire/candles.py`.

Built from the trades a commit stores (`Changes.trades`: every public trade, users' and
simulated, and whatever else the engine records there as a trade), never from their source, so
a candle holds exactly the stored trades of its period. A candle's time is the open time of its
period (aligned to the Unix epoch, UTC), taken from each trade's own time (the engine's
injected clock when it traded). A trade stamped before the period of its series' newest candle
(a clock set back) counts in that newest candle: a candle already stored is never reopened.

`CandleBook` keeps only each series' newest candle; `stage` folds a batch of trades into
copies of them and returns what to write, `commit` makes the copies current once they are
stored and `discard` drops them when they could not be (so a failed commit changes nothing).
A candle is a list `[open_time, open, high, low, close, lots, trades, notional]`: times in
microseconds, prices in ticks, volume in lots, the quote volume in tick x lot units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.wire.candles import INTERVALS
from velocimex_cli.wire.timefmt import iso_from_micros

NAMES: tuple[str, ...] = tuple(INTERVALS)
WIDTHS: tuple[int, ...] = tuple(seconds * 1_000_000 for seconds in INTERVALS.values())
SERIES_PER_INSTRUMENT = len(NAMES)

Candle = list[int]
Trade = tuple[int, int, int, int, int]  # trade_id, instrument index, price, lots, time
# The newest stored candle of a series (instrument index, interval position), or None.
Loader = Callable[[int, int], Candle | None]


class Staged:
    """What one batch changed: each touched series' newest candle (`current`, keyed by
    `index * SERIES_PER_INSTRUMENT + interval position`), the candles the batch finished
    (`finished`: a later trade of their series opened a new period; each in its final
    state) and the series that opened a new period (`opened`: key -> its open time), whose
    old candles may expire."""

    __slots__ = ("current", "finished", "opened")

    def __init__(self) -> None:
        self.current: dict[int, Candle] = {}
        self.finished: list[tuple[int, Candle]] = []
        self.opened: dict[int, int] = {}


class CandleBook:
    """Each series' newest stored candle, loaded on first use through `load`."""

    def __init__(self, load: Loader) -> None:
        self._load = load
        self._newest: dict[int, Candle | None] = {}

    def newest(self, key: int) -> Candle | None:
        newest = self._newest
        if key in newest:
            return newest[key]
        index, position = divmod(key, SERIES_PER_INSTRUMENT)
        candle = newest[key] = self._load(index, position)
        return candle

    def stage(self, trades: Sequence[Trade]) -> Staged:
        """Fold `trades` (in the order they traded) into copies of their series' candles."""
        staged = Staged()
        current = staged.current
        widths = WIDTHS
        for _, index, price, lots, now in trades:
            base = index * SERIES_PER_INSTRUMENT
            for position, width in enumerate(widths):
                key = base + position
                start = now - now % width
                candle = current.get(key)
                if candle is None:
                    stored = self.newest(key)
                    if stored is None or start > stored[0]:
                        if stored is not None:
                            staged.finished.append((key, stored))
                        current[key] = [start, price, price, price, price, lots, 1, price * lots]
                        staged.opened[key] = start
                        continue
                    candle = current[key] = stored.copy()
                elif start > candle[0]:
                    staged.finished.append((key, candle))
                    current[key] = [start, price, price, price, price, lots, 1, price * lots]
                    staged.opened[key] = start
                    continue
                if price > candle[2]:
                    candle[2] = price
                elif price < candle[3]:
                    candle[3] = price
                candle[4] = price
                candle[5] += lots
                candle[6] += 1
                candle[7] += price * lots
        return staged

    def commit(self, staged: Staged) -> None:
        """`staged` is stored: its candles are the newest now."""
        self._newest.update(staged.current)

    def forget(self) -> None:
        """Load every series again from the store on next use (its state was replaced)."""
        self._newest.clear()


def candle_wire(instrument: Instrument, candle: Sequence[int]) -> dict[str, Any]:
    """A candle as the candles route answers it (exact decimals, ISO UTC open time)."""
    open_time, open_, high, low, close, lots, trades, notional = candle
    price_of = instrument.price_of
    return {
        "time": iso_from_micros(open_time),
        "open": price_of(open_),
        "high": price_of(high),
        "low": price_of(low),
        "close": price_of(close),
        "volume": instrument.quantity_of(lots),
        "quote_volume": price_of(notional) * instrument.lot_size,
        "trades": trades,
    }
