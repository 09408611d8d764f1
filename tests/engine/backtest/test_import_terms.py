"""`vmx data import` of an instrument vmx's catalogue lacks: its terms are given (`--tick-size`,
`--lot-size`) and written into the recording's header, where the backtest finds them, or the
import is refused saying which flags to give, leaving no file behind."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from tests.engine.backtest.conftest import DAY_MS, Vmx, orders_on_trades, read, write_csv

D = Decimal

# id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch: DOGE/USDT on a 0.00001 tick
# stepping down and back, so a bid under the first prints is reached by later ones.
DOGE_ROWS = [
    f"{500 + i},{price},{quantity},0,{DAY_MS + i * 1000},{maker},True"
    for i, (price, quantity, maker) in enumerate(
        [
            ("0.12347000", "300", "False"),
            ("0.12346000", "200", "True"),
            ("0.12345000", "50", "True"),
            ("0.12344000", "2000", "True"),
            ("0.12343000", "2000", "True"),
            ("0.12346000", "100", "False"),
        ]
    )
]

# Bids 1000 two ticks under the first print it sees, once.
BID_BELOW_FIRST_PRINT = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy


class BidBelow(Strategy):
    id = "bid-below"

    def on_start(self):
        self.placed = False

    def on_trade(self, trade):
        if not self.placed:
            self.placed = True
            self.ctx.buy(Decimal("1000"), trade.price - Decimal("0.00002"))
"""


@pytest.fixture
def doge(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "DOGEUSDT-trades-2026-09-01.csv", DOGE_ROWS)


def test_the_given_terms_are_written_and_the_backtest_trades_on_them(
    vmx: Vmx, tmp_path: Path, doge: Path
) -> None:
    out = tmp_path / "doge.ndjson"
    made = vmx.run(
        "data", "import", "-f", "binance-trades", str(doge), "--symbol", "DOGE/USDT",
        "--tick-size", "0.00001", "--lot-size", "1", "-o", str(out),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    header, entries = read(out)
    assert header["instruments"] == ["BINANCE:DOGE/USDT"]
    assert header["terms"] == {
        "BINANCE:DOGE/USDT": {
            "base": "DOGE",
            "quote": "USDT",
            "tick_size": D("0.00001"),
            "lot_size": D("1"),
        }
    }
    assert len(entries) == len(DOGE_ROWS)

    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_BELOW_FIRST_PRINT)
    fills_file = tmp_path / "fills.csv"
    report = vmx.json("backtest", str(strategy), "--data", str(out), "--trades", str(fills_file))
    assert report["options"]["symbol"] == "DOGE/USDT"
    assert report["terms"]["tick_size"] == D("0.00001")
    assert report["orders_rejected"] == 0, report["first_rejection"]
    with fills_file.open() as handle:
        fills = list(csv.DictReader(handle))
    assert fills, report["metrics"]
    # the bid (two ticks under the print the strategy first sees, 0.12346) on the given tick
    assert {(f["side"], D(f["price"])) for f in fills} == {("buy", D("0.12344"))}
    assert sum(D(f["quantity"]) for f in fills) == D("1000")


def test_a_given_minimum_notional_is_written_and_the_backtest_enforces_it(
    vmx: Vmx, tmp_path: Path, doge: Path
) -> None:
    """`--min-notional 5` (Binance: exchangeInfo's NOTIONAL filter) goes into the header; the
    backtest refuses a bid of 10 DOGE at 0.12344 (1.2344 USDT) as the live engine would, and
    takes the bid of 1000 (123.44 USDT)."""
    out = tmp_path / "doge.ndjson"
    made = vmx.run(
        "data", "import", "-f", "binance-trades", str(doge), "--symbol", "DOGE/USDT",
        "--tick-size", "0.00001", "--lot-size", "1", "--min-notional", "5", "-o", str(out),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert read(out)[0]["terms"]["BINANCE:DOGE/USDT"]["min_notional"] == D("5")
    strategy = tmp_path / "bids.py"
    strategy.write_text(
        orders_on_trades({1: [("buy", "10", "0.12344"), ("buy", "1000", "0.12344")]})
    )
    report = vmx.json("backtest", str(strategy), "--data", str(out))
    assert report["terms"]["min_notional"] == D("5")
    assert report["orders_rejected"] == 1
    assert report["first_rejection"] == (
        "BINANCE:DOGE/USDT: price x quantity is 1.23440 USDT, below the venue's minimum "
        "notional of 5 USDT; order more"
    )


def test_without_terms_an_unknown_instrument_is_refused_saying_which_flags(
    vmx: Vmx, tmp_path: Path, doge: Path
) -> None:
    out = tmp_path / "doge.ndjson"
    refused = vmx.run(
        "data", "import", "-f", "binance-trades", str(doge), "--symbol", "DOGE/USDT",
        "-o", str(out),
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "BINANCE:DOGE/USDT is not an instrument vmx knows" in refused.stderr
    assert "give them as the exchange states them, --tick-size and --lot-size" in refused.stderr
    assert str(doge) in refused.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".doge.ndjson.*"))  # no half-written file either


