"""The mirrored book equals the venue's, and users' orders fill by the queue model: after the
volume ahead of them has traded, never by a print that did not reach them."""

from __future__ import annotations

from decimal import Decimal

from tests.engine.drivers.venues.scripted_venue import (
    D,
    Mirrored,
    ScriptedSource,
    changes,
    down,
    snapshot,
    trade,
)


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


def fills(engine: Mirrored) -> list[dict]:
    return engine.get("/v1/trading/fills")["fills"]


def test_book_equals_the_source_through_snapshots_changes_and_a_resync(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "1"), ("99.99", "2"), ("99.98", "3")], [("100.01", "1.5")]))
    assert mirrored.book() == {
        "bids": levels(("100.00", "1"), ("99.99", "2"), ("99.98", "3")),
        "asks": levels(("100.01", "1.5")),
    }
    source.push(
        changes([("100.00", "0.25"), ("99.98", "0")], [("100.02", "4")], t=1),
        changes([("99.97", "7")], [("100.01", "0"), ("100.03", "0.5")], t=2),
    )
    assert mirrored.book() == {
        "bids": levels(("100.00", "0.25"), ("99.99", "2"), ("99.97", "7")),
        "asks": levels(("100.02", "4"), ("100.03", "0.5")),
    }
    # A gap: changes while down are not applied; the next snapshot replaces every level.
    source.push(down("sequence gap: update 1204 after 1190"), changes([("50.00", "1")], t=3))
    assert mirrored.book()["bids"][-1] == (D("99.97"), D("7"))
    source.push(snapshot([("101.00", "1")], [("101.05", "2"), ("101.10", "1")], t=4))
    assert mirrored.book() == {
        "bids": levels(("101.00", "1")),
        "asks": levels(("101.05", "2"), ("101.10", "1")),
    }


def test_a_users_order_keeps_its_place_through_shrinks_and_fills_after_the_volume_ahead(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "1"), ("99.99", "2")], [("100.01", "1")]))
    placed = mirrored.order(side="buy", price="100.00", quantity="0.3")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["data"]["order_id"]
    # The level grows behind the user, then shrinks: the newest liquidity goes first, so
    # the 1.0 ahead of the user stays ahead.
    source.push(changes([("100.00", "1.5")], t=1), changes([("100.00", "1.1")], t=2))
    assert mirrored.book()["bids"][0] == (D("100.00"), D("1.4"))  # the venue's 1.1 + 0.3
    # Prints that do not reach the order: a sell at 100.00 smaller than what is ahead,
    # and a buy (it takes asks, never bids).
    source.push(trade("100.00", "0.6", "sell", t=3), trade("100.01", "0.5", "buy", t=3.5))
    assert fills(mirrored) == []
    # The print moved the queue, not the venue's sizes: they are its book's to change.
    assert mirrored.book()["bids"][0] == (D("100.00"), D("1.4"))
    # 0.4 was left ahead: a print of 0.6 fills 0.2 of the user's order, as maker at its price.
    source.push(trade("100.00", "0.6", "sell", t=4))
    [fill] = fills(mirrored)
    assert fill["order_id"] == order_id and fill["liquidity"] == "maker"
    assert D(str(fill["quantity"])) == D("0.2") and D(str(fill["price"])) == D("100.00")
    order = mirrored.get(f"/v1/trading/orders/{order_id}")
    assert order["status"] == "partially_filled"


def test_a_print_already_in_the_book_fills_nothing_and_a_price_never_reached_neither(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "0.5"), ("99.90", "1")], [("100.01", "1")], t=0))
    low = mirrored.order(side="buy", price="99.90", quantity="0.1").json()["data"]["order_id"]
    high = mirrored.order(side="buy", price="100.00", quantity="0.1").json()["data"]["order_id"]
    # The venue's book change at t=2 already removed the 0.5 a print at t=1 took: the print
    # arrives after it, and must not take the same 0.5 again from the queue (which would
    # reach the user's order behind it).
    source.push(changes([("100.00", "0")], t=2), trade("100.00", "0.5", "sell", t=1))
    assert fills(mirrored) == []
    # Sells down to 99.95 go through the bid at 100.00 (now first in its queue), never
    # reach the one at 99.90.
    source.push(trade("99.95", "5", "sell", t=3))
    assert [f["order_id"] for f in fills(mirrored)] == [high]
    assert mirrored.get(f"/v1/trading/orders/{low}")["status"] == "open"
    # The print is on the public tape all the same: the ticker's last price.
    ticker = mirrored.get("/v1/markets/BINANCE/ticker/BTC/USDT")
    assert D(str(ticker["price"])) == D("99.95")


def test_a_print_through_the_price_fills_the_whole_order(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "2")], [("100.01", "1")]))
    placed = mirrored.order(side="buy", price="100.00", quantity="0.1")
    order_id = placed.json()["data"]["order_id"]
    source.push(trade("99.99", "2.1", "sell", t=1))
    order = mirrored.get(f"/v1/trading/orders/{order_id}")
    assert order["status"] == "filled"


def test_a_print_through_the_price_fills_no_more_than_its_size(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    """One fill model with the backtests (core/venue_prints.py; the same book and prints as
    tests/engine/backtest/test_stale_levels.py): a bid of 0.3 at 100.02 behind the venue's 1.0
    there; a sell print of 0.2 at 100.00 went through 100.02 (that 1.0 was gone), so the bid
    fills first, but only the print's 0.2; the next print of 0.5 at 100.00 fills its last 0.1
    and meets the venue's queue at 100.00 with the rest."""
    source.push(snapshot([("100.02", "1.0"), ("100.00", "0.5")], [("100.05", "1")]))
    placed = mirrored.order(side="buy", price="100.02", quantity="0.3")
    order_id = placed.json()["data"]["order_id"]
    source.push(trade("100.00", "0.2", "sell", t=1))
    assert [(D(str(f["price"])), D(str(f["quantity"]))) for f in fills(mirrored)] == [
        (D("100.02"), D("0.2"))
    ]
    assert mirrored.get(f"/v1/trading/orders/{order_id}")["status"] == "partially_filled"
    source.push(trade("100.00", "0.5", "sell", t=2))
    assert sorted(D(str(f["quantity"])) for f in fills(mirrored)) == [D("0.1"), D("0.2")]
    assert mirrored.get(f"/v1/trading/orders/{order_id}")["status"] == "filled"
    # the venue's sizes are its book's to say: the print moved no level
    assert mirrored.book()["bids"] == levels(("100.02", "1.0"), ("100.00", "0.5"))


def test_venue_liquidity_crossing_a_users_order_trades_with_it(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "1")], [("100.05", "1")]))
    placed = mirrored.order(side="buy", price="100.02", quantity="0.2")
    assert placed.json()["data"]["status"] == "open"
    # The venue's ask falls to 100.01: the seller would have met the user's bid first.
    source.push(changes([], [("100.05", "0"), ("100.01", "0.5")], t=1))
    order = mirrored.get(f"/v1/trading/orders/{placed.json()['data']['order_id']}")
    assert order["status"] == "filled" and D(str(order["average_price"])) == D("100.02")
    assert mirrored.book()["asks"] == levels(("100.01", "0.3"))
