"""Nothing a strategy worker sends is ever executed by the engine.

A strategy shares its worker's socket with the engine. These strategies find that socket and
write their own frames to it: a pickle whose unpickling would create a marker file (what a
pickle-speaking engine would run), garbage, a 4 GiB length header, valid frames of the wrong
kind or out of turn. They do it at import time (during the upload check), in on_start and in a
later hook, on the real app. The marker never appears; the deployment fails with a protocol
violation in `last_error` and its log (the upload is refused with a 400); the engine goes on
acknowledging orders and running other deployments.

And the other way: an API error the engine answers a context call with reaches the strategy as
its own class (OrderNotOpen, not just INVALID_PARAMETER), with its message and details.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import FakeClock
from tests.engine.api.conftest import auth_headers, settings
from tests.engine.drivers.strategies.conftest import (
    add,
    logs_of,
    make_node,
    move_the_book,
    wait_for_state,
)
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.node import EngineNode, StrategyLimits

ATTACKER = '''
import gc, os, pathlib, pickle, socket, struct, time
from velocimex_cli.strategy import Strategy

MARKER = pathlib.Path({marker!r})
WHEN = {when!r}
KIND = {kind!r}


class Touch:
    """Unpickling this creates MARKER."""

    def __reduce__(self):
        return (pathlib.Path.touch, (MARKER,))


def frame(body):
    return struct.pack("!I", len(body)) + body


def attack():
    channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
    if KIND == "pickle":
        data = frame(pickle.dumps(("done", Touch()))) + frame(pickle.dumps(("described", Touch())))
    elif KIND == "garbage":
        data = frame(b"\\xc1" * 32)
    elif KIND == "huge":
        data = struct.pack("!I", 2**32 - 1) + b"x" * 4096
    else:
        import msgspec

        encode = msgspec.msgpack.encode
        if KIND == "wrong-type":
            data = frame(encode(["ready", {{}}, []]))
        elif KIND == "unknown-call":
            data = frame(encode(["call", ["exec", "import os"]]))
        elif KIND == "bad-field":
            data = frame(encode(["call", ["place_order", "buy", "lots", None, None, False,
                                          None, None]]))
        else:  # two calls at once: the second without waiting for the first's answer
            data = frame(encode(["call", ["log", "one", "info"]])) * 2
    with socket.socket(fileno=os.dup(channel.fileno())) as sock:
        sock.sendall(data)
    if WHEN != "import":
        time.sleep(1.5)  # the worker's own next message comes after the node has judged


class Attacker(Strategy):
    id = {strategy_id!r}

    def on_start(self):
        if WHEN == "on_start":
            attack()

    def on_book(self, book):
        if WHEN == "on_book":
            attack()
        self.ctx.log("book seen")


if WHEN == "import":
    attack()
    if {refused!r}:
        raise RuntimeError("this file is refused anyway")
'''

BENIGN = """
from velocimex_cli.strategy import Strategy

class Benign(Strategy):
    id = "benign"

    def on_book(self, book):
        self.ctx.log("benign saw bid " + str(book.bid))
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[TestClient, dict[str, str]]]:
    limits = StrategyLimits(callback_seconds=2.0, start_seconds=10, memory_bytes=256 * 2**20)
    app = create_app(settings(strategy_limits=limits))
    with TestClient(app) as client:
        yield (
            client,
            auth_headers(app.state.runtime.keys, "alice", permissions="read,trade,strategies"),
        )


def attacker(
    marker: Path, when: str, kind: str, refused: bool = False, strategy_id: str | None = None
) -> str:
    strategy_id = strategy_id or f"attack-{when}-{kind}".replace("_", "-")
    return ATTACKER.format(
        marker=str(marker), when=when, kind=kind, strategy_id=strategy_id, refused=refused
    )


def deploy(client: TestClient, headers: dict[str, str], source: str) -> str:
    body = {"source": source}
    added = client.post("/v1/strategies", json=body, headers=headers)
    assert added.status_code == 201, added.text
    strategy_id = added.json()["data"]["strategy_id"]
    deployed = client.post(
        f"/v1/strategies/{strategy_id}/deploy",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "params": {}},
        headers=headers,
    )
    assert deployed.status_code == 201, deployed.text
    return deployed.json()["data"]["deployment_id"]


