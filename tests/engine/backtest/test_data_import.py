"""`vmx data import`: public market-data files (Binance's, Tardis.dev's) into recordings that
`vmx backtest --data` replays. The files here are written by hand after the publishers' docs
(data.binance.vision's trades/aggTrades CSVs; docs.tardis.dev's downloadable CSVs)."""

from __future__ import annotations

import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engine.backtest.conftest import (
    BID_AT_FIRST_PRINT,
    BUY_ON_FIRST_TRADE,
    DAY_MS,
    Vmx,
    read,
    write_csv,
)
from velocimex_cli.wire import jsonfmt

# 2026-09-01T00:00:00Z in milliseconds since the epoch
# id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch (spot: no header)
SPOT_TRADES = [
    f"101,60000.01000000,0.00100000,60.00001000,{DAY_MS},True,True",
    f"102,60000.02000000,0.00250000,150.00005000,{DAY_MS + 5},False,True",
    f"103,59999.99000000,0.01000000,599.99990000,{DAY_MS + 1000},True,True",
]


def write_zip(path: Path, member: str, lines: list[str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "\n".join(lines) + "\n")
    return path


def imported(vmx: Vmx, *args: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = Path(args[args.index("-o") + 1])
    result = vmx.run("data", "import", *args)
    assert result.exit_code == 0, result.stderr
    return read(out)


def test_binance_spot_zip_as_published(vmx: Vmx, tmp_path: Path) -> None:
    data = write_zip(
        tmp_path / "BTCUSDT-trades-2026-09-01.zip", "BTCUSDT-trades-2026-09-01.csv", SPOT_TRADES
    )
    out = tmp_path / "btc.ndjson"
    header, entries = imported(vmx, "--format", "binance-trades", str(data), "-o", str(out))
    assert header["format"] == "vmx-recording" and header["version"] == 1
    assert header["instruments"] == ["BINANCE:BTC/USDT"]  # from the file name
    assert header["channels"] == ["trades"]
    assert header["started_at"] == "2026-09-01T00:00:00.000000Z"
    assert [e["t"] for e in entries] == [0, 5_000_000, 1_000_000_000]
    msgs = [e["msg"] for e in entries]
    assert [m["trade_id"] for m in msgs] == ["101", "102", "103"]
    # isBuyerMaker true: the buyer rested, the seller took it: the aggressor sold.
    assert [m["side"] for m in msgs] == ["sell", "buy", "sell"]
    # exact digits end to end (the decoder gives Decimals; the file's text is kept)
    assert msgs[0]["price"] == Decimal("60000.01000000")
    assert "60000.01000000" in out.read_text().splitlines()[1]
    assert msgs[1]["quantity"] == Decimal("0.00250000")
    assert msgs[2]["timestamp"] == "2026-09-01T00:00:01.000000Z"
    assert {m["exchange"] for m in msgs} == {"BINANCE"}
    assert {m["symbol"] for m in msgs} == {"BTC/USDT"}


def test_microsecond_files_are_told_by_their_values_not_their_date(
    vmx: Vmx, tmp_path: Path
) -> None:
    millis = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", SPOT_TRADES)
    # The same trades with the times in microseconds (spot files from 2025 on), and the same
    # name: nothing but the values tells the unit.
    micros_dir = tmp_path / "micros"
    micros_dir.mkdir()
    lines = []
    for line in SPOT_TRADES:
        cells = line.split(",")
        cells[4] += "123"
        lines.append(",".join(cells))
    micros = write_csv(micros_dir / "BTCUSDT-trades-2026-09-01.csv", lines)
    _, ms_entries = imported(vmx, "-f", "binance-trades", str(millis), "-o", str(tmp_path / "a"))
    _, us_entries = imported(vmx, "-f", "binance-trades", str(micros), "-o", str(tmp_path / "b"))
    assert [e["t"] for e in us_entries] == [e["t"] for e in ms_entries]
    assert [e["msg"]["timestamp"] for e in us_entries] == [
        "2026-09-01T00:00:00.000123Z",
        "2026-09-01T00:00:00.005123Z",
        "2026-09-01T00:00:01.000123Z",
    ]
    assert ms_entries[1]["msg"]["timestamp"] == "2026-09-01T00:00:00.005000Z"


def test_a_file_that_changes_unit_is_refused_at_that_row(vmx: Vmx, tmp_path: Path) -> None:
    lines = [*SPOT_TRADES, f"104,60000.00000000,0.00100000,60.0,{(DAY_MS + 2000) * 1000},True,True"]
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", lines)
    out = tmp_path / "out.ndjson"
    result = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(out))
    assert result.exit_code == 2
    assert f"{data}, line 4, column 5 (time):" in result.stderr
    assert "microseconds" in result.stderr and "milliseconds" in result.stderr
    assert not out.exists()
    # no half recording, no temporary file left (VMX_HOME aside)
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == [data.name]


def test_futures_files_with_a_header_and_no_best_match_column(vmx: Vmx, tmp_path: Path) -> None:
    trades = write_csv(
        tmp_path / "ETHUSDT-trades-2026-09-01.csv",
        [
            "id,price,qty,quote_qty,time,is_buyer_maker",
            f"7,2500.10,0.500,1250.05,{DAY_MS},false",
            f"8,2500.00,1.000,2500.00,{DAY_MS + 1},true",
        ],
    )
    header, entries = imported(vmx, "-f", "binance-trades", str(trades), "-o", str(tmp_path / "t"))
    assert header["instruments"] == ["BINANCE:ETH/USDT"]
    assert [(e["msg"]["side"], str(e["msg"]["price"])) for e in entries] == [
        ("buy", "2500.10"),
        ("sell", "2500.00"),
    ]
    agg = write_csv(
        tmp_path / "ETHUSDT-aggTrades-2026-09-01.csv",
        [
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker",
            f"55,2500.10,0.500,7,7,{DAY_MS},true",
        ],
    )
    _, entries = imported(vmx, "-f", "binance-aggtrades", str(agg), "-o", str(tmp_path / "a"))
    assert [(e["msg"]["trade_id"], e["msg"]["side"]) for e in entries] == [("55", "sell")]


def test_spot_aggtrades_zip(vmx: Vmx, tmp_path: Path) -> None:
    data = write_zip(
        tmp_path / "SOLUSDT-aggTrades-2026-09.zip",
        "SOLUSDT-aggTrades-2026-09.csv",
        [
            f"900,150.25000000,3.00000000,1000,1002,{DAY_MS},False,True",
            f"901,150.24000000,1.50000000,1003,1003,{DAY_MS + 7},True,True",
        ],
    )
    header, entries = imported(vmx, "-f", "binance-aggtrades", str(data), "-o", str(tmp_path / "o"))
    assert header["instruments"] == ["BINANCE:SOL/USDT"]
    assert [(e["t"], e["msg"]["side"]) for e in entries] == [(0, "buy"), (7_000_000, "sell")]


@pytest.mark.parametrize(
    ("line", "where"),
    [
        (f"104,abc,0.001,1.0,{DAY_MS + 2000},True,True", "line 4, column 2 (price): 'abc' is not"),
        (f"104,60000.0,-1,1.0,{DAY_MS + 2000},True,True", "line 4, column 3 (qty): '-1' is not"),
        (f"104,60000.0,0.001,1.0,{DAY_MS + 2000},maybe,True", "line 4, column 6 (isBuyerMaker)"),
        (f"104,60000.0,0.001,1.0,{DAY_MS - 1},True,True", "line 4, column 5 (time): "),
        (f"104,60000.0,0.001,1.0,{DAY_MS + 2000}", "line 4: 5 columns; a Binance trades row"),
        (f"104,0.00000000,0.001,1.0,{DAY_MS + 2000},True,True", "line 4, column 2 (price)"),
    ],
)
def test_a_malformed_row_names_the_file_line_and_column(
    vmx: Vmx, tmp_path: Path, line: str, where: str
) -> None:
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", [*SPOT_TRADES, line])
    out = tmp_path / "out.ndjson"
    result = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(out))
    assert result.exit_code == 2, result.stderr
    assert f"{data}, {where}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_the_instrument_comes_from_the_flags_when_the_name_cannot_say(
    vmx: Vmx, tmp_path: Path
) -> None:
    renamed = write_csv(tmp_path / "my-trades.csv", SPOT_TRADES)
    out = tmp_path / "out.ndjson"
    refused = vmx.run("data", "import", "-f", "binance-trades", str(renamed), "-o", str(out))
    assert refused.exit_code == 2
    assert "--symbol" in refused.stderr
    unknown = write_csv(tmp_path / "BTCUSDC-trades-2026-09-01.csv", SPOT_TRADES)
    refused = vmx.run("data", "import", "-f", "binance-trades", str(unknown), "-o", str(out))
    assert refused.exit_code == 2
    assert "BTCUSDC is not an instrument vmx knows on BINANCE" in refused.stderr
    # vmx lists no BTC/USDC: its terms are given with the symbol (test_import_terms.py)
    header, _ = imported(
        vmx, "-f", "binance-trades", str(unknown), "--symbol", "btc-usdc", "-o", str(out),
        "--tick-size", "0.01", "--lot-size", "0.00001",
    )  # fmt: skip
    assert header["instruments"] == ["BINANCE:BTC/USDC"]
    header, _ = imported(
        vmx, "-f", "binance-trades", str(renamed), "-e", "binance", "-s", "ETH/USDT",
        "-o", str(tmp_path / "eth.ndjson"),
    )  # fmt: skip
    assert header["instruments"] == ["BINANCE:ETH/USDT"]
    wrong_kind = write_csv(tmp_path / "BTCUSDT-aggTrades-2026-09-01.csv", SPOT_TRADES)
    other = str(tmp_path / "other.ndjson")
    refused = vmx.run("data", "import", "-f", "binance-trades", str(wrong_kind), "-o", other)
    assert refused.exit_code == 2
    assert "--format binance-aggtrades" in refused.stderr


