"""What vmx prints fits what happened: filters that filter, CSV that is CSV (header included),
lists that say they were cut, and hints that fit the situation."""

from __future__ import annotations

import csv
import http.server
import io
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.cli.conftest import Harness
from velocimex_cli.output.columns import (
    BATCH_FIELDS,
    DEPLOYMENT_FIELDS,
    ORDER_FIELDS,
    POSITION_FIELDS,
    STRATEGY_FIELDS,
)
from velocimex_cli.wire import jsonfmt

ORDER_LINE = ('{"exchange":"BINANCE","symbol":"ETH/USDT","side":"buy","type":"limit",'
              '"quantity":"0.1","price":"2800"}')  # fmt: skip


def csv_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_markets_status_filters_by_exchange(vmx: Harness) -> None:
    every = vmx.json("markets", "status")["markets"]
    assert len(every) > 1
    one = vmx.json("markets", "status", "nasdaq")["markets"]
    assert [m["exchange"] for m in one] == ["NASDAQ"]
    unknown = vmx.run("markets", "status", "NOPE")
    assert unknown.exit_code == 2
    assert "no exchange 'NOPE'" in unknown.stderr and "BINANCE" in unknown.stderr


def test_csv_of_an_empty_list_still_has_its_header(vmx: Harness) -> None:
    orders = vmx.run("order", "list", "-o", "csv")
    assert orders.exit_code == 0 and csv_of(orders.stdout) == [list(ORDER_FIELDS)]
    positions = vmx.run("account", "positions", "-o", "csv")
    assert csv_of(positions.stdout)[0] == list(POSITION_FIELDS)
    strategies = vmx.run("strategy", "list", "-o", "csv")
    assert csv_of(strategies.stdout)[0] == list(STRATEGY_FIELDS)
    deployments = vmx.run("strategy", "status", "-o", "csv")
    assert deployments.exit_code == 0 and csv_of(deployments.stdout) == [list(DEPLOYMENT_FIELDS)]
    status = csv_of(vmx.run("markets", "status", "BINANCE", "-o", "csv").stdout)
    assert status[0] == ["exchange", "status", "last_update"] and status[1][:2] == [
        "BINANCE",
        "open",
    ]


def test_a_batch_in_csv_is_csv(vmx: Harness) -> None:
    bad = ORDER_LINE.replace('"0.1"', '"0"')
    result = vmx.run("order", "place", "--file", "-", "-o", "csv", "--yes",
                     input=f"{ORDER_LINE}\n{bad}\n")  # fmt: skip
    assert result.exit_code == 2
    rows = csv_of(result.stdout)
    assert rows[0] == list(BATCH_FIELDS) and len(rows) == 3
    placed, failed = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert placed["line"] == "1" and placed["result"] == "placed" and placed["status"] == "open"
    assert placed["price"] == "2800.00" and placed["order_id"]
    assert failed["result"] == "failed" and failed["error_code"] == "INVALID_PARAMETER"
    nothing = vmx.run("order", "place", "--file", "-", "-o", "csv", input="# only a comment\n")
    assert nothing.exit_code == 0 and csv_of(nothing.stdout) == [list(BATCH_FIELDS)]


def test_a_book_cut_at_the_default_depth_says_so_and_an_asked_depth_is_silent(
    vmx: Harness,
) -> None:
    cut = vmx.run("book", "BINANCE", "BTC/USDT", "-o", "csv")
    assert cut.exit_code == 0
    assert len(csv_of(cut.stdout)) == 1 + 40  # header, 20 asks, 20 bids
    assert "20 levels per side shown, more exist; use --depth N" in cut.stderr
    asked = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "3", "-o", "csv")
    assert asked.exit_code == 0 and len(csv_of(asked.stdout)) == 1 + 6
    assert asked.stderr == ""  # the depth asked for is what is shown: no hint
    title = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "3", tty=True,
                    env={"NO_COLOR": "1", "COLUMNS": "80"}).stdout.splitlines()[0]  # fmt: skip
    assert title.strip().startswith("BINANCE BTC/USDT  seq ")  # the title on one line
    whole = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "1000", "--json")
    deepest = max(len(jsonfmt.loads(whole.stdout)[side]) for side in ("bids", "asks"))
    full = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", str(deepest), "--json")
    assert full.exit_code == 0 and "shown" not in full.stderr  # nothing was left out


def test_canceling_a_filled_order_says_it_is_filled(vmx: Harness) -> None:
    order = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--yes")
    assert order["status"] == "filled"
    result = vmx.run("order", "cancel", order["order_id"])
    assert result.exit_code == 2
    assert f"order {order['order_id']} is already filled" in result.stderr
    assert "fix the value" not in result.stderr


def test_an_unknown_strategy_points_to_strategy_list(vmx: Harness) -> None:
    result = vmx.run("strategy", "deploy", "nope", "--exchange", "BINANCE", "--symbol", "BTC/USDT")
    assert result.exit_code == 7 and "vmx strategy list" in result.stderr
    assert "vmx order list" not in result.stderr


@pytest.fixture
def plain_http_server() -> Iterator[str]:
    """Not an API: Python's file server on loopback, answering 404 pages in HTML."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_404_from_a_server_that_is_not_a_velocimex_api_says_so(
    vmx: Harness, plain_http_server: str
) -> None:
    real = httpx.HTTPTransport()
    env: dict[str, str | None] = {"VMX_API_URL": plain_http_server}
    result = vmx.run("markets", "status", env=env, transport=real)
    assert result.exit_code == 9
    assert "not a Velocimex API" in result.stderr and plain_http_server in result.stderr
    as_json = vmx.run("order", "list", "--json", env=env, transport=real)
    error = jsonfmt.loads(as_json.stderr)["error"]
    assert error["code"] == "UNREACHABLE" and error["details"]["status"] == 404
    posted = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", env=env,
                     transport=real)  # fmt: skip
    assert posted.exit_code == 9 and "not a Velocimex API" in posted.stderr
