"""The worker protocol's messages, through the channel both ends use (a real socket pair).

What crosses comes back exactly: Decimal stays Decimal (with its digits and exponent), time
stays timezone-aware UTC, the strategy's values keep their types, an API error keeps its class.
What is not a message of the protocol is a ProtocolViolation, and a length header above the
channel's bound is refused before any of that message is kept.
"""

from __future__ import annotations

import pickle
import socket
import struct
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from velocimex_cli.engine.core.ledger import units_to_decimal
from velocimex_cli.engine.drivers.strategies import protocol, protocol_requests
from velocimex_cli.engine.drivers.strategies.context import (
    BalanceInfo,
    BookLevel,
    BookSnapshot,
    BookTop,
    FeeRates,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    PositionInfo,
    TradeTick,
)
from velocimex_cli.engine.drivers.strategies.isolation import Channel
from velocimex_cli.wire.errors import ERROR_CLASSES, InvalidParameter

WHEN = datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=UTC)
SPEC = InstrumentSpec(
    "BINANCE", "BTC/USDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("1E-5")
)
ORDER = OrderInfo(
    "65876", "dep-1:3", "BINANCE", "BTC/USDT", "buy", "limit", "gtc", True, Decimal("0.00100"),
    Decimal("60000.10"), Decimal("0"), None, "open", None, "accepted",
)  # fmt: skip
FILL = FillInfo(
    "t-9", "65876", None, "BINANCE", "BTC/USDT", "sell", Decimal("60000.1"), Decimal("0.001"),
    Decimal("0.0120002"), "USDT", "maker", WHEN,
)  # fmt: skip
TOP = BookTop("NASDAQ", "MSFT", 42, Decimal("410.25"), Decimal("3"), None, None, WHEN)
TRADE = TradeTick("NASDAQ", "MSFT", "p-1", Decimal("410.250"), Decimal("2"), "sell", WHEN)


@pytest.fixture
def pair() -> Iterator[tuple[Channel, Channel]]:
    """(the node's end, the worker's end) of a real socket pair."""
    node, worker = socket.socketpair()
    ends = Channel(node, protocol.MAX_FROM_WORKER), Channel(worker, protocol.MAX_TO_WORKER)
    yield ends
    for end in ends:
        end.close()


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, Decimals with the same digits and exponent."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset() == timedelta(0)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return bool(a == b)


@pytest.mark.parametrize(
    ("hook", "args"),
    [
        ("on_start", ()),
        ("on_book", (TOP,)),
        ("on_trade", (TRADE,)),
        ("on_order", (ORDER,)),
        ("on_fill", (FILL,)),
        ("on_timer", ("refresh",)),
        ("on_stop", ()),
    ],
)
def test_each_hook_reaches_the_worker_with_its_values_exactly(
    pair: tuple[Channel, Channel], hook: str, args: tuple[Any, ...]
) -> None:
    node, worker = pair
    reads = [protocol.known(protocol_requests.Mid(None, None, True), Decimal("410.2500"))]
    node.send(protocol.HOOK_MESSAGES[hook](reads, *args))
    message = worker.receive(protocol.TO_WORKER)
    seen: list[tuple[Any, ...]] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda *values: seen.append((name, *values))

    message.call(Recorder())  # type: ignore[union-attr]
    assert seen == [(hook, *args)] and same(seen[0][1:], args)
    answered = message.known[0]  # type: ignore[union-attr]
    assert answered.request == protocol_requests.Mid(None, None, True)
    assert same(protocol.known_answer(answered.request, answered.answer), Decimal("410.2500"))


ANSWERS: list[tuple[protocol.Request, Any]] = [
    (protocol_requests.GetInstrument(), SPEC),
    (protocol_requests.Now(), WHEN),
    (protocol_requests.PlaceOrder("buy", Decimal("0.001"), None, "ioc", False, None, None), ORDER),
    (protocol_requests.CancelAll(None, None), 3),
    (
        protocol_requests.OpenOrders("BINANCE", "BTC/USDT"),
        [ORDER, ORDER._replace(price=Decimal("1E+2"))],
    ),
    (
        protocol_requests.Position(None, None),
        PositionInfo("BINANCE", "BTC/USDT", Decimal("-0.002"), None, Decimal("1.5"), Decimal(0)),
    ),
    (
        protocol_requests.Balances(),
        {"USDT": BalanceInfo("USDT", Decimal("100.00"), Decimal("90.5"), Decimal("9.50"))},
    ),
    (
        protocol_requests.GetFeeRates("COINBASE", "BTC/USD"),
        FeeRates(Decimal("0.0002"), Decimal("0.0004")),
    ),
    (protocol_requests.BestBid(None, None, False), None),
    (protocol_requests.Mid(None, None, True), Decimal("60000.005")),
    (
        protocol_requests.Book(None, None, 2, False),
        BookSnapshot("BINANCE", "BTC/USDT", 7, (BookLevel(Decimal("1.10"), Decimal("2")),), ()),
    ),
    (protocol_requests.Log("hello", "info"), None),
]


