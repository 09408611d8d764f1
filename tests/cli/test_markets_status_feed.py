"""`vmx markets status` with mirrored exchanges: the engine's extension fields (`reason`, and
`feed: {source, lag_ms, reconnects}`) become table columns only when some exchange has a feed;
JSON and CSV carry them as the engine sent them. The engine's answer is the documented one
(GET /v1/markets/status), served here by a stand-in for an engine that mirrors two venues."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx

from tests.cli.conftest import Harness, table_cells, terminal_lines
from velocimex_cli.wire import jsonfmt

MIRRORED = {
    "markets": [
        {"exchange": "NASDAQ", "status": "closed", "last_update": "2026-12-06T15:00:00.000000Z"},
        {
            "exchange": "BINANCE",
            "status": "open",
            "last_update": "2026-12-06T15:59:59.123456Z",
            "feed": {"source": "binance", "lag_ms": 12, "reconnects": 0},
        },
        {
            "exchange": "KRAKEN",
            "status": "halted",
            "reason": "sequence gap: update 1204 after 1190",
            "last_update": "2026-12-06T15:59:58.000000Z",
            "feed": {"source": "kraken", "lag_ms": None, "reconnects": 3},
        },
    ]
}


def engine(payload: dict) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/markets/status"
        return httpx.Response(200, text=jsonfmt.dumps({"status": "ok", "data": payload}))

    return httpx.MockTransport(answer)


def test_the_table_shows_each_feed_and_why_an_exchange_is_halted(vmx: Harness) -> None:
    lines = terminal_lines(vmx, 150, "markets", "status", transport=engine(MIRRORED))
    assert table_cells(lines[0]) == [
        "exchange", "status", "reason", "last_update", "source", "lag_ms", "reconnects",
    ]  # fmt: skip
    rows = {table_cells(line)[0]: table_cells(line)[1:] for line in lines[2:]}
    assert rows["BINANCE"] == [
        "open", "-", "2026-12-06T15:59:59.123456Z", "binance", "12", "0",
    ]  # fmt: skip
    assert rows["KRAKEN"] == [
        "halted", "sequence gap: update 1204 after 1190", "2026-12-06T15:59:58.000000Z",
        "kraken", "-", "3",
    ]  # fmt: skip
    assert rows["NASDAQ"] == ["closed", "-", "2026-12-06T15:00:00.000000Z", "-", "-", "-"]
    # Without a mirrored exchange (the real engine app: all simulated) the table is as before.
    assert table_cells(terminal_lines(vmx, 150, "markets", "status")[0]) == [
        "exchange",
        "status",
        "last_update",
    ]


def test_on_a_narrow_terminal_the_feed_details_give_way_and_the_reason_wraps(
    vmx: Harness,
) -> None:
    lines = terminal_lines(vmx, 70, "markets", "status", transport=engine(MIRRORED))
    assert table_cells(lines[0]) == ["exchange", "status", "reason", "lag_ms"]
    assert any("sequence gap: update 1204 after 1190" in line for line in lines)
    lines = terminal_lines(vmx, 50, "markets", "status", transport=engine(MIRRORED))
    assert table_cells(lines[0]) == ["exchange", "status", "reason", "lag_ms"]
    kraken = lines.index(next(line for line in lines if line.startswith("KRAKEN")))
    wrapped = " ".join(table_cells(lines[kraken])[2:3] + table_cells(lines[kraken + 1])[2:3])
    assert wrapped == "sequence gap: update 1204 after 1190"


def test_json_and_csv_carry_the_fields_as_the_engine_sent_them_beside_the_table(
    vmx: Harness,
) -> None:
    # The same answer, three forms: the table flattens the feed for people...
    lines = terminal_lines(vmx, 150, "markets", "status", transport=engine(MIRRORED))
    assert "reconnects" in lines[0]
    # ... JSON and NDJSON keep it as the engine sent it ...
    markets = vmx.json("markets", "status", transport=engine(MIRRORED))["markets"]
    assert markets[1]["feed"] == {"source": "binance", "lag_ms": Decimal(12), "reconnects": 0}
    assert markets[2]["reason"] == "sequence gap: update 1204 after 1190"
    assert markets[2]["feed"]["lag_ms"] is None
    ndjson = vmx.run("markets", "status", "-o", "ndjson", transport=engine(MIRRORED))
    assert [jsonfmt.loads(line) for line in ndjson.stdout.splitlines()] == markets
    one = vmx.json("markets", "status", "kraken", transport=engine(MIRRORED))["markets"]
    assert [m["exchange"] for m in one] == ["KRAKEN"] and one[0]["status"] == "halted"
    # ... and CSV puts the known columns first, then the extension fields (the feed as JSON).
    result = vmx.run("markets", "status", "-o", "csv", transport=engine(MIRRORED))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["exchange", "status", "last_update", "feed", "reason"]
    assert rows[0]["feed"] == "" and rows[0]["reason"] == ""
    assert jsonfmt.loads(rows[2]["feed"]) == {"source": "kraken", "lag_ms": None, "reconnects": 3}
    assert rows[2]["reason"] == "sequence gap: update 1204 after 1190"
