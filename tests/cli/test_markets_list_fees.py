"""`vmx markets list` shows each instrument's fee rates: GET /v1/markets's (extension)
`maker_fee`, `taker_fee` and `fee_source` ("venue": a mirrored venue's own rates, "engine": the
engine's) in the table, fitting an 80-column terminal, and in the CSV; JSON passes the API's
fields. The simulated instruments come from the real engine app; a mirrored venue's row from a
stand-in for an engine mirroring Binance (its answer the documented one)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pytest

from tests.cli.conftest import Harness, table_cells, terminal_lines
from velocimex_cli.wire import jsonfmt

D = Decimal
MIRRORED = {
    "markets": [
        {
            "exchange": "BINANCE", "symbol": "DOGE/USDT", "base": "DOGE", "quote": "USDT",
            "tick_size": D("0.00001"), "lot_size": D("1"), "min_quantity": D("1"),
            "min_notional": D("1"), "status": "open", "maker_fee": D("0.00075"),
            "taker_fee": D("0.0026"), "fee_source": "venue",
        },
        {
            "exchange": "NASDAQ", "symbol": "AAPL", "base": "AAPL", "quote": "USD",
            "tick_size": D("0.01"), "lot_size": D("1"), "min_quantity": D("1"),
            "min_notional": None, "status": "closed", "maker_fee": D("0.0001"),
            "taker_fee": D("0.0002"), "fee_source": "engine",
        },
    ]
}  # fmt: skip


def mirroring() -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/markets"
        return httpx.Response(200, text=jsonfmt.dumps({"status": "ok", "data": MIRRORED}))

    return httpx.MockTransport(answer)


@pytest.mark.parametrize("width", [80, 120])
def test_the_table_shows_the_fee_rates_and_whose_they_are(vmx: Harness, width: int) -> None:
    lines = terminal_lines(vmx, width, "markets", "list")
    header = table_cells(lines[0])
    for column in ("exchange", "symbol", "tick_size", "maker_fee", "taker_fee", "fee_source"):
        assert column in header, (width, header)
    if width == 120:  # room for the terms a narrow screen drops (none cut: whole names)
        assert {"lot_size", "min_quantity", "min_notional", "status"} <= set(header), header
    rows = [dict(zip(header, table_cells(line), strict=True)) for line in lines[2:]]
    btc = next(r for r in rows if (r["exchange"], r["symbol"]) == ("BINANCE", "BTC/USDT"))
    # the engine's rates (1 and 2 bps), which the simulated instrument's fills pay
    assert (btc["maker_fee"], btc["taker_fee"], btc["fee_source"]) == ("0.0001", "0.0002", "engine")


def test_a_mirrored_venues_own_rates_show_as_the_venues(vmx: Harness) -> None:
    lines = terminal_lines(vmx, 80, "markets", "list", transport=mirroring())
    header = table_cells(lines[0])
    rows = {
        table_cells(line)[1]: dict(zip(header, table_cells(line), strict=True))
        for line in lines[2:]
    }
    doge = rows["DOGE/USDT"]
    assert (doge["tick_size"], doge["maker_fee"], doge["taker_fee"], doge["fee_source"]) == (
        "0.00001", "0.00075", "0.0026", "venue",
    )  # fmt: skip
    assert rows["AAPL"]["fee_source"] == "engine"


def test_csv_and_json_carry_the_fee_fields(vmx: Harness) -> None:
    result = vmx.run("markets", "list", "-o", "csv", transport=mirroring())
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "exchange", "symbol", "base", "quote", "tick_size", "lot_size", "min_quantity",
        "min_notional", "status", "maker_fee", "taker_fee", "fee_source",
    ]  # fmt: skip
    assert [(r["symbol"], r["min_notional"], r["maker_fee"], r["taker_fee"], r["fee_source"])
            for r in rows] == [
        ("DOGE/USDT", "1", "0.00075", "0.0026", "venue"),
        ("AAPL", "", "0.0001", "0.0002", "engine"),
    ]  # fmt: skip
    listed = vmx.json("markets", "list", "BINANCE")["markets"]
    btc = next(m for m in listed if m["symbol"] == "BTC/USDT")
    assert (btc["maker_fee"], btc["taker_fee"], btc["fee_source"]) == (
        D("0.0001"), D("0.0002"), "engine",
    )  # fmt: skip
