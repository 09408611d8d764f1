"""Renderables, captured with a Rich console: exact numbers, fitting without cutting."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from tests.table_headers import cut_headers
from velocimex_cli.render.tables import (
    BALANCE_COLUMNS,
    ORDER_COLUMNS,
    book_ladder,
    records_table,
)

ORDER = {
    "order_id": "751", "client_order_id": "vmx-15c86fe73275aaaaaaaa", "exchange": "BINANCE",
    "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": Decimal("0.01000"),
    "price": Decimal("1234.50"), "filled_quantity": Decimal("0.00000"), "average_price": None,
    "status": "open", "timestamp": "2026-11-24T09:36:04.250062Z",
}  # fmt: skip


def text(renderable: object, width: int) -> str:
    console = Console(width=width, no_color=True, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_a_narrow_screen_drops_least_needed_columns_and_cuts_nothing() -> None:
    narrow = text(records_table([ORDER], ORDER_COLUMNS), 80)
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for must in ("751", "BINANCE", "BTC/USDT", "buy", "0.01000", "1234.50", "open"):
        assert must in narrow
    assert "client_order_id" not in narrow and "…" not in narrow
    assert not cut_headers(narrow, ORDER_COLUMNS)
    wide = text(records_table([ORDER], ORDER_COLUMNS), 400)
    assert "vmx-15c86fe73275aaaaaaaa" in wide and "2026-11-24T09:36:04.250062Z" in wide


def test_values_too_wide_for_any_fit_drop_the_rightmost_columns_instead_of_cropping() -> None:
    large = Decimal("123456789012345678901234567890.12")
    row = {"asset": "USDT", "total": large, "available": large, "locked": large}
    narrow = text(records_table([row], BALANCE_COLUMNS), 80)
    assert all(len(line) <= 80 for line in narrow.splitlines())
    assert not cut_headers(narrow, BALANCE_COLUMNS), narrow  # Rich crops it without a mark
    assert narrow.count(str(large)) == 2 and "locked" not in narrow


def test_book_ladder_puts_asks_above_bids_with_exact_digits() -> None:
    book = {
        "exchange": "BINANCE", "symbol": "BTC/USDT", "sequence": 9,
        "asks": [{"price": Decimal("60013.81"), "quantity": Decimal("0.21667")},
                 {"price": Decimal("60019.80"), "quantity": Decimal("0.31667")}],
        "bids": [{"price": Decimal("59977.80"), "quantity": Decimal("0.10000")}],
    }  # fmt: skip
    lines = text(book_ladder(book), 80).splitlines()
    prices = [line for line in lines if "600" in line or "599" in line]
    assert "60019.80" in prices[0] and "60013.81" in prices[1] and "59977.80" in prices[2]
    assert "0.10000" in prices[2]


def test_a_shallow_book_keeps_its_title_on_one_line() -> None:
    book = {
        "exchange": "BINANCE", "symbol": "BTC/USDT", "sequence": 123456789,
        "asks": [{"price": Decimal("1.00"), "quantity": Decimal("1")}],
        "bids": [{"price": Decimal("0.99"), "quantity": Decimal("1")}],
    }  # fmt: skip
    first = text(book_ladder(book), 80).splitlines()[0]
    assert first.strip() == "BINANCE BTC/USDT  seq 123456789"
