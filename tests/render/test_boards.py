"""The ticker board and the order board: messages folded in, drawn on a captured console."""

from __future__ import annotations

from decimal import Decimal

from tests.render.conftest import screen
from velocimex_cli.render.order_board import OrderBoard, OrderBoardRenderer
from velocimex_cli.render.ticker_board import TickerBoard, TickerBoardRenderer

D = Decimal


def ticker(symbol: str, price: str | None, bid: str, ask: str, volume: str = "12.5") -> dict:
    return {
        "type": "ticker",
        "exchange": "BINANCE",
        "symbol": symbol,
        "price": None if price is None else D(price),
        "bid": D(bid),
        "ask": D(ask),
        "volume": D(volume),
        "timestamp": "2026-11-24T15:00:00.000000Z",
    }


def test_ticker_board_rows_update_in_place_with_change_since_first_seen() -> None:
    board = TickerBoard()
    assert board.apply(ticker("BTC/USDT", "60000.00", "59999.00", "60001.00"))
    assert board.apply(ticker("ETH/USDT", None, "2999.00", "3001.00"))
    assert board.apply(ticker("BTC/USDT", "60300.00", "60299.00", "60301.00"))
    assert not board.apply(ticker("BTC/USDT", "60300.00", "60299.00", "60301.00"))
    assert not board.apply({"type": "trade", "exchange": "BINANCE", "symbol": "BTC/USDT"})
    btc = board.rows[("BINANCE", "BTC/USDT")]
    assert btc.change == D("300.00") and btc.change_percent == D("0.50") and btc.tick == 0
    lines = screen(TickerBoardRenderer().render(board, 100, 10), 100, 10)
    assert "● live" in lines[0]
    assert lines[1].split() == [
        "instrument",
        "last",
        "change",
        "change",
        "%",
        "bid",
        "ask",
        "volume",
        "24h",
    ]
    assert lines[2].split() == [
        "BINANCE:BTC/USDT",
        "60300.00",
        "+300.00",
        "+0.50%",
        "60299.00",
        "60301.00",
        "12.5",
    ]
    assert lines[3].split() == ["BINANCE:ETH/USDT", "-", "-", "-", "2999.00", "3001.00", "12.5"]
    assert len(lines) == 4  # two instruments, nothing else: one row each, updated in place


def test_ticker_board_keeps_only_the_instruments_asked_for_in_their_order() -> None:
    board = TickerBoard([("BINANCE", "ETH/USDT"), ("BINANCE", "BTC/USDT")])
    assert not board.apply(ticker("SOL/USDT", "150.00", "149.00", "151.00"))
    board.apply(ticker("BTC/USDT", "60000.00", "59999.00", "60001.00"))
    board.apply(ticker("BTC/USDT", "59000.00", "58999.00", "59001.00"))
    lines = screen(
        TickerBoardRenderer().render(board, 100, 10, "reconnecting (attempt 2)"), 100, 10
    )
    assert "reconnecting (attempt 2)" in lines[0]
    assert lines[2].startswith("BINANCE:ETH/USDT") and lines[3].startswith("BINANCE:BTC/USDT")
    assert "-1000.00" in lines[3] and "-1.67%" in lines[3]


def test_cross_venue_spreads_compare_quotes_at_par_and_never_other_quotes() -> None:
    """BTC in USD, USDT and EUR on three venues: USD and USDT are compared (at par, said so),
    EUR never; the best pair is buying the cheapest ask and selling the dearest bid."""
    rows = {
        ("KRAKEN", "BTC/USD"): ("60000.00", "60001.00", "USD"),
        ("BINANCE", "BTC/USDT"): ("60100.00", "60101.00", "USDT"),
        ("BITSTAMP", "BTC/EUR"): ("70000.00", "70001.00", "EUR"),
    }
    markets = {
        key: {"base": "BTC", "quote": quote, "taker_fee": "0.001"}
        for key, (_, _, quote) in rows.items()
    }
    board = TickerBoard(list(rows), markets)
    for (exchange, symbol), (bid, ask, _) in rows.items():
        board.apply(ticker(symbol, None, bid, ask) | {"exchange": exchange})
    [spread] = board.spreads()
    assert (spread.base, spread.quote, spread.at_par) == ("BTC", "USD", ("USD", "USDT"))
    assert spread.spread is not None
    assert (spread.spread.buy.exchange, spread.spread.sell.exchange) == ("KRAKEN", "BINANCE")
    fees = D("60001.00") * D("0.001") + D("60100.00") * D("0.001")
    assert spread.spread.net == D("60100.00") - D("60001.00") - fees