def test_an_existing_recording_is_replaced_only_with_force(vmx: Vmx, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", SPOT_TRADES)
    out = tmp_path / "out.ndjson"
    out.write_text("precious\n")
    refused = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(out))
    assert refused.exit_code == 2
    assert "--force" in refused.stderr
    assert out.read_text() == "precious\n"
    forced = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert read(out)[0]["format"] == "vmx-recording"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == sorted(
        [data.name, out.name]
    )
    other = tmp_path / "other.ndjson"
    other.write_text("")
    assert out.stat().st_mode & 0o777 == other.stat().st_mode & 0o777  # not a private file


def test_several_files_are_merged_in_time_order(vmx: Vmx, tmp_path: Path) -> None:
    day2 = DAY_MS + 86_400_000
    first = write_csv(
        tmp_path / "BTCUSDT-trades-2026-09-02.csv",
        [f"{200 + i},60000.0{i},0.001,60.0,{day2 + i * 10},True,True" for i in range(5)],
    )
    second = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", SPOT_TRADES)
    # and an overlapping one (aggTrades of ETH in the same seconds)
    third = write_csv(
        tmp_path / "ETHUSDT-trades-2026-09-02.csv",
        [f"{300 + i},2500.0{i},0.01,25.0,{day2 + i * 10 + 5},False,True" for i in range(5)],
    )
    header, entries = imported(
        vmx, "-f", "binance-trades", str(first), str(second), str(third), "-o",
        str(tmp_path / "merged.ndjson"),
    )  # fmt: skip
    times = [e["t"] for e in entries]
    assert times == sorted(times)
    assert len(entries) == 13
    assert set(header["instruments"]) == {"BINANCE:BTC/USDT", "BINANCE:ETH/USDT"}
    ids = [e["msg"]["trade_id"] for e in entries]
    assert ids[:3] == ["101", "102", "103"]
    assert ids[3:] == ["200", "300", "201", "301", "202", "302", "203", "303", "204", "304"]


