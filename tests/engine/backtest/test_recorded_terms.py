"""A recording whose header carries the instruments' terms (docs/api.md, "Recordings") is
backtested on them: an instrument the built-in catalogue lacks, and one whose recorded tick
differs from the catalogue's. Terms are untrusted input: a bad one is an error naming the
file, line 1 and the field."""

from __future__ import annotations

import csv
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
)

D = Decimal
DOGE = "BINANCE:DOGE/USDT"  # the catalogue lists no DOGE anywhere
DOGE_TERMS = {
    "base": "DOGE",
    "quote": "USDT",
    "tick_size": D("0.00001"),
    "lot_size": D("1"),
    "min_quantity": D("10"),
    "min_notional": D("1"),
}

# Bids 1000 at the first print's price, once.
BID_1000_AT_FIRST_PRINT = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy


class Bid1000(Strategy):
    id = "bid-1000"

    def on_start(self):
        self.placed = False

    def on_trade(self, trade):
        if not self.placed:
            self.placed = True
            self.ctx.buy(Decimal("1000"), trade.price)
"""


def on(instrument: str, message: dict[str, Any]) -> dict[str, Any]:
    exchange, symbol = instrument.split(":")
    return {**message, "exchange": exchange, "symbol": symbol}


def doge_market(path: Path, **header: Any) -> Path:
    """DOGE/USDT on its 0.00001 tick: a bid of 100 at 0.12345. A print of 40 there starts the
    strategy, whose bid of 1000 joins the level behind the 60 left; a print of 60 takes them,
    the next print of 1000 reaches the strategy's bid."""
    return write_recording(
        path,
        [
            (0, on(DOGE, snapshot([level("0.12345", "100")], [level("0.12350", "100")]))),
            (10, on(DOGE, trade(1, "0.12345", "40", "sell"))),
            (20, on(DOGE, delta(2, ("ask", "0.12349", "40")))),
            (30, on(DOGE, trade(2, "0.12345", "60", "sell"))),
            (40, on(DOGE, trade(3, "0.12345", "1000", "sell"))),
            (50, on(DOGE, delta(3, ("bid", "0.12344", "500")))),
        ],
        instruments=[DOGE],
        **header,
    )


def fills_of(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_an_instrument_the_catalogue_lacks_backtests_on_its_recorded_terms(
    vmx: Vmx, tmp_path: Path
) -> None:
    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_1000_AT_FIRST_PRINT)
    data = doge_market(tmp_path / "doge.ndjson", terms={DOGE: DOGE_TERMS})
    fills_file = tmp_path / "fills.csv"
    report = vmx.json("backtest", str(strategy), "--data", str(data), "--trades", str(fills_file))
    assert report["options"]["exchange"] == "BINANCE"
    assert report["options"]["symbol"] == "DOGE/USDT"
    assert report["strategy_state"] != "failed", report["strategy_error"]
    assert report["orders_rejected"] == 0, report["first_rejection"]
    fills = fills_of(fills_file)
    assert [(f["timestamp"], f["side"], D(f["price"]), D(f["quantity"])) for f in fills] == [
        ("2026-01-01T00:00:00.040000Z", "buy", D("0.12345"), D("1000"))
    ]
    price = D(fills[0]["price"])
    assert price % D("0.00001") == 0 and price % D("0.0001") != 0  # on the recorded tick
    assert report["metrics"]["final_inventory"] == D("1000")
    assert report["terms"]["source"] == "recording"
    assert report["terms"]["tick_size"] == D("0.00001")
    assert report["quote_asset"] == "USDT"
    # The same recording without terms: the catalogue is all there is, and it lacks DOGE.
    bare = doge_market(tmp_path / "bare.ndjson")
    refused = vmx.run("backtest", str(strategy), "--data", str(bare))
    assert refused.exit_code == 2
    assert "Unknown symbol 'DOGE/USDT' on BINANCE" in refused.stderr


