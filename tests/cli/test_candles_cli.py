"""`vmx candles`: rows in every output format off a terminal, the chart on one, its mistakes
and shell completion, through the real `vmx` app against the real engine app on a data
directory (the CLI harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Harness, complete, make_harness
from velocimex_cli.wire import jsonfmt

FIELDS = ["time", "open", "high", "low", "close", "volume", "quote_volume", "trades"]


@pytest.fixture
def vmx(tmp_path: Path) -> Iterator[Harness]:
    """The harness's engine with a data directory (candles are kept with its stored state),
    after a market buy that walked three ask levels (three trades)."""
    for harness in make_harness(tmp_path, data_dir=tmp_path / "engine"):
        bought = harness.run("buy", "BINANCE", "BTC/USDT", "0.3", "--yes")
        assert bought.exit_code == 0, bought.stderr
        yield harness


def api_candles(vmx: Harness, query: str = "") -> dict:
    response = vmx.client.get(
        "/v1/markets/BINANCE/candles/BTC/USDT" + query,
        headers={"X-API-Key": vmx.api_key, "X-API-Secret": vmx.api_secret},
    )
    assert response.status_code == 200, response.text
    return jsonfmt.loads(response.content)["data"]


def test_json_is_the_api_payload(vmx: Harness) -> None:
    data = vmx.json("candles", "binance", "btc-usdt", "--interval", "5m")
    assert data == api_candles(vmx, "?interval=5m")
    (candle,) = data["candles"]
    assert list(candle) == FIELDS and candle["trades"] == 3
    assert candle["open"] < candle["close"] == candle["high"]  # it walked up the asks


def test_rows_off_a_terminal_as_table_csv_and_ndjson(vmx: Harness) -> None:
    (candle,) = api_candles(vmx)["candles"]
    table = vmx.run("candles", "BINANCE", "BTC/USDT")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.split("\n")[0].split() == " ┃ ".join(FIELDS).split()
    assert "60012.00" in table.stdout and "◀" not in table.stdout  # rows, not a chart
    csv = vmx.run("candles", "BINANCE", "BTC/USDT", "-o", "csv")
    header, row = csv.stdout.strip().split("\n")
    assert header.split(",") == FIELDS
    assert row.split(",") == [candle["time"], *(str(candle[f]) for f in FIELDS[1:])]
    ndjson = vmx.run("candles", "BINANCE", "BTC/USDT", "-o", "ndjson", "--limit", "1")
    assert [jsonfmt.loads(line) for line in ndjson.stdout.splitlines()] == [candle]


def test_a_chart_on_a_terminal_fits_its_width(vmx: Harness) -> None:
    narrow: dict[str, str | None] = {"COLUMNS": "80", "NO_COLOR": "1"}
    result = vmx.run(
        "candles",
        "BINANCE",
        "BTC/USDT",
        tty=True,
        env={"COLUMNS": "70", "LINES": "20", "NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[0].startswith("BINANCE BTC/USDT · 1m · 2026-11-24 15:00 O 60012.00 H 60024.00")
    assert len(lines) == 19 and max(len(line) for line in lines) <= 70
    assert sum("◀60024.00" in line for line in lines) == 1  # the last close on the axis
    assert "█" in result.stdout and "\x1b[" not in result.stdout  # shapes, no colour codes
    as_rows = vmx.run("candles", "BINANCE", "BTC/USDT", "-o", "table", tty=True, env=narrow)
    assert "◀" not in as_rows.stdout  # -o wins: rows
    # 80 columns: the quote volume, trade count and volume give way; the prices are never cut.
    assert as_rows.stdout.split("\n")[0].split() == " ┃ ".join(FIELDS[:5]).split()
    assert as_rows.stdout.split("\n")[2].split(" │ ")[-1].strip() == "60024.00"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--interval", "2m"), "--interval must be one of 1m, 5m, 1h, 1d, not '2m'"),
        (("--limit", "0"), "--limit must be a whole number from 1 to 5000, not 0"),
        (("--limit", "5001"), "--limit must be a whole number from 1 to 5000, not 5001"),
        (("--duration", "3"), "--duration goes with --watch"),
    ],
)
def test_mistakes_are_refused_saying_what_to_do(
    vmx: Harness, args: tuple[str, ...], says: str
) -> None:
    result = vmx.run("candles", "BINANCE", "BTC/USDT", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert says in result.stderr and result.stdout == ""


def test_an_unknown_symbol_is_the_api_error(vmx: Harness) -> None:
    result = vmx.run("candles", "BINANCE", "DOGE/USDT", "--json")
    assert result.exit_code != 0 and result.stdout == ""
    error = jsonfmt.loads(result.stderr)["error"]
    assert error["code"] == "INVALID_PARAMETER" and "Unknown symbol 'DOGE/USDT'" in error["message"]


def test_watch_refuses_a_table_off_a_terminal(vmx: Harness) -> None:
    result = vmx.run("candles", "BINANCE", "BTC/USDT", "--watch", "-o", "csv")
    assert result.exit_code != 0
    assert "--watch prints a chart on a terminal, or NDJSON" in result.stderr


def test_completion_offers_exchanges_symbols_and_intervals(vmx: Harness) -> None:
    assert "BINANCE" in complete(vmx, "vmx candles BIN")
    assert complete(vmx, "vmx candles BINANCE BTC") == ["BTC/USDT"]
    assert complete(vmx, "vmx candles BINANCE BTC/USDT --interval ") == ["1m", "5m", "1h", "1d"]
    assert complete(vmx, "vmx candles BINANCE BTC/USDT -i 1") == ["1m", "1h", "1d"]