TARDIS_TRADES = [
    "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
    "binance,BTCUSDT,1788220800100000,1788220800105000,9001,buy,60000.02,0.01",
    "binance,BTCUSDT,1788220800200000,1788220800204000,9002,sell,59999.99,0.02",
    "binance,BTCUSDT,1788220800300000,1788220800306000,9003,unknown,60000.00,0.02",
    "binance,BTCUSDT,1788220800400000,1788220800406000,9004,buy,60001,1e-5",
]
TARDIS_BOOK = [
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount",
    "binance,BTCUSDT,1788220800000000,1788220800001000,true,ask,60000.02,1.5",
    "binance,BTCUSDT,1788220800000000,1788220800001000,true,ask,60000.05,2",
    "binance,BTCUSDT,1788220800000000,1788220800001000,true,bid,59999.99,1",
    "binance,BTCUSDT,1788220800000000,1788220800001000,true,bid,60000.00,0.5",
    "binance,BTCUSDT,1788220800150000,1788220800151000,false,bid,60000.00,0",
    "binance,BTCUSDT,1788220800150000,1788220800151000,false,ask,60000.01,0.3",
    "binance,BTCUSDT,1788220800250000,1788220800251000,false,bid,59999.98,4",
    "binance,BTCUSDT,1788220800350000,1788220800351000,true,bid,59999.00,1",
    "binance,BTCUSDT,1788220800350000,1788220800351000,true,ask,60001.00,1",
]