def test_a_recordings_fee_rates_are_what_its_backtest_pays(vmx: Vmx, tmp_path: Path) -> None:
    """Terms with the venue's fee rates (a mirrored market's recording): the fill pays them,
    rounded down to the ledger's 10^-8; without them, the engine's 1 bps maker rate."""
    fees = {"maker_fee": D("0.00075"), "taker_fee": D("0.0026")}
    paid = {}
    for name, terms, rates in (
        ("venue", {**DOGE_TERMS, **fees}, ("0.00075", "0.0026")),
        ("engine", DOGE_TERMS, ("0.0001", "0.0002")),
    ):
        # the strategy sees the rates it pays (else it fails, and the report says why)
        strategy = tmp_path / f"bid_{name}.py"
        strategy.write_text(
            BID_1000_AT_FIRST_PRINT.replace(
                "self.placed = False",
                "self.placed = False\n        rates = self.ctx.fee_rates()\n"
                f"        assert (rates.maker, rates.taker) == {tuple(map(D, rates))!r}, rates",
            )
        )
        data = doge_market(tmp_path / f"{name}.ndjson", terms={DOGE: terms})
        fills_file = tmp_path / f"{name}.csv"
        report = vmx.json(
            "backtest", str(strategy), "--data", str(data), "--trades", str(fills_file)
        )
        assert report["strategy_state"] != "failed", report["strategy_error"]
        [fill] = fills_of(fills_file)
        assert fill["liquidity"] == "maker"  # the bid rested, a print reached it
        paid[name] = D(fill["fee"])
        if name == "venue":
            assert (report["terms"]["maker_fee"], report["terms"]["taker_fee"]) == (
                D("0.00075"),
                D("0.0026"),
            )
        else:
            assert "maker_fee" not in report["terms"]
    notional = D("1000") * D("0.12345")  # 123.45 USDT
    assert paid == {"venue": D("0.0925875"), "engine": D("0.012345")}
    assert paid["venue"] == notional * D("0.00075") and paid["engine"] == notional / 10_000


def test_recorded_terms_replace_the_catalogues_for_an_instrument_it_lists(
    vmx: Vmx, tmp_path: Path
) -> None:
    """BINANCE BTC/USDT recorded on a 0.001 tick (the catalogue's is 0.01): its prices are off
    the catalogue's tick, on the recorded one. A header without terms for it (terms are per
    instrument: DOGE's here) keeps the catalogue's, and refuses the prices."""
    book = [
        (0, snapshot([level("60000.005", "1")], [level("60000.015", "1")])),
        (10, trade(1, "60000.015", "0.5", "buy")),
        (20, delta(2, ("ask", "60000.013", "2"))),
    ]
    strategy = tmp_path / "buy.py"
    strategy.write_text(BID_1000_AT_FIRST_PRINT.replace('"1000"', '"0.01"'))
    terms = {
        "BINANCE:BTC/USDT": {
            "base": "BTC",
            "quote": "USDT",
            "tick_size": D("0.001"),
            "lot_size": D("0.00001"),
        }
    }
    recorded = write_recording(tmp_path / "with.ndjson", book, terms=terms)
    fills_file = tmp_path / "fills.csv"
    report = vmx.json(
        "backtest", str(strategy), "--data", str(recorded), "--trades", str(fills_file),
        "--fill-model", "touch",
    )  # fmt: skip
    assert report["terms"]["tick_size"] == D("0.001")
    assert [D(f["price"]) for f in fills_of(fills_file)] == [D("60000.013")]

    old = write_recording(tmp_path / "without.ndjson", book, terms={DOGE: DOGE_TERMS})
    refused = vmx.run("backtest", str(strategy), "--data", str(old))
    assert refused.exit_code == 2
    assert "off BINANCE:BTC/USDT's tick or lot grid" in refused.stderr