def test_tardis_files_name_their_instrument_in_rows_and_are_refused_after_reading(
    vmx: Vmx, tmp_path: Path
) -> None:
    data = write_csv(
        tmp_path / "binance_trades_2026-09-01_DOGEUSDT.csv",
        [
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
            "binance,DOGE-USDT,1788220800100000,1788220800105000,1,buy,0.12345,10",
        ],
    )
    out = tmp_path / "doge.ndjson"
    refused = vmx.run("data", "import", "-f", "tardis-trades", str(data), "-o", str(out))
    assert refused.exit_code == 2
    assert "--tick-size and --lot-size" in refused.stderr
    assert not out.exists()
    made = vmx.run(
        "data", "import", "-f", "tardis-trades", str(data), "-o", str(out),
        "--tick-size", "0.00001", "--lot-size", "1",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert read(out)[0]["terms"]["BINANCE:DOGE/USDT"]["tick_size"] == D("0.00001")


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--tick-size", "0.00001"), "give --tick-size and --lot-size together"),
        (("--lot-size", "1"), "--tick-size is missing"),
        (("--tick-size", "abc", "--lot-size", "1"), "--tick-size 'abc' is not a decimal number"),
        (("--tick-size", "0", "--lot-size", "1"), "is not a decimal number above 0"),
        (("--tick-size", "0.00001", "--lot-size", "-1"), "--lot-size '-1' is not a decimal"),
        (("--tick-size", "1e40", "--lot-size", "1"), "is not a decimal number above 0"),
        (("--min-notional", "5"), "give --min-notional with --tick-size and --lot-size"),
        (
            ("--tick-size", "0.00001", "--lot-size", "1", "--min-notional", "-5"),
            "--min-notional '-5' is not a decimal number above 0",
        ),
        (
            ("--tick-size", "0.000000001", "--lot-size", "0.000000001"),
            "finer than the ledger scale",
        ),
    ],
)
def test_bad_terms_flags_are_clear_errors(
    vmx: Vmx, tmp_path: Path, doge: Path, flags: tuple[str, ...], said: str
) -> None:
    out = tmp_path / "doge.ndjson"
    refused = vmx.run(
        "data", "import", "-f", "binance-trades", str(doge), "--symbol", "DOGE/USDT",
        "-o", str(out), *flags,
    )  # fmt: skip
    assert refused.exit_code == 2, refused.stdout
    assert said in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not out.exists()


def test_terms_for_several_instruments_at_once_are_refused(vmx: Vmx, tmp_path: Path) -> None:
    btc = write_csv(
        tmp_path / "BTCUSDT-trades-2026-09-01.csv",
        [f"1,60000.01,0.001,60.0,{DAY_MS},True,True"],
    )
    eth = write_csv(
        tmp_path / "ETHUSDT-trades-2026-09-01.csv",
        [f"2,2500.01,0.01,25.0,{DAY_MS},True,True"],
    )
    out = tmp_path / "both.ndjson"
    refused = vmx.run(
        "data", "import", "-f", "binance-trades", str(btc), str(eth), "-o", str(out),
        "--tick-size", "0.01", "--lot-size", "0.001",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "give one instrument's terms, and the files hold 2" in refused.stderr
    assert not out.exists()