def test_tardis_trades_gzipped(vmx: Vmx, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "binance_trades_2026-09-01_BTCUSDT.csv.gz", TARDIS_TRADES, gz=True)
    out = tmp_path / "out.ndjson"
    result = vmx.run("data", "import", "-f", "tardis-trades", str(data), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "1 trades of unknown side skipped" in result.stderr
    header, entries = read(out)
    assert header["instruments"] == ["BINANCE:BTC/USDT"]
    # times are the receive times (local_timestamp); the message keeps the exchange's
    assert header["started_at"] == "2026-09-01T00:00:00.105000Z"
    assert [e["t"] for e in entries] == [0, 99_000_000, 301_000_000]
    msgs = [e["msg"] for e in entries]
    assert [m["side"] for m in msgs] == ["buy", "sell", "buy"]
    assert msgs[0]["timestamp"] == "2026-09-01T00:00:00.100000Z"
    assert msgs[2]["quantity"] == Decimal("0.00001")  # 1e-5 written in plain notation
    assert '"quantity":0.00001' in out.read_text()


def test_tardis_book_becomes_snapshots_and_deltas_merged_with_its_trades(
    vmx: Vmx, tmp_path: Path
) -> None:
    book = write_csv(tmp_path / "book.csv.gz", TARDIS_BOOK, gz=True)
    trades = write_csv(tmp_path / "trades.csv", TARDIS_TRADES)
    header, entries = imported(
        vmx, "-f", "tardis-book", "-f", "tardis-trades", str(book), str(trades),
        "-o", str(tmp_path / "out.ndjson"),
    )  # fmt: skip
    assert header["channels"] == ["book", "trades"]
    kinds = [e["msg"]["type"] for e in entries]
    assert kinds == ["book_snapshot", "trade", "book_delta", "trade", "book_delta",
                     "book_snapshot", "trade"]  # fmt: skip
    snapshot = entries[0]["msg"]
    assert [(str(v["price"]), str(v["quantity"])) for v in snapshot["bids"]] == [
        ("60000.00", "0.5"),
        ("59999.99", "1"),
    ]
    assert [str(v["price"]) for v in snapshot["asks"]] == ["60000.02", "60000.05"]
    delta = entries[2]["msg"]
    assert [(c["side"], str(c["price"]), str(c["quantity"])) for c in delta["changes"]] == [
        ("bid", "60000.00", "0"),
        ("ask", "60000.01", "0.3"),
    ]
    assert [e["msg"].get("sequence") for e in entries if e["msg"]["type"] != "trade"] == [
        1, 2, 3, 4,
    ]  # fmt: skip
    times = [e["t"] for e in entries]
    assert times == sorted(times)


def test_tardis_files_are_held_to_their_documented_columns(vmx: Vmx, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    no_header = write_csv(tmp_path / "a.csv", TARDIS_TRADES[1:])
    result = vmx.run("data", "import", "-f", "tardis-trades", str(no_header), "-o", str(out))
    assert result.exit_code == 2
    assert f"{no_header}, line 1: not a Tardis trades CSV" in result.stderr
    bad_side = write_csv(
        tmp_path / "b.csv", [*TARDIS_BOOK[:3], TARDIS_BOOK[3].replace("bid", "bod")]
    )
    result = vmx.run("data", "import", "-f", "tardis-book", str(bad_side), "-o", str(out))
    assert result.exit_code == 2
    assert f"{bad_side}, line 4, column 6 (side): 'bod' is not bid or ask" in result.stderr
    backwards = write_csv(
        tmp_path / "c.csv", [TARDIS_TRADES[0], TARDIS_TRADES[2], TARDIS_TRADES[1]]
    )
    result = vmx.run("data", "import", "-f", "tardis-trades", str(backwards), "-o", str(out))
    assert result.exit_code == 2
    assert f"{backwards}, line 3, column 4 (local_timestamp)" in result.stderr
    assert not out.exists()


def test_a_bar_on_a_terminal_and_one_summary_line_off_it(vmx: Vmx, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", SPOT_TRADES)
    plain = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(tmp_path / "a"))
    assert plain.exit_code == 0
    assert plain.stdout == ""
    assert plain.stderr.count("\n") == 1
    assert plain.stderr.startswith("imported 3 rows from 1 file")
    on_tty = vmx.run(
        "data", "import", "-f", "binance-trades", str(data), "-o", str(tmp_path / "b"), "--json",
        stderr_tty=True,
    )  # fmt: skip
    assert on_tty.exit_code == 0, on_tty.stderr
    assert "\x1b[" in on_tty.stderr  # the bar draws (and clears itself) with terminal codes
    assert jsonfmt.loads(on_tty.stdout)["rows"] == 3


def test_a_bad_file_is_named_with_what_to_do(vmx: Vmx, tmp_path: Path) -> None:
    rows = [SPOT_TRADES[0], SPOT_TRADES[1].replace(",0.00250000,", ",abc,")]
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", rows)
    result = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert f"{data}, line 2, column 3 (qty): 'abc' is not a quantity" in result.stderr
    # what to do is about the file, not "the value of file"
    assert "fix what the message names (the file, a line in it, or a flag)" in result.stderr
    assert "fix the value of" not in result.stderr
    backtest = vmx.run(
        "backtest", "sma-cross", "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT"
    )
    assert backtest.exit_code == 2
    assert "fix what the message names" in backtest.stderr


def test_the_bar_says_its_rate_in_bytes(vmx: Vmx, tmp_path: Path) -> None:
    # enough rows for the bar to be told twice (every 65,536 rows) and so to have a rate
    rows = [f"{i},60000.01,0.001,60.0,{DAY_MS + i},True,True" for i in range(70_000)]
    data = write_csv(tmp_path / "BTCUSDT-trades-2026-09-01.csv", rows)
    out = tmp_path / "big"
    on_tty = vmx.run(
        "data", "import", "-f", "binance-trades", str(data), "-o", str(out), stderr_tty=True
    )
    assert on_tty.exit_code == 0, on_tty.stderr
    assert "70,000 messages" in on_tty.stderr
    # the bar counts bytes: its rate is bytes a second (kB/s, MB/s), never a bare number that
    # would read as messages a second beside the message count
    assert re.search(r"messages\S* +\S*[0-9.]+ [kMG]?B/s", on_tty.stderr), on_tty.stderr[-400:]


def test_an_imported_recording_backtests_with_fills(vmx: Vmx, tmp_path: Path) -> None:
    lines = []
    price = 6_000_000
    for i in range(400):
        price += (-1) ** (i // 7) * 3  # a zigzag, so prints come back through a bid
        lines.append(
            f"{1000 + i},{price // 100}.{price % 100:02d}000000,0.05000000,0,{DAY_MS + i * 250},"
            f"{'True' if i % 3 else 'False'},True"
        )
    data = write_zip(
        tmp_path / "BTCUSDT-trades-2026-09-01.zip", "BTCUSDT-trades-2026-09-01.csv", lines
    )
    recording = tmp_path / "btc.ndjson"
    made = vmx.run("data", "import", "-f", "binance-trades", str(data), "-o", str(recording))
    assert made.exit_code == 0, made.stderr
    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_AT_FIRST_PRINT)
    report = vmx.json("backtest", str(strategy), "--data", str(recording))
    assert report["options"]["symbol"] == "BTC/USDT"  # from the recording's header
    assert report["period"]["events"] == 400
    assert report["metrics"]["fills"] >= 1
    market = vmx.json("backtest", "sma-cross", "--data", str(recording), "-p", "fast=3",
                      "-p", "slow=8")  # fmt: skip
    assert market["strategy_state"] != "failed", market.get("strategy_error")


def test_a_long_snapshot_is_cut_into_bounded_messages(vmx: Vmx, tmp_path: Path) -> None:
    rows = [TARDIS_BOOK[0]]
    stamp = "1788220800000000,1788220800001000"
    for i in range(3500):  # 7,000 levels: a snapshot and then deltas at the same time
        rows.append(f"coinbase,BTC-USD,{stamp},true,bid,{50000 - i}.00,0.5")
        rows.append(f"coinbase,BTC-USD,{stamp},true,ask,{60000 + i}.00,0.5")
    rows.append("coinbase,BTC-USD,1788220800100000,1788220800101000,false,bid,49999.00,2")
    data = write_csv(tmp_path / "coinbase_book.csv", rows)
    header, entries = imported(vmx, "-f", "tardis-book", str(data), "-o", str(tmp_path / "o"))
    assert header["instruments"] == ["COINBASE:BTC/USD"]
    kinds = [e["msg"]["type"] for e in entries]
    assert kinds == ["book_snapshot", "book_delta", "book_delta"]
    assert entries[0]["t"] == entries[1]["t"] == 0
    snapshot, rest = entries[0]["msg"], entries[1]["msg"]
    assert len(snapshot["bids"]) + len(snapshot["asks"]) == 5000
    assert len(rest["changes"]) == 2000
    assert max(len(line) for line in (tmp_path / "o").read_text().splitlines()) < 1 << 20
    bids = [v["price"] for v in snapshot["bids"]]
    assert bids == sorted(bids, reverse=True)


def test_an_imported_book_and_its_trades_backtest(vmx: Vmx, tmp_path: Path) -> None:
    book = write_csv(tmp_path / "book.csv.gz", TARDIS_BOOK, gz=True)
    trades = write_csv(tmp_path / "trades.csv", TARDIS_TRADES)
    recording = tmp_path / "l2.ndjson"
    made = vmx.run(
        "data", "import", "-f", "tardis-book", "-f", "tardis-trades", str(book), str(trades),
        "-o", str(recording),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    strategy = tmp_path / "buy.py"
    strategy.write_text(BUY_ON_FIRST_TRADE)
    report = vmx.json("backtest", str(strategy), "--data", str(recording))
    assert report["period"]["events"] == 7
    assert report["metrics"]["fills"] >= 1
