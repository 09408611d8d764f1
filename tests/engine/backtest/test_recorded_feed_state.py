"""A recording of a mirrored venue carries the feed's state (`book_status`, on the book channel):
while it says the book is not valid, the backtest trades as the live engine does on a halted
feed (docs/engine.md, "Mirrored venues"): the strategy's market orders and marketable limits
are refused with MARKET_CLOSED and the feed's reason (it sees them rejected), its resting
orders stay and the held book fills none of them (recorded trades are printed only); the next
snapshot replaces the levels and trading resumes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.core_variants import run_script
from tests.engine.backtest.conftest import (
    Vmx,
    delta,
    level,
    orders_on_trades,
    snapshot,
    trade,
    write_recording,
)
from velocimex_cli.engine.backtest import runner
from velocimex_cli.engine.backtest.recording import read_recording
from velocimex_cli.engine.backtest.session import split_data
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.strategy import Strategy
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.streams import book_status_message

D = Decimal
GAP = "sequence gap: update 1204 after 1190"


def status(valid: bool, reason: str | None = None) -> dict[str, Any]:
    return book_status_message("BINANCE", "BTC/USDT", valid, reason, "2026-01-01T00:00:00Z")


# (the n-th trade the strategy sees) -> its orders: (side, quantity, price or None)
ORDERS: dict[int, list[tuple[str, str, str | None]]] = {
    1: [("buy", "0.2", "99.90")],  # rests, before the feed goes down
    2: [("buy", "0.1", None), ("buy", "0.1", "100.05"), ("buy", "0.1", "99.95")],
    3: [("buy", "0.1", None)],  # after the feed is whole again
}
MESSAGES = [
    (0, snapshot([level("100.00", "1")], [level("100.05", "1")])),
    (1, trade(1, "100.05", "0.1", "buy")),  # the first trade seen: the bid at 99.90
    (2, delta(2, ("ask", "100.06", "1"))),  # it arrives and rests
    (3, status(False, GAP)),
    # Through 100.00 and 99.90 on the venue: printed only, the held book fills nothing. The
    # second trade seen: a market buy, a buy at the held ask and a bid below it.
    (4, trade(2, "99.80", "5", "sell")),
    (5, delta(3, ("ask", "100.07", "1"))),  # they arrive: two refused, the bid rests
    (6, snapshot([level("99.50", "1")], [level("100.10", "1")])),  # whole again
    (7, trade(3, "99.90", "0.5", "sell")),  # through 99.95, at 99.90: fills both bids
    (8, delta(4, ("ask", "100.20", "1"))),  # the market buy arrives: it takes 100.10
]


class Scripted(Strategy):
    """Places ORDERS on the trades it sees; keeps what it was told."""

    id = "scripted"
    told: ClassVar[dict[str, list[Any]]] = {}

    def on_start(self) -> None:
        self.seen = 0
        Scripted.told = {"trades": [], "orders": [], "fills": []}

    def on_trade(self, trade: Any) -> None:
        self.seen += 1
        Scripted.told["trades"].append((trade.price, trade.quantity))
        for side, quantity, price in ORDERS.get(self.seen, ()):
            self.ctx.place_order(side, D(quantity), None if price is None else D(price))

    def on_order(self, order: Any) -> None:
        Scripted.told["orders"].append((order.event, order.price, order.reason))

    def on_fill(self, fill: Any) -> None:
        Scripted.told["fills"].append((fill.price, fill.quantity, fill.liquidity))


def _run(path: Path, messages: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    write_recording(path, messages)
    data = read_recording(path, Catalogue().find("BINANCE", "BTC/USDT"))
    result = runner.run(Scripted, data, runner.BacktestOptions("BINANCE", "BTC/USDT"))
    return {**Scripted.told, "report": result.report}


def test_while_the_recorded_feed_is_down_orders_that_would_trade_are_refused_and_nothing_fills(
    tmp_path: Path,
) -> None:
    # The same market without the feed's state: the print while down fills the resting bid
    # from the held book, and the orders sent then trade.
    whole = _run(tmp_path / "whole.ndjson", [m for m in MESSAGES if m[1]["type"] != "book_status"])
    assert whole["report"]["orders_rejected"] == 0
    assert whole["fills"][0] == (D("99.90"), D("0.2"), "maker")
    told = _run(tmp_path / "down.ndjson", MESSAGES)
    # The print while down reaches on_trade, as the venue's trade it was.
    assert (D("99.80"), D("5")) in told["trades"]
    rejected = [o for o in told["orders"] if o[0] == "rejected"]
    assert rejected == [
        ("rejected", None, "market_closed"),
        ("rejected", D("100.05"), "market_closed"),
    ]
    report = told["report"]
    assert report["orders_rejected"] == 2
    assert report["first_rejection"].startswith(
        f"BINANCE:BTC/USDT is halted ({GAP}): a market order"
    )
    # Nothing filled while down; once whole again the print at 99.90 fills both bids (at
    # their prices: through 99.95, at 99.90 with nothing ahead) and the market buy takes
    # the new ask.
    assert told["fills"] == [
        (D("99.95"), D("0.1"), "maker"),
        (D("99.90"), D("0.2"), "maker"),
        (D("100.10"), D("0.1"), "taker"),
    ]


def test_a_book_status_valid_again_resumes_before_the_snapshot(tmp_path: Path) -> None:
    """`{"valid": true}` (the engine's book is the venue's again; its snapshot follows) ends
    the halt at once: the print after it fills the resting bids from the held book, and the
    market buy sent then takes its ask."""
    messages = [
        *MESSAGES[:6],  # down; the print while down; the market orders refused
        (5, status(True)),
        (6, trade(3, "99.80", "5", "sell")),
        (7, delta(4, ("ask", "100.20", "1"))),
    ]
    told = _run(tmp_path / "valid.ndjson", messages)
    assert told["report"]["orders_rejected"] == 2
    assert told["fills"] == [
        (D("99.95"), D("0.1"), "maker"),
        (D("99.90"), D("0.2"), "maker"),
        (D("100.05"), D("0.1"), "taker"),
    ]


def test_the_cli_report_says_why_orders_were_refused(vmx: Vmx, tmp_path: Path) -> None:
    strategy = tmp_path / "orders.py"
    strategy.write_text(orders_on_trades(ORDERS))
    data = write_recording(tmp_path / "market.ndjson", MESSAGES)
    result = vmx.run("backtest", str(strategy), "--data", str(data), "--json")
    assert result.exit_code == 0, result.stderr
    report = jsonfmt.loads(result.stdout)
    assert report["orders_rejected"] == 2 and GAP in report["first_rejection"]
    assert "2 of the strategy's orders were rejected" in result.stderr
    assert report["metrics"]["fills"] == 3


def test_a_split_inside_the_halt_starts_the_second_part_halted(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "market.ndjson", MESSAGES)
    data = read_recording(path, Catalogue().find("BINANCE", "BTC/USDT"))
    _first, second = split_data(data, D("0.5"))  # cut at 4 ms: after the print while down
    assert second.events[0][2] is True  # the book as it stood
    assert second.events[1][2] == (False, GAP)  # and the feed still down


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"valid": "no"}, "book_status \"valid\" is 'no': it must be true or false"),
        ({"reason": 7}, 'book_status "reason" is 7: it must be text or null'),
        ({"reason": "x" * 1001}, 'book_status "reason" is 1001 characters long: at most 1000'),
    ],
)
def test_a_malformed_book_status_names_the_line(
    vmx: Vmx, tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    messages = [*MESSAGES[:3], (3, {**status(False, GAP), **change}), *MESSAGES[4:]]
    data = write_recording(tmp_path / "bad.ndjson", messages)
    result = vmx.run("backtest", "sma-cross", "--data", str(data))
    assert result.exit_code == 2
    assert f"bad.ndjson, line 5: {problem}" in result.stderr


READ = """
import json, sys
from pathlib import Path
from velocimex_cli.engine.backtest.recording import read_recording
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import NATIVE
data = read_recording(Path(sys.argv[1]), Catalogue().find("BINANCE", "BTC/USDT"))
print(json.dumps({"native": NATIVE, "events": [list(map(repr, e)) for e in data.events]}))
"""


def test_the_c_reader_and_pure_python_read_the_feed_state_alike(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "market.ndjson", MESSAGES)
    native = run_script(READ, [str(path)], pure=False)
    pure = run_script(READ, [str(path)], pure=True)
    assert (native.pop("native"), pure.pop("native")) == (True, False)
    assert native == pure
    assert native["events"][3][2] == f"FeedState(valid=False, reason={GAP!r})"
