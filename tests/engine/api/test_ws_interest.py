"""The engine builds only the events its WebSocket subscribers want (Hub.interest): no book,
ticker or trade event without a market subscriber to those channels, no order or fill event of
an account without an orders stream. Seen through the engine's public listener API: a listener
that asks for nothing more sees what the other listeners made the engine build."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import ORDER, auth_headers, receive, receive_until
from velocimex_cli.engine.core import events
from velocimex_cli.engine.core.exchange import Interest


class Spy:
    """An engine listener that needs nothing built: it sees what others' interests build."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    def __call__(self, event: object) -> None:
        self.seen.append(event)

    def kinds(self) -> set[str]:
        """What was built since the last call (a TickerEvent comes with a BookEvent when the
        best prices moved: one interest covers both, so it is left out)."""
        seen, self.seen = self.seen, []
        kinds = set()
        for event in seen:
            if isinstance(event, events.OrderEvent | events.FillEvent):
                kinds.add(f"{type(event).__name__}:{event.account}")
            elif not isinstance(event, events.TickerEvent):
                kinds.add(type(event).__name__)
        return kinds


@pytest.fixture
def spy(client: TestClient) -> Iterator[Spy]:
    exchange = client.app.state.runtime.exchange  # type: ignore[attr-defined]
    watcher = Spy()
    exchange.add_listener(watcher, Interest(accounts=frozenset(), books=False, trades=False))
    yield watcher
    exchange.remove_listener(watcher)


def test_events_are_built_for_what_the_subscribers_want_only(
    client: TestClient, headers: dict[str, str], spy: Spy
) -> None:
    keys = client.app.state.runtime.keys  # type: ignore[attr-defined]
    bob = auth_headers(keys, "bob")

    def place(who: dict[str, str], price: str) -> None:
        answer = client.post("/v1/trading/orders", json={**ORDER, "price": price}, headers=who)
        assert answer.status_code == 201, answer.text

    # alice's orders stream alone: her order events, nothing of the books nor of bob
    with client.websocket_connect("/v1/ws/orders", headers=dict(headers)) as orders:
        assert receive(orders)["type"] == "authenticated"
        place(headers, "150.10")
        assert receive(orders)["event"] == "accepted"
        place(bob, "150.11")
        assert spy.kinds() == {"OrderEvent:alice"}

        # a market stream (its default feed: every ticker) makes book (and ticker) events
        with client.websocket_connect("/v1/ws/market") as market:
            place(bob, "150.12")
            assert spy.kinds() == {"BookEvent"}
            market.send_text('{"action": "unsubscribe", "channels": ["ticker"]}')
            receive_until(market, "unsubscribed")
            place(bob, "150.13")
            assert spy.kinds() == set()  # it wants no channel now
            market.send_text(
                '{"action": "subscribe", "channels": ["book"], "instruments": ["NASDAQ:AAPL"]}'
            )
            receive_until(market, "subscribed")
            place(headers, "150.14")
            assert spy.kinds() == {"BookEvent", "OrderEvent:alice"}
            assert receive_until(market, "book_delta")["symbol"] == "AAPL"

    # nobody listens: nothing is built
    place(headers, "150.15")
    assert spy.kinds() == set()