def order(
    event: str, status: str, filled: str = "0.00000", order_id: str = "7", **extra: object
) -> dict:
    return {
        "type": "order",
        "event": event,
        "order_id": order_id,
        "client_order_id": "c-" + order_id,
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": D("0.50000"),
        "price": D("59000.00"),
        "filled_quantity": D(filled),
        "status": status,
        "updated_at": "2026-11-24T15:00:02.250000Z",
        **extra,
    }


def test_order_board_tracks_open_orders_fills_and_own_levels() -> None:
    board = OrderBoard()
    assert board.apply(order("accepted", "open"))
    assert board.apply(order("accepted", "open", order_id="8", side="sell", price=D("61000.00")))
    assert board.own_levels("BINANCE", "BTC/USDT") == {
        ("bid", D("59000.00")): D("0.50000"),
        ("ask", D("61000.00")): D("0.50000"),
    }
    board.apply(order("partially_filled", "partially_filled", "0.20000"))
    assert board.apply(
        {
            "type": "fill",
            "trade_id": "99",
            "order_id": "7",
            "exchange": "BINANCE",
            "symbol": "BTC/USDT",
            "side": "buy",
            "price": D("59000.00"),
            "quantity": D("0.20000"),
            "fee": D("1.18"),
            "fee_asset": "USDT",
            "liquidity": "maker",
            "timestamp": "2026-11-24T15:00:03.000000Z",
        }
    )
    assert board.own_levels("BINANCE", "BTC/USDT")[("bid", D("59000.00"))] == D("0.30000")
    board.apply(order("canceled", "canceled", order_id="8", side="sell", price=D("61000.00")))
    assert ("ask", D("61000.00")) not in board.own_levels("BINANCE", "BTC/USDT")
    assert board.own_levels("BINANCE", "ETH/USDT") == {}
    lines = screen(OrderBoardRenderer().render(board, 120, 20), 120, 20)
    text = "\n".join(lines)
    assert "orders: 1 open" in lines[0] and "● live" in lines[0]
    assert lines[1].split()[:4] == ["time", "order", "instrument", "side"]
    open_row = lines[2].split()
    assert open_row == [
        "15:00:02.250",
        "7",
        "BINANCE:BTC/USDT",
        "buy",
        "limit",
        "59000.00",
        "0.50000",
        "0.20000",
        "partially_filled",
    ]
    assert "canceled" in lines[3]
    assert "fills" in text and "1.18 USDT" in text and "maker" in text


def test_order_board_seeded_from_rest_and_ignores_junk() -> None:
    board = OrderBoard()
    board.load_open(
        [
            {
                "order_id": "5",
                "exchange": "BINANCE",
                "symbol": "BTC/USDT",
                "side": "sell",
                "type": "limit",
                "quantity": D("1.00000"),
                "price": D("62000.00"),
                "filled_quantity": D("0"),
                "status": "open",
                "updated_at": "2026-11-24T15:00:00Z",
            },
        ]
    )
    assert board.own_levels("BINANCE", "BTC/USDT") == {("ask", D("62000.00")): D("1.00000")}
    assert not board.apply({"type": "order", "event": "accepted"})  # no id, no quantity
    assert not board.apply({"type": "pong"})
    lines = screen(
        OrderBoardRenderer().render(OrderBoard(), 80, 10, "reconnecting (attempt 1)"), 80, 10
    )
    assert "reconnecting (attempt 1)" in lines[0] and "no open orders" in "\n".join(lines)
