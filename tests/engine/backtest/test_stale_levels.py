"""A print never spends itself on stale better levels (docs/backtests.md, "How orders meet the
market"): a venue prints each price a sweep takes, so a print at P says the levels better than
P were gone when it traded, even when the recorded book still holds them (its change comes
later, or the strategy took part of an earlier print). The strategy's order resting at P
behind the recorded queue fills after that queue, and one at a better price, which the print
went through, fills first; with the C core and pure Python alike.

The live mirror had this flaw (engine/drivers/venues/fills.py); so did the book replay, whose
tape order swept the recorded book's better levels first and starved the strategy's order.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engine.backtest.conftest import (
    Vmx,
    delta,
    level,
    orders_on_trades,
    snapshot,
    trade,
    write_recording,
    write_trades,
)

D = Decimal
STARTED = datetime(2026, 1, 1, tzinfo=UTC)


def _ms(stamp: str) -> int:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment - STARTED) // timedelta(milliseconds=1)


def backtest_fills(
    vmx: Vmx,
    tmp_path: Path,
    messages: list[tuple[int, dict[str, Any]]],
    orders: dict[int, list[tuple[str, str, str | None]]],
    *options: str,
) -> list[tuple[int, str, Decimal, Decimal, str]]:
    """Backtest `orders_on_trades(orders)` on a recording of (ms, message); its fills as (ms,
    side, price, quantity, liquidity)."""
    strategy = tmp_path / "orders.py"
    strategy.write_text(orders_on_trades(orders))
    data = write_recording(tmp_path / "market.ndjson", messages)
    fills_file = tmp_path / "fills.csv"
    vmx.json("backtest", str(strategy), "--data", str(data), "--trades", str(fills_file), *options)
    with fills_file.open() as handle:
        return [
            (_ms(r["timestamp"]), r["side"], D(r["price"]), D(r["quantity"]), r["liquidity"])
            for r in csv.DictReader(handle)
        ]


# The book: bids 1.0 at 100.02 and 0.5 at 100.00. A buy print at the ask (the strategy's
# first trade: it places its order), then an unrelated ask: the order arrives after it.
OPENING = [
    (0, snapshot([level("100.02", "1.0"), level("100.00", "0.5")], [level("100.05", "1")])),
    (1, trade(1, "100.05", "0.1", "buy")),
    (2, delta(2, ("ask", "100.06", "1"))),
]


@pytest.mark.parametrize("fill_model", ["queue", "touch"])
def test_a_print_at_a_price_fills_the_order_there_after_its_queue_not_the_stale_levels(
    vmx: Vmx, tmp_path: Path, fill_model: str
) -> None:
    """A bid of 0.3 at 100.00 rests behind the recorded 0.5 (queue) or before it (touch); the
    1.0 at 100.02 is still in the recorded book when a sell print of 0.6 at 100.00 comes: it
    consumes the queue ahead at 100.00 and fills the rest of its size, 0.1 (queue) or 0.3
    (touch), then the next print of 0.5 at 100.00 the remaining 0.2 (queue)."""
    messages = [
        *OPENING,
        (3, trade(2, "100.00", "0.6", "sell")),
        (4, trade(3, "100.00", "0.5", "sell")),
    ]
    orders = {1: [("buy", "0.3", "100.00")]}
    fills = backtest_fills(vmx, tmp_path, messages, orders, "--fill-model", fill_model)
    if fill_model == "queue":
        assert fills == [
            (3, "buy", D("100.00"), D("0.1"), "maker"),
            (4, "buy", D("100.00"), D("0.2"), "maker"),
        ]
    else:
        assert fills == [(3, "buy", D("100.00"), D("0.3"), "maker")]


def test_a_print_below_an_order_behind_a_stale_level_fills_it_first(
    vmx: Vmx, tmp_path: Path
) -> None:
    """A bid of 0.3 at 100.02 rests behind the recorded 1.0 there; a sell print of 0.4 at
    100.00 went through 100.02, so that 1.0 was gone: the order fills in full at its own
    price, and the print's other 0.1 goes to the queue at 100.00 (no more of the print)."""
    messages = [*OPENING, (3, trade(2, "100.00", "0.4", "sell"))]
    fills = backtest_fills(vmx, tmp_path, messages, {1: [("buy", "0.3", "100.02")]})
    assert fills == [(3, "buy", D("100.02"), D("0.3"), "maker")]


def test_a_print_through_an_order_fills_no_more_than_its_size(vmx: Vmx, tmp_path: Path) -> None:
    """The live mirror's model too (tests/engine/drivers/venues/test_mirror_book.py, the same
    book and prints): a bid of 0.3 at 100.02; a sell print of 0.2 at 100.00 fills 0.2 of it,
    the next one of 0.5 the last 0.1."""
    messages = [
        *OPENING,
        (3, trade(2, "100.00", "0.2", "sell")),
        (4, trade(3, "100.00", "0.5", "sell")),
    ]
    fills = backtest_fills(vmx, tmp_path, messages, {1: [("buy", "0.3", "100.02")]})
    assert fills == [
        (3, "buy", D("100.02"), D("0.2"), "maker"),
        (4, "buy", D("100.02"), D("0.1"), "maker"),
    ]


def test_a_sweep_printed_level_by_level_fills_the_order_at_the_last_price(
    vmx: Vmx, tmp_path: Path
) -> None:
    """A recorded sweep (the prints of each price, then the book's change) with nothing stale
    keeps filling as before: 1.0 at 100.02 then 0.7 at 100.00 fill the bid at 100.00 after
    the 0.5 ahead of it: 0.2."""
    messages = [
        *OPENING,
        (3, trade(2, "100.02", "1.0", "sell")),
        (3, trade(3, "100.00", "0.7", "sell")),
        (3, delta(3, ("bid", "100.02", "0"), ("bid", "100.00", "0.1"))),
    ]
    fills = backtest_fills(vmx, tmp_path, messages, {1: [("buy", "0.3", "100.00")]})
    assert fills == [(3, "buy", D("100.00"), D("0.2"), "maker")]


def test_trades_only_prints_never_spend_themselves_on_the_shown_better_bid(
    vmx: Vmx, tmp_path: Path
) -> None:
    """Trades-only data (prints.py): the last sell print at 100.02 shows a bid there of its
    size; a bid of 0.3 at 100.00 rests behind nothing printed there. A sell print of 0.2 at
    100.00 fills 0.2 of it, none of the print going to the shown 100.02."""
    prints = [
        (0, "100.02", "1.0", "sell"),
        (1, "100.02", "1.0", "sell"),  # seen: the bid is placed
        (2, "100.02", "1.0", "sell"),  # it arrives after it
        (3, "100.00", "0.2", "sell"),
    ]
    data = write_trades(tmp_path / "trades.csv", prints)
    strategy = tmp_path / "orders.py"
    strategy.write_text(orders_on_trades({1: [("buy", "0.3", "100.00")]}))
    fills_file = tmp_path / "fills.csv"
    vmx.json(
        "backtest", str(strategy), "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT",
        "--trades", str(fills_file),
    )  # fmt: skip
    with fills_file.open() as handle:
        rows = [(r["side"], D(r["price"]), D(r["quantity"])) for r in csv.DictReader(handle)]
    assert rows == [("buy", D("100.00"), D("0.2"))]