def test_a_recorded_minimum_notional_refuses_the_orders_under_it_as_live(
    vmx: Vmx, tmp_path: Path
) -> None:
    """Terms with the venue's minimum notional of 5 USDT: a bid of 10 DOGE at 0.12345 (1.2345
    USDT) and a market buy of 20 (at the ask of 0.12349: 2.4698 USDT) are refused on arrival
    with the live engine's words (core/venue_gate.py); the bid of 1000 (123.45 USDT) rests and
    fills. Terms without a minimum (an older recording's) refuse none of them."""
    orders = {1: [("buy", "10", "0.12345"), ("buy", "20", None), ("buy", "1000", "0.12345")]}
    strategy = tmp_path / "orders.py"
    strategy.write_text(orders_on_trades(orders))
    reports = {}
    for name, terms in (
        ("minimum", {**DOGE_TERMS, "min_notional": D("5")}),
        ("none", {k: v for k, v in DOGE_TERMS.items() if k != "min_notional"}),
    ):
        data = doge_market(tmp_path / f"{name}.ndjson", terms={DOGE: terms})
        fills_file = tmp_path / f"{name}.csv"
        reports[name] = vmx.json(
            "backtest", str(strategy), "--data", str(data), "--trades", str(fills_file)
        )
        reports[name]["fills"] = [
            (f["side"], D(f["price"]), D(f["quantity"])) for f in fills_of(fills_file)
        ]
    minimum = reports["minimum"]
    assert minimum["strategy_state"] != "failed", minimum["strategy_error"]
    assert minimum["orders_rejected"] == 2
    assert minimum["first_rejection"] == (
        "BINANCE:DOGE/USDT: price x quantity is 1.23450 USDT, below the venue's minimum "
        "notional of 5 USDT; order more"
    )
    assert minimum["terms"]["min_notional"] == D("5")
    assert minimum["fills"] == [("buy", D("0.12345"), D("1000"))]
    bare = reports["none"]
    assert bare["orders_rejected"] == 0, bare["first_rejection"]
    assert bare["terms"]["min_notional"] is None
    assert ("buy", D("0.12349"), D("20")) in bare["fills"]  # the market buy took the ask


BAD_TERMS = [
    ({DOGE: {**DOGE_TERMS, "tick_size": "abc"}}, "terms['BINANCE:DOGE/USDT'].tick_size"),
    ({DOGE: {**DOGE_TERMS, "tick_size": D("-0.00001")}}, "tick_size -0.00001 must be above 0"),
    ({DOGE: {**DOGE_TERMS, "lot_size": 0}}, "lot_size 0 must be above 0"),
    ({DOGE: {**DOGE_TERMS, "lot_size": D("1E+40")}}, "is out of range"),
    ({DOGE: {**DOGE_TERMS, "lot_size": "1" * 150}}, "is out of range"),
    ({DOGE: {**DOGE_TERMS, "tick_size": True}}, "tick_size True is not a decimal number"),
    ({DOGE: {k: v for k, v in DOGE_TERMS.items() if k != "lot_size"}}, "lacks lot_size"),
    ({DOGE: {**DOGE_TERMS, "base": "DO GE"}}, "base 'DO GE' is not an asset name"),
    ({DOGE: [1, 2]}, "must be an object"),
    ({"DOGE/USDT": DOGE_TERMS}, "not an instrument EXCHANGE:SYMBOL"),
    ([DOGE_TERMS], '"terms" must be an object'),
    (
        {DOGE: {**DOGE_TERMS, "tick_size": D("0.000000001"), "lot_size": D("0.000000001")}},
        "cannot be traded",
    ),
    ({DOGE: {**DOGE_TERMS, "min_quantity": D("2.5")}}, None),  # rounded up to whole lots: fine
    ({DOGE: {**DOGE_TERMS, "maker_fee": D("0.001")}}, "give both or neither"),
    ({DOGE: {**DOGE_TERMS, "maker_fee": D("-0.001"), "taker_fee": 0}}, "maker_fee -0.001 must"),
    (
        {DOGE: {**DOGE_TERMS, "maker_fee": D("0.5"), "taker_fee": D("0.001")}},
        "cannot be traded: DOGE/USDT: its maker_fee 0.5 is above 0.1",
    ),
    ({DOGE: {**DOGE_TERMS, "maker_fee": 0, "taker_fee": 0}}, None),  # no fees: fine
]


@pytest.mark.parametrize(("terms", "said"), BAD_TERMS)
def test_malformed_terms_are_refused_naming_the_file_and_line(
    vmx: Vmx, tmp_path: Path, terms: Any, said: str | None
) -> None:
    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_1000_AT_FIRST_PRINT)
    data = doge_market(tmp_path / "doge.ndjson", terms=terms)
    result = vmx.run("backtest", str(strategy), "--data", str(data))
    if said is None:
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2, result.stdout
    assert f"{data}, line 1: the header's " in result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