@pytest.mark.parametrize(("request_", "answer"), ANSWERS, ids=lambda v: type(v).__name__)
def test_a_context_call_and_its_answer_cross_exactly(
    pair: tuple[Channel, Channel], request_: protocol.Request, answer: Any
) -> None:
    node, worker = pair
    worker.send(protocol.Call(request_))
    call = node.receive(protocol.FROM_DEPLOYMENT)
    assert call == protocol.Call(request_)
    node.send(protocol.Reply(answer))
    reply = worker.receive(protocol.answer_decoder(type(request_)))
    assert type(reply) is protocol.Reply and same(reply.value, answer)


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_an_api_error_crosses_as_its_own_class(pair: tuple[Channel, Channel], name: str) -> None:
    node, worker = pair
    cls = ERROR_CLASSES[name]
    details = {"required": Decimal("10.50"), "asset": "USDT", "at": WHEN, "levels": [1, "2"]}
    error = (
        cls("order_id", "65876", "Order 65876 is filled and cannot be canceled")
        if issubclass(cls, InvalidParameter)
        else cls("refused", details)
    )
    node.send(protocol.Raise(protocol.ErrorBody.of(error)))
    answer = worker.receive(protocol.answer_decoder(protocol_requests.Cancel))
    assert type(answer) is protocol.Raise
    raised = answer.error.exception()
    assert type(raised) is cls and raised.code == error.code
    assert raised.message == error.message and same(raised.details, error.details)


def test_the_protocol_names_every_error_class() -> None:
    assert set(typing.get_args(protocol.ErrorName)) == set(ERROR_CLASSES)


def test_a_strategy_s_own_error_class_crosses_as_its_nearest_engine_class() -> None:
    class Mine(InvalidParameter):
        pass

    body = protocol.ErrorBody.of(Mine("x", "1", "mine"))
    assert type(body.exception()) is InvalidParameter and body.exception().message == "mine"


def test_a_ledger_amount_crosses_as_a_decimal_of_the_same_value(
    pair: tuple[Channel, Channel],
) -> None:
    node, worker = pair
    amount = units_to_decimal(12_345_678)  # the ledger's PlainDecimal subclass
    assert type(amount) is not Decimal
    node.send(protocol.Reply(BalanceInfo("BTC", amount, amount, units_to_decimal(0))))
    reply = worker.receive(protocol.answer_decoder(protocol_requests.Balance))
    assert type(reply) is protocol.Reply
    assert type(reply.value.total) is Decimal and reply.value.total == amount
    assert str(reply.value.total) == str(amount) and reply.value.locked == 0


def test_ready_parameters_keep_their_types(pair: tuple[Channel, Channel]) -> None:
    node, worker = pair
    params = {"amount": Decimal("0.0020"), "levels": 2, "side": "buy", "post": True, "r": 0.5}
    worker.send(protocol.Ready(protocol.pack_value(params), ["on_book", "on_timer"]))
    ready = node.receive(protocol.FROM_DEPLOYMENT)
    assert type(ready) is protocol.Ready and same(ready.params, params)


@pytest.mark.parametrize(
    ("frame", "said"),
    [
        (b"\xc1" * 8, "not a deployment worker's message"),
        (pickle.dumps(("done", None)), "not a deployment worker's message"),
        (msgspec.msgpack.encode(["described", {}]), "Invalid value 'described'"),
        (msgspec.msgpack.encode(["call", ["eval", "1"]]), "Invalid value 'eval'"),
        (msgspec.msgpack.encode(["call", ["mid", None, None, "yes"]]), "Expected `bool`"),
        (msgspec.msgpack.encode(["call", ["log", "x" * 3000, "info"]]), "length <= 2000"),
        (msgspec.msgpack.encode(["done", [["mid", None, None, False]] * 17]), "length <= 16"),
        (msgspec.msgpack.encode(["done", [["place_order"]]]), "Invalid value 'place_order'"),
        (
            msgspec.msgpack.encode(["failed", "m", "t", ["Exploit", "m", {}]]),
            "Invalid enum value 'Exploit'",
        ),
        (
            msgspec.msgpack.encode(["ready", {"a": msgspec.msgpack.Ext(9, b"x")}, []]),
            "unknown MessagePack extension 9",
        ),
        (msgspec.msgpack.encode(["ready", {"a": {"b": {1: 2}}}, []]), "key is a int"),
        (b"\x91" * 100_000 + b"\xc0", "not a deployment worker's message"),
    ],
    ids=[
        "garbage",
        "pickle",
        "wrong-kind",
        "unknown-call",
        "wrong-field-type",
        "long-text",
        "too-many-reads",
        "a-write-as-a-read",
        "unknown-error-class",
        "unknown-extension",
        "non-text-key",
        "deep-nesting",
    ],
)
def test_what_is_not_a_message_is_a_protocol_violation(
    pair: tuple[Channel, Channel], frame: bytes, said: str
) -> None:
    node, worker = pair
    worker.send_frame(frame)
    with pytest.raises(protocol.ProtocolViolation) as caught:
        node.receive(protocol.FROM_DEPLOYMENT)
    assert said in str(caught.value)
    assert not node.buffered  # the frame is gone; nothing else is kept


def test_an_oversized_length_header_is_refused_before_its_body_is_kept(
    pair: tuple[Channel, Channel],
) -> None:
    node, worker = pair
    with socket.socket(fileno=worker.fileno()) as raw:
        raw.sendall(struct.pack("!I", 2**32 - 1) + b"x" * 70_000)
        raw.detach()
    assert node.poll(5.0)  # receive answers at once: with the violation
    assert node.broken and not node.buffered
    with pytest.raises(protocol.ProtocolViolation, match="4294967295 bytes announced"):
        node.receive(protocol.FROM_DEPLOYMENT)
    node.fill()  # reads nothing more from that end
    assert not node.buffered


def test_the_upload_check_s_description_crosses_exactly(pair: tuple[Channel, Channel]) -> None:
    from velocimex_cli.engine.drivers.strategies.registry import builtin_classes

    node, worker = pair
    for cls in builtin_classes().values():
        described = cls.describe()
        worker.send(protocol.Described(protocol.StrategyDescription.of(described)))
        answer = node.receive(protocol.FROM_CHECK)
        assert type(answer) is protocol.Described and same(answer.strategy.to_dict(), described)
