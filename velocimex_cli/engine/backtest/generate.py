"""A market made by the engine's seeded simulator, captured as backtest events.

`vmx backtest --simulate 1h --seed 7 -e BINANCE -s BTC/USDT` needs no file. What it replays
is defined as: the engine's market simulator (engine/drivers/simulator.py) making the chosen
instrument's market alone - `MarketSimulator(exchange, seed, instruments=[that one])` on an
always-open engine with no other account - stepped every 200 ms of simulated time from
2026-01-05T00:00:00Z, and every book change and trade of that market captured as a recording of
the live feed would carry them: the snapshot the maker's first quotes make, then one book delta
per order placed or canceled and, for each taker order, its trades and then its book delta.
Same seed, instrument and duration: same events, byte for byte.

The live engine makes all instruments from one random stream, so its market for an instrument
is not this one (it is that instrument among the others); the rules are the same.

Generating it does not run the exchange: with a maker and a taker alone in one book, nothing
the exchange decides is left to chance (the maker's quotes never cross, a taker's market order
takes the best levels in turn, one maker order per level), so `simulate` plays the
participants' rules (the simulator's own functions, the same random draws in the same order)
on a plain ladder. tests/engine/backtest/test_generate.py holds it to the engine, event for event.
Profiled before: 97% of the time went to the exchange building events for every order and
every book of 15 simulated instruments, when one instrument's book changes were wanted.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from velocimex_cli.engine.backtest.data import BOOK, TRADE, Event, MarketData
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.simulator import (
    DEPTH,
    QUOTE_SIZE,
    TAKE_SIZE,
    TAKER_PROBABILITY,
    initial_fair,
    ladder,
    next_fair,
    order_lots,
    reference_ticks,
)
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import parse_iso, to_micros

STEP_MICROS = 200_000  # the live engine's simulator interval
EPOCH = "2026-01-05T00:00:00Z"  # a Monday (the market is always open here, in any case)
MAX_SECONDS = 30 * 86_400
PROGRESS_STEPS = 1000  # tell `on_step` every 1000 steps (200 s of simulated time)

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
    """The seeded simulator's market of one instrument for `seconds` of simulated time.

    `on_step(done, total)` hears how many of the 200 ms steps are done, every
    `PROGRESS_STEPS` steps and at the end."""
    instrument = Catalogue().find(*instrument_key)
    start = to_micros(parse_iso(EPOCH))
    steps = seconds * 1_000_000 // STEP_MICROS
    rng = random.Random(seed)
    chance = rng.random
    fair = initial_fair(instrument)
    reference = reference_ticks(instrument)
    # The maker's resting orders, (side, price) -> lots left, in the order it placed them (the
    # order it goes through them when it re-quotes: a cancel's event comes in that order).
    held: dict[tuple[int, int], int] = {}
    for key in sorted(ladder(fair, DEPTH)):
        held[key] = order_lots(rng, fair, instrument, *QUOTE_SIZE)
    bids = sorted(((p, q) for (s, p), q in held.items() if s == BUY), reverse=True)
    asks = sorted((p, q) for (s, p), q in held.items() if s == SELL)
    events: list[Event] = [(start, BOOK, True, tuple(bids), tuple(asks))]
    append = events.append
    quote_low, quote_high = QUOTE_SIZE
    take_low, take_high = TAKE_SIZE
    first_trade: int | None = None
    last_trade: int | None = None
    for step in range(1, steps + 1):
        now = start + step * STEP_MICROS
        fair = next_fair(rng, fair, reference)
        wanted = ladder(fair, DEPTH)
        for key in [key for key in held if key not in wanted]:
            del held[key]
            side, price = key
            if side == BUY:
                append((now, BOOK, False, ((price, 0),), ()))
            else:
                append((now, BOOK, False, (), ((price, 0),)))
        for key in sorted(wanted.difference(held)):
            lots = held[key] = order_lots(rng, fair, instrument, quote_low, quote_high)
            side, price = key
            if side == BUY:
                append((now, BOOK, False, ((price, lots),), ()))
            else:
                append((now, BOOK, False, (), ((price, lots),)))
        if chance() < TAKER_PROBABILITY:
            side = BUY if chance() < 0.5 else SELL
            lots = order_lots(rng, fair, instrument, take_low, take_high)
            resting = SELL if side == BUY else BUY
            prices = sorted((p for s, p in held if s == resting), reverse=resting == BUY)
            changed: list[tuple[int, int]] = []
            for price in prices:
                key = (resting, price)
                available = held[key]
                fill = available if available < lots else lots
                append((now, TRADE, side, price, fill))
                if first_trade is None:
                    first_trade = price
                last_trade = price
                if available > fill:
                    held[key] = available - fill
                else:
                    del held[key]
                changed.append((price, available - fill))
                lots -= fill
                if not lots:
                    break
            if changed:
                changed.sort()
                if resting == BUY:
                    append((now, BOOK, False, tuple(changed), ()))
                else:
                    append((now, BOOK, False, (), tuple(changed)))
        if on_step is not None and (step % PROGRESS_STEPS == 0 or step == steps):
            on_step(step, steps)
    return MarketData(
        events,
        None if first_trade is None else instrument.price_of(first_trade),
        None if last_trade is None else instrument.price_of(last_trade),
    )