def assert_still_serving(client: TestClient, headers: dict[str, str]) -> None:
    """A manual order is acknowledged and a well-behaved deployment runs its hooks."""
    move_the_book(client, headers)
    assert client.get("/v1/health").status_code == 200
    added = client.post("/v1/strategies", json={"source": BENIGN}, headers=headers)
    assert added.status_code == 201, added.text
    deployed = client.post(
        "/v1/strategies/benign/deploy",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "params": {}},
        headers=headers,
    )
    assert deployed.status_code == 201, deployed.text
    deployment_id = deployed.json()["data"]["deployment_id"]
    move_the_book(client, headers)
    deadline = time.monotonic() + 15
    while "benign saw bid" not in logs_of(client, headers, deployment_id):
        assert time.monotonic() < deadline, logs_of(client, headers, deployment_id)
        time.sleep(0.02)
    found = client.get(f"/v1/strategies/deployments/{deployment_id}", headers=headers)
    assert found.json()["data"]["state"] == "running", found.text


@pytest.mark.parametrize(
    ("when", "kind", "reported"),
    [
        ("on_start", "pickle", "not a deployment worker's message"),
        ("on_book", "pickle", "not a deployment worker's message"),
        ("on_book", "garbage", "not a deployment worker's message"),
        ("on_book", "huge", "a message of 4294967295 bytes announced"),
        ("on_book", "wrong-type", "reported ready while the strategy was running"),
        ("on_book", "unknown-call", "Invalid value 'exec'"),
        ("on_book", "bad-field", "Invalid decimal string"),
        ("on_book", "out-of-turn", "it sent more after its call message"),
    ],
)
def test_a_frame_a_strategy_writes_to_its_socket_fails_only_that_deployment(
    engine: tuple[TestClient, dict[str, str]],
    tmp_path: Path,
    when: str,
    kind: str,
    reported: str,
) -> None:
    client, headers = engine
    marker = tmp_path / "executed-by-the-engine"
    deployment_id = deploy(client, headers, attacker(marker, when, kind))
    if when == "on_book":
        move_the_book(client, headers)
    found = wait_for_state(client, headers, deployment_id, "failed")
    assert not marker.exists(), "the engine ran code a strategy sent"
    assert found["state"] == "failed", found
    assert found["last_error"].startswith(f"{when}: protocol violation: ")
    assert reported in found["last_error"]
    assert "the worker was killed" in found["last_error"]
    assert "protocol violation" in logs_of(client, headers, deployment_id)
    assert found["open_orders"] == 0
    move_the_book(client, headers)  # matching goes on


@pytest.mark.parametrize(
    ("kind", "refused"),
    [
        ("pickle", False),
        ("pickle", True),
        ("garbage", False),
        ("huge", True),
        ("wrong-type", False),
    ],
    ids=["pickle", "pickle-then-refused", "garbage", "huge", "wrong-type"],
)
def test_a_frame_written_at_import_refuses_the_upload(
    engine: tuple[TestClient, dict[str, str]], tmp_path: Path, kind: str, refused: bool
) -> None:
    client, headers = engine
    marker = tmp_path / "executed-by-the-engine"
    source = attacker(marker, "import", kind, refused)
    added = client.post(
        "/v1/strategies", json={"source": source, "filename": "evil.py"}, headers=headers
    )
    assert not marker.exists(), "the engine ran code a strategy sent"
    assert added.status_code == 400, added.text
    error = added.json()["error"]
    assert error["code"] == "INVALID_PARAMETER"
    assert error["message"].startswith("evil.py: refused: loading the file broke the worker")
    listed = client.get("/v1/strategies", headers=headers).json()["data"]["strategies"]
    assert not any(s["strategy_id"].startswith("attack-import-") for s in listed)  # none kept


