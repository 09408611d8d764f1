"""The trades-only fill model (docs/backtests.md, "Trades-only data"), through `vmx backtest`
on hand-built CSVs of trades: exact fills for the queue ahead, prints through a price, partial
fills, takers, touch against queue, and a market maker on a random walk of prints.

The strategy starts on the first print (it leaves a price in the book) and so sees trades from
the second; an order it places on a print reaches the market after the next print.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.engine.backtest.conftest import START, Vmx, orders_on_trades, write_trades

Fill = tuple[int, str, Decimal, Decimal, str]  # (second, side, price, quantity, liquidity)


def _stamp(second: int) -> str:
    moment = datetime.fromtimestamp(START, UTC) + timedelta(seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fills_of(
    vmx: Vmx,
    tmp_path: Path,
    prints: list[tuple[int, str, str, str]],
    orders: list[tuple[str, str, str | None]],
    *options: str,
) -> list[Fill]:
    """Backtest a strategy that places `orders` on the first print it sees, on `prints`
    ((second, price, quantity, aggressor side)); its fills as (second, side, price,
    quantity, liquidity)."""
    strategy = tmp_path / "orders.py"
    strategy.write_text(orders_on_trades({1: orders}))
    data = write_trades(tmp_path / "trades.csv", prints)
    fills_file = tmp_path / "fills.csv"
    vmx.json(
        "backtest", str(strategy), "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT",
        "--trades", str(fills_file), *options,
    )  # fmt: skip
    seconds = {_stamp(s): s for s, *_ in prints}
    with fills_file.open() as handle:
        return [
            (
                seconds[row["timestamp"]],
                row["side"],
                Decimal(row["price"]),
                Decimal(row["quantity"]),
                row["liquidity"],
            )
            for row in csv.DictReader(handle)
        ]


def test_prints_at_the_price_consume_the_queue_ahead_then_fill(vmx: Vmx, tmp_path: Path) -> None:
    """A bid of 0.4 at 100 comes to rest after a print of 0.2 there: 0.2 is ahead of it. A
    print of 0.1 leaves 0.1 ahead, one of 0.25 takes that and fills 0.15, the next the rest."""
    prints = [
        (0, "100.00", "0.5", "sell"),
        (1, "100.00", "0.3", "sell"),  # seen: the bid is placed
        (2, "100.00", "0.2", "sell"),  # the bid arrives after it, behind 0.2
        (3, "100.00", "0.1", "sell"),
        (4, "100.00", "0.25", "sell"),
        (5, "100.00", "0.5", "sell"),
        (6, "100.00", "0.5", "sell"),
    ]
    fills = fills_of(vmx, tmp_path, prints, [("buy", "0.4", "100.00")])
    assert fills == [
        (4, "buy", Decimal("100.00"), Decimal("0.15"), "maker"),
        (5, "buy", Decimal("100.00"), Decimal("0.25"), "maker"),
    ]


def test_touch_fills_as_soon_as_a_print_reaches_the_price(vmx: Vmx, tmp_path: Path) -> None:
    """The same prints with `touch`: no queue ahead, every print at 100 fills what it can."""
    prints = [
        (0, "100.00", "0.5", "sell"),
        (1, "100.00", "0.3", "sell"),
        (2, "100.00", "0.2", "sell"),
        (3, "100.00", "0.1", "sell"),
        (4, "100.00", "0.25", "sell"),
        (5, "100.00", "0.5", "sell"),
    ]
    fills = fills_of(vmx, tmp_path, prints, [("buy", "0.4", "100.00")], "--fill-model", "touch")
    assert fills == [
        (3, "buy", Decimal("100.00"), Decimal("0.1"), "maker"),
        (4, "buy", Decimal("100.00"), Decimal("0.25"), "maker"),
        (5, "buy", Decimal("100.00"), Decimal("0.05"), "maker"),
    ]


def test_a_print_through_the_price_fills_past_the_queue_up_to_its_size(
    vmx: Vmx, tmp_path: Path
) -> None:
    """A bid at 100 behind 0.5 (the last print there): a sell print at 99.50 went through it,
    so nothing is ahead any more: it fills 0.3 (the print's size) at the bid's own price, and
    the next one the remaining 0.1."""
    prints = [
        (0, "100.00", "0.5", "sell"),
        (1, "100.00", "0.5", "sell"),
        (2, "100.00", "0.5", "sell"),  # the bid arrives behind 0.5
        (3, "99.50", "0.3", "sell"),
        (4, "99.50", "0.3", "sell"),
    ]
    fills = fills_of(vmx, tmp_path, prints, [("buy", "0.4", "100.00")])
    assert fills == [
        (3, "buy", Decimal("100.00"), Decimal("0.3"), "maker"),
        (4, "buy", Decimal("100.00"), Decimal("0.1"), "maker"),
    ]


def test_one_print_fills_orders_in_price_priority_never_beyond_its_size(
    vmx: Vmx, tmp_path: Path
) -> None:
    """Bids at 101 and 100, nothing printed at either before: a sell print of 0.4 at 100 fills
    the 101 bid first (through its price), then 0.1 at 100, and no more."""
    prints = [
        (0, "102.00", "0.1", "sell"),
        (1, "102.00", "0.1", "sell"),
        (2, "102.00", "0.1", "sell"),
        (3, "100.00", "0.4", "sell"),
    ]
    orders = [("buy", "0.3", "101.00"), ("buy", "0.3", "100.00")]
    fills = fills_of(vmx, tmp_path, prints, orders)
    assert fills == [
        (3, "buy", Decimal("101.00"), Decimal("0.3"), "maker"),
        (3, "buy", Decimal("100.00"), Decimal("0.1"), "maker"),
    ]


def test_an_order_is_never_filled_by_a_print_that_did_not_reach_it(
    vmx: Vmx, tmp_path: Path
) -> None:
    """A bid at 99.00 and an ask at 101.00: sell prints at 99.01 and above, buy prints at
    100.99 and below, buy prints below the bid and sell prints above the ask (the wrong
    aggressor for them) fill neither, in either model."""
    prints = [(0, "100.00", "0.5", "sell"), (1, "100.00", "0.5", "buy")]
    prints += [(2, "100.00", "0.5", "buy")]
    prints += [(3, "99.01", "5", "sell"), (4, "100.99", "5", "buy"), (5, "98.00", "5", "buy")]
    prints += [(6, "102.00", "5", "sell"), (7, "99.01", "5", "sell")]
    orders = [("buy", "0.1", "99.00"), ("sell", "0.1", "101.00")]
    assert fills_of(vmx, tmp_path, prints, orders) == []
    assert fills_of(vmx, tmp_path, prints, orders, "--fill-model", "touch") == []


def test_a_marketable_order_takes_the_market_the_last_print_shows(vmx: Vmx, tmp_path: Path) -> None:
    """A market buy reaching the market after a buy print at 100 (it took the ask there) pays
    100 for at most the print's size 0.2, as a taker; the rest of a market order is canceled.
    A market sell after that buy print pays one tick under it (the bid is at least that far
    below an ask just bought)."""
    prints = [
        (0, "100.00", "0.5", "buy"),
        (1, "100.00", "0.5", "buy"),  # seen: the orders are placed
        (2, "100.00", "0.2", "buy"),  # they arrive after it
        (3, "100.00", "1", "buy"),
    ]
    fills = fills_of(vmx, tmp_path, prints, [("buy", "0.5", None)])
    assert fills == [(2, "buy", Decimal("100.00"), Decimal("0.2"), "taker")]
    fills = fills_of(vmx, tmp_path, prints, [("sell", "0.1", None)])
    assert fills == [(2, "sell", Decimal("99.99"), Decimal("0.1"), "taker")]


def test_a_marketable_limit_takes_then_rests_for_the_prints(vmx: Vmx, tmp_path: Path) -> None:
    """A buy limit of 0.5 at 100.50 after a sell print of 0.2 at 100: it takes the shown ask
    (0.2 at 100.01) as a taker and rests 0.3 at 100.50; a sell print at 100.20 (through its
    price) fills 0.25 of that at 100.50."""
    prints = [
        (0, "100.00", "0.2", "sell"),
        (1, "100.00", "0.2", "sell"),
        (2, "100.00", "0.2", "sell"),
        (3, "100.20", "0.25", "sell"),
    ]
    fills = fills_of(vmx, tmp_path, prints, [("buy", "0.5", "100.50")])
    assert fills == [
        (2, "buy", Decimal("100.01"), Decimal("0.2"), "taker"),
        (3, "buy", Decimal("100.50"), Decimal("0.25"), "maker"),
    ]


def _random_walk(count: int, seed: int) -> list[tuple[int, str, str, str]]:
    """Prints of a seeded random walk around 100.00 a tick or two at a time, sized like real
    small trades, the aggressor mostly with the move (real-looking, made by hand)."""
    rng = random.Random(seed)
    ticks = 10_000
    rows = []
    for second in range(count):
        move = rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
        ticks += move
        side = "buy" if move > 0 or (move == 0 and rng.random() < 0.5) else "sell"
        size = Decimal(rng.randint(1, 400)) / 1000
        rows.append((second, f"{ticks // 100}.{ticks % 100:02d}", str(size), side))
    return rows


def test_a_market_maker_gets_fills_only_where_prints_reach_its_quotes(
    vmx: Vmx, tmp_path: Path
) -> None:
    prints = _random_walk(3000, seed=5)
    data = write_trades(tmp_path / "walk.csv", prints)
    fills_file = tmp_path / "fills.csv"
    report = vmx.json(
        "backtest", "market-maker", "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT",
        "-p", "bid_spread=0.02", "-p", "ask_spread=0.02", "-p", "order_amount=0.01",
        "-p", "order_refresh_time=5", "-p", "order_refresh_tolerance_pct=0.05",
        "--trades", str(fills_file),
    )  # fmt: skip
    with fills_file.open() as handle:
        fills = list(csv.DictReader(handle))
    assert report["metrics"]["fills"] == len(fills) >= 20
    at = {_stamp(s): (Decimal(p), Decimal(q), side) for s, p, q, side in prints}
    filled: dict[str, Decimal] = {}
    for fill in fills:
        price, _size, aggressor = at[fill["timestamp"]]
        own = Decimal(fill["price"])
        assert fill["liquidity"] == "maker"  # post-only quotes, filled by prints only
        if fill["side"] == "buy":  # a sell print at or below the bid
            assert aggressor == "sell" and price <= own, (fill, price, aggressor)
        else:
            assert aggressor == "buy" and price >= own, (fill, price, aggressor)
        filled[fill["timestamp"]] = filled.get(fill["timestamp"], Decimal(0)) + Decimal(
            fill["quantity"]
        )
    assert all(total <= at[stamp][1] for stamp, total in filled.items())
    assert {f["side"] for f in fills} == {"buy", "sell"}
