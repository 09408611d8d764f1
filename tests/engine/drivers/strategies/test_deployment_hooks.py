"""What a live deployment's hooks see, on the real app: book changes made while a hook runs
reach the strategy after it as one on_book with the book as it is then, an idle deployment is
woken by the next change, and the reads a hook makes (answered with the hook once the worker
has reported them) are the engine's, as of the hook's start until its first order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import auth_headers, settings
from velocimex_cli.engine.api.app import create_app

SLOW_READER = """
import time
from velocimex_cli.strategy import Strategy

class SlowReader(Strategy):
    id = "slow-reader"
    def on_start(self):
        self.books = 0
    def on_book(self, book):
        self.books += 1
        self.ctx.log(f"book {self.books} sequence {book.sequence} bid {book.bid}")
        if self.books == 1:
            time.sleep(0.5)  # busy while the test moves the book
"""
READER = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy

class Reader(Strategy):
    id = "reader"
    def on_start(self):
        self.books = 0
    def on_book(self, book):
        self.books += 1
        mid = self.ctx.mid()
        orders = self.ctx.open_orders()
        before = len(orders)
        orders.append("not an order")  # a copy: the next read is unchanged
        again = len(self.ctx.open_orders())
        elsewhere = self.ctx.best_bid("NASDAQ", "AAPL")  # not a book it listens to
        self.ctx.buy(Decimal(1), elsewhere, exchange="NASDAQ", symbol="AAPL")
        after = len(self.ctx.open_orders())
        self.ctx.log(f"book {self.books} mid {mid} orders {before} {again} {after}")
"""
BOOK = "/v1/markets/NASDAQ/orderbook/MSFT"


@pytest.fixture
def engine() -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(settings())
    with TestClient(app) as client:
        yield (
            client,
            auth_headers(app.state.runtime.keys, "alice", permissions="read,trade,strategies"),
        )


def bid_at(client: TestClient, headers: dict[str, str], price: Decimal) -> None:
    placed = client.post(
        "/v1/trading/orders",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "side": "buy", "type": "limit",
              "quantity": 1, "price": str(price)},
        headers=headers,
    )  # fmt: skip
    assert placed.status_code == 201, placed.text


def book_lines(client: TestClient, headers: dict[str, str], path: str) -> list[list[str]]:
    logs = client.get(f"{path}/logs", headers=headers).json()["data"]["logs"]
    return [line["message"].split() for line in logs if line["message"].startswith("book ")]


def wait_for_books(
    client: TestClient, headers: dict[str, str], path: str, count: int
) -> list[list[str]]:
    deadline = time.monotonic() + 10
    while True:
        lines = book_lines(client, headers, path)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def deploy(client: TestClient, headers: dict[str, str], source: str) -> str:
    added = client.post("/v1/strategies", json={"source": source}, headers=headers)
    assert added.status_code == 201, added.text
    deployed = client.post(
        f"/v1/strategies/{added.json()['data']['strategy_id']}/deploy",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "params": {}},
        headers=headers,
    )
    assert deployed.status_code == 201, deployed.text
    return f"/v1/strategies/deployments/{deployed.json()['data']['deployment_id']}"


def test_changes_during_a_hook_arrive_coalesced_after_it(
    engine: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = engine
    path = deploy(client, headers, SLOW_READER)
    bid = Decimal(str(client.get(BOOK, headers=headers).json()["data"]["bids"][0]["price"]))

    bid_at(client, headers, bid + Decimal("0.01"))  # on_book 1: it sleeps ...
    assert len(wait_for_books(client, headers, path, 1)) == 1
    for step in range(2, 5):  # ... while three more bids raise the best bid
        bid_at(client, headers, bid + Decimal("0.01") * step)
    lines = wait_for_books(client, headers, path, 2)
    time.sleep(0.3)  # nothing more may come: the three changes are one on_book
    book = client.get(BOOK, headers=headers).json()["data"]
    assert book_lines(client, headers, path) == lines
    assert len(lines) == 2
    assert lines[1][3] == str(book["sequence"])
    assert Decimal(lines[1][5]) == bid + Decimal("0.04")

    bid_at(client, headers, bid + Decimal("0.05"))  # an idle deployment wakes on a change
    lines = wait_for_books(client, headers, path, 3)
    assert len(lines) == 3
    assert Decimal(lines[2][5]) == bid + Decimal("0.05")
    assert int(lines[2][3]) == int(lines[1][3]) + 1


def test_reads_are_the_engine_s_as_of_the_hook_until_its_first_order(
    engine: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = engine
    path = deploy(client, headers, READER)
    bid = Decimal(str(client.get(BOOK, headers=headers).json()["data"]["bids"][0]["price"]))
    for step in range(1, 5):  # from the second on_book on, its reads come with the hook
        bid_at(client, headers, bid + Decimal("0.01") * step)
        lines = wait_for_books(client, headers, path, step)
        assert len(lines) == step
        book = client.get(BOOK, headers=headers).json()["data"]
        mid = (Decimal(str(book["bids"][0]["price"])) + Decimal(str(book["asks"][0]["price"]))) / 2
        assert Decimal(lines[-1][3]) == mid
        assert lines[-1][5:] == [str(step - 1), str(step - 1), str(step)]
    status = client.get(path, headers=headers).json()["data"]
    assert status["state"] == "running", status["last_error"]