def test_after_every_attack_the_engine_still_serves(
    engine: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, headers = engine
    marker = tmp_path / "executed-by-the-engine"
    # Its own id: the module's engine is shared, and the parametrized test above may already
    # have added "attack-on-book-huge" to it (a second add of one id is refused).
    first = deploy(client, headers, attacker(marker, "on_book", "huge", strategy_id="attack-again"))
    move_the_book(client, headers)
    assert wait_for_state(client, headers, first, "failed")["state"] == "failed"
    assert_still_serving(client, headers)
    assert not marker.exists()


TYPED = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy
from velocimex_cli.wire.errors import InsufficientBalance, NotFound, OrderNotOpen


class Typed(Strategy):
    id = "typed"

    def on_start(self):
        price = self.ctx.book(depth=1).bids[0].price
        order = self.ctx.buy(Decimal("0.001"), price)
        self.ctx.cancel(order.order_id)
        try:
            self.ctx.cancel(order.order_id)
        except OrderNotOpen as exc:
            self.ctx.log(f"{type(exc).__name__} {exc.code} {exc.message} {exc.details}")
        try:
            self.ctx.buy(Decimal("1000"), price)
        except InsufficientBalance as exc:
            kinds = {key: type(value).__name__ for key, value in exc.details.items()}
            self.ctx.log(f"{type(exc).__name__} {exc.code} {sorted(kinds.items())}")
        try:
            self.ctx.cancel("999999")
        except NotFound as exc:
            self.ctx.log(f"{type(exc).__name__} {exc.code} {exc.details}")
        balance, position = self.ctx.balance("USDT"), self.ctx.position()
        self.ctx.log(f"balance {balance.total!r} {balance.available == balance.total}")
        self.ctx.log(f"position {position.quantity!r} {position.fees!r}")
"""


@pytest.fixture
def node(tmp_path: Path, clock: FakeClock) -> Iterator[EngineNode]:
    node = make_node(tmp_path / "engine", clock)
    yield node
    node.close()


def test_an_api_error_reaches_the_strategy_as_its_own_class(node: EngineNode) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, TYPED)
    status = asyncio.run(deployments.deploy("alice", "typed", "BINANCE", "BTC/USDT", {}))
    assert status["state"] == "running", status
    messages = [line["message"] for line in deployments.logs(status["deployment_id"])["logs"]]
    refused_cancel = next(m for m in messages if m.startswith("OrderNotOpen "))
    assert refused_cancel.startswith("OrderNotOpen INVALID_PARAMETER Order ")
    assert "is canceled and cannot be canceled" in refused_cancel
    assert "'parameter': 'order_id'" in refused_cancel
    balance = next(m for m in messages if m.startswith("InsufficientBalance "))
    assert balance.startswith("InsufficientBalance INSUFFICIENT_BALANCE ")
    assert "('asset', 'str')" in balance
    assert "('required', 'Decimal')" in balance and "('available', 'Decimal')" in balance
    assert any(m.startswith("NotFound NOT_FOUND {'order_id': '999999'}") for m in messages)
    # The ledger's values (PlainDecimal inside the engine) arrive as Decimals of equal value.
    usdt = node.exchange.balances("alice")
    total = next(row["total"] for row in usdt if row["asset"] == "USDT")
    assert f"balance Decimal('{total}') True" in messages
    position = next(m for m in messages if m.startswith("position "))
    assert position.startswith("position Decimal('0") and position.endswith(" Decimal('0')")


ODD_ARGUMENTS = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy
from velocimex_cli.wire.errors import InvalidParameter


class Odd(Strategy):
    id = "odd"

    def on_start(self):
        ctx = self.ctx
        price = ctx.book(depth=1).bids[0].price
        tries = {
            "text quantity": lambda: ctx.buy("lots", price),
            "set symbol": lambda: ctx.best_bid("BINANCE", {"BTC/USDT"}),
            "long symbol": lambda: ctx.mid("BINANCE", "X" * 5000),
            "huge decimal": lambda: ctx.buy(Decimal("1." + "1" * 300), price),
            "bool depth": lambda: ctx.book(depth=True),
            "long order id": lambda: ctx.cancel("9" * 5000),
            "bad interval": lambda: ctx.set_timer("t", "soon"),
        }
        for name, attempt in tries.items():
            try:
                attempt()
            except InvalidParameter as exc:
                ctx.log(f"{name}: InvalidParameter: {exc.message}")
        placed = ctx.buy(0.001, float(price))  # floats are read through their repr
        ctx.log(f"float order: {placed.quantity!r} at {placed.price == price}")
"""


def test_arguments_the_protocol_cannot_carry_are_the_strategy_s_error(node: EngineNode) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, ODD_ARGUMENTS)
    status = asyncio.run(deployments.deploy("alice", "odd", "BINANCE", "BTC/USDT", {}))
    assert status["state"] == "running", status  # no protocol violation: the worker refused
    messages = "\n".join(
        line["message"] for line in deployments.logs(status["deployment_id"])["logs"]
    )
    assert "text quantity: InvalidParameter: quantity must be a number" in messages
    assert "set symbol: InvalidParameter: symbol must be text, not set" in messages
    assert "long symbol: InvalidParameter: symbol is at most 1000 characters" in messages
    assert "huge decimal: InvalidParameter: quantity has more than 100 digits" in messages
    assert "bool depth: InvalidParameter: depth must be a whole number from 1 to 1000" in messages
    assert "long order id: InvalidParameter: order_id is at most 1000 characters" in messages
    assert "bad interval: InvalidParameter: interval must be a timedelta" in messages
    assert "float order: Decimal('0.00100') at True" in messages
