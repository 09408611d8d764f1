"""The local book against the real engine over loopback: checksums, resyncs, REST equality.

The engine runs under a real uvicorn on an ephemeral port; books change through REST orders
and the simulator. Faults (a dropped delta, a repeated one, two swapped, a corrupted checksum)
are injected between the real stream and the BookSync by a relay that edits the real messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.api.conftest import LiveServer, auth_headers, settings
from velocimex_cli.client.book import BookSync, LocalBook
from velocimex_cli.client.streams import MarketStream, StreamClient
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire.streams import book_checksum, canonical_number, checksum_text

BTC = "BINANCE:BTC/USDT"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The simulator steps every 10 ms: many deltas, committed in groups."""
    app = create_app(
        settings(data_dir=tmp_path / "engine", simulate=True, simulate_interval_seconds=0.01)
    )
    with LiveServer(app) as live:
        yield live


def rest_book(server: LiveServer, headers: dict[str, str]) -> dict[str, Any]:
    from velocimex_cli.wire import jsonfmt

    response = httpx.get(
        f"{server.url}/v1/markets/BINANCE/orderbook/BTC/USDT?depth=1000", headers=headers
    )
    return jsonfmt.loads(response.text)["data"]


def levels(rows: list[dict[str, Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(row["price"], row["quantity"]) for row in rows]


def place(server: LiveServer, headers: dict[str, str], side: str, price: str) -> None:
    order = {
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": side,
        "type": "limit",
        "quantity": "0.01",
        "price": price,
    }
    response = httpx.post(f"{server.url}/v1/trading/orders", json=order, headers=headers)
    assert response.status_code == 201, response.text


class Relay:
    """The real MarketStream, with a fault applied to the messages of its choosing."""

    def __init__(self, stream: MarketStream, fault: Callable[[dict[str, Any]], list[dict]]):
        self.stream = stream
        self.fault = fault

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._run()

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        async for msg in self.stream:
            for out in self.fault(msg):
                yield out

    async def resnapshot(self, instrument: str) -> None:
        await self.stream.resnapshot(instrument)

    async def aclose(self) -> None:
        await self.stream.aclose()


def test_checksum_text_is_the_documented_canonical_form() -> None:
    assert canonical_number(Decimal("0.00100")) == "100"
    assert canonical_number(Decimal("60013.81")) == "6001381"
    assert canonical_number(Decimal("1E-8")) == "1"
    assert canonical_number(100) == "100"
    bids = [(Decimal("99.50"), Decimal("2.000")), (Decimal("99.00"), Decimal("0.500"))]
    asks = [(Decimal("100.00"), Decimal("0.010"))]
    text = checksum_text(bids, asks)
    assert text == "10000" + "10" + "9950" + "2000" + "9900" + "500"  # asks first, then bids
    assert book_checksum(bids, asks) == zlib.crc32(text.encode())
    many = [(Decimal(100 - i), Decimal(1)) for i in range(15)]
    assert checksum_text(many, []) == "".join(f"{100 - i}1" for i in range(10))  # top 10 only


def test_local_book_orders_levels_and_refuses_gaps_duplicates_and_crossing() -> None:
    book = LocalBook(verify="every")
    bids = [{"price": Decimal("99.00"), "quantity": Decimal("1.0")}]
    asks = [{"price": Decimal("101.00"), "quantity": Decimal("2.0")}]
    snapshot = {"type": "book_snapshot", "exchange": "X", "symbol": "Y", "sequence": 5}
    snapshot |= {"bids": bids, "asks": asks, "checksum": book_checksum(levels(bids), levels(asks))}
    assert book.status == "syncing" and book.apply(snapshot) is None and book.valid

    def delta(seq: int, changes: list[tuple[str, str, str]]) -> dict[str, Any]:
        rows = [{"side": s, "price": Decimal(p), "quantity": Decimal(q)} for s, p, q in changes]
        return {"type": "book_delta", "sequence": seq, "changes": rows}

    assert book.apply(delta(4, [("bid", "98.00", "1")])) is None  # in flight before the snapshot
    step = delta(6, [("bid", "99.50", "3.0"), ("ask", "101.00", "0")])
    step["checksum"] = book_checksum([(Decimal("99.50"), Decimal("3.0")), *levels(bids)], [])
    assert book.apply(step) is None
    assert book.bids() == [(Decimal("99.50"), Decimal("3.0")), (Decimal("99.00"), Decimal("1.0"))]
    assert book.bids(1) == [(Decimal("99.50"), Decimal("3.0"))] and book.asks() == []
    assert book.apply(delta(6, [])).startswith("duplicate")  # type: ignore[union-attr]
    assert book.status == "resyncing" and not book.valid
    assert book.apply(delta(7, [])) is None and book.status == "resyncing"  # ignored until...
    book.apply(snapshot)  # ...a fresh snapshot
    assert book.valid and book.sequence == 5
    assert book.apply(delta(7, [])).startswith("sequence gap")  # type: ignore[union-attr]
    book.apply(snapshot)
    crossed = delta(6, [("bid", "102.00", "1")])
    assert "crossed" in (book.apply(crossed) or "")
    assert not book.valid


def test_checksum_policies_every_frame_off() -> None:
    snap = {"type": "book_snapshot", "exchange": "X", "symbol": "Y", "sequence": 1}
    snap |= {"bids": [{"price": Decimal("1.0"), "quantity": Decimal("1")}], "asks": []}
    snap["checksum"] = 12345  # wrong
    assert "checksum mismatch" in (LocalBook(verify="every").apply(snap) or "")
    framed = LocalBook(verify="frame")
    assert framed.apply(snap) is None and framed.valid  # not checked until the frame
    assert framed.verify() is False and framed.status == "resyncing"
    off = LocalBook(verify="off")
    assert off.apply(snap) is None and off.verify() is True
    with pytest.raises(ValueError, match="every, frame, off"):
        LocalBook(verify="sometimes")


class Consumer:
    """Reads a BookSync in a task (never canceled mid-message); tests poll its state."""

    def __init__(self, sync: BookSync) -> None:
        self.sync = sync
        self.seen: list[dict[str, Any]] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for msg in self.sync:
            self.seen.append(msg)

    async def until(
        self, done: Callable[[BookSync], bool], limit: float = 10.0, must: bool = True
    ) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not done(self.sync):
            if self.task.done():
                self.task.result()  # raises what ended the stream
                raise AssertionError("the stream ended")
            if loop.time() > deadline:
                if must:
                    raise AssertionError(f"not reached within {limit} s")
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.sync.aclose()


def test_every_engine_checksum_matches_the_local_book(busy_server: LiveServer) -> None:
    """Hundreds of simulator deltas (group-committed), each verified on arrival: no resync."""

    async def main() -> tuple[int, BookSync]:
        client = StreamClient(busy_server.url)
        sync = BookSync(client, [BTC], verify="every")
        consumer = Consumer(sync)
        await consumer.until(lambda s: BTC in s.books and s.books[BTC].valid)
        assert any(m["type"] == "book_snapshot" for m in consumer.seen)
        start = sync.books[BTC].sequence or 0
        await consumer.until(
            lambda s: s.resyncs > 0 or (s.books[BTC].sequence or 0) >= start + 150, 30
        )
        await consumer.close()
        return (sync.books[BTC].sequence or 0) - start, sync

    applied, sync = asyncio.run(main())
    assert sync.resyncs == 0, sync.books[BTC].reason
    assert applied >= 150


FAULTS: dict[str, Callable[[], Callable[[dict[str, Any]], list[dict[str, Any]]]]] = {}


def _fault(name: str) -> Callable[[Any], Any]:
    def register(factory: Any) -> Any:
        FAULTS[name] = factory
        return factory

    return register


@_fault("gap")
def _drop_one() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    state = {"deltas": 0}

    def fault(msg: dict[str, Any]) -> list[dict[str, Any]]:
        if msg["type"] == "book_delta":
            state["deltas"] += 1
            if state["deltas"] == 2:
                return []
        return [msg]

    return fault


@_fault("duplicate")
def _repeat_one() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    state = {"deltas": 0}

    def fault(msg: dict[str, Any]) -> list[dict[str, Any]]:
        if msg["type"] == "book_delta":
            state["deltas"] += 1
            if state["deltas"] == 2:
                return [msg, dict(msg)]
        return [msg]

    return fault


@_fault("out_of_order")
def _swap_two() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    state: dict[str, Any] = {"deltas": 0, "held": None}

    def fault(msg: dict[str, Any]) -> list[dict[str, Any]]:
        if msg["type"] == "book_delta":
            state["deltas"] += 1
            if state["deltas"] == 2:
                state["held"] = msg
                return []
            if state["held"] is not None:
                held, state["held"] = state["held"], None
                return [msg, held]
        return [msg]

    return fault


@_fault("checksum")
def _corrupt_checksum() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    state = {"deltas": 0}

    def fault(msg: dict[str, Any]) -> list[dict[str, Any]]:
        if msg["type"] == "book_delta":
            state["deltas"] += 1
            if state["deltas"] == 2:
                return [{**msg, "checksum": (msg["checksum"] + 1) % 2**32}]
        return [msg]

    return fault


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_triggers_a_resync_after_which_the_book_equals_rest(
    server: LiveServer, fault: str
) -> None:
    headers = auth_headers(server.app.state.runtime.keys)

    async def main() -> tuple[BookSync, list[dict[str, Any]]]:
        client = StreamClient(server.url)
        stream = client.stream_market([BTC], ["book"])
        relay = Relay(stream, FAULTS[fault]())
        sync = BookSync(client, [BTC], verify="frame", stream=relay)  # type: ignore[arg-type]
        consumer = Consumer(sync)
        await consumer.until(lambda s: BTC in s.books and s.books[BTC].valid)
        for i in range(6):  # six book changes, one of them faulted
            await asyncio.to_thread(place, server, headers, "buy", f"{59000 + i}.00")
            target = (await asyncio.to_thread(rest_book, server, headers))["sequence"]
            await consumer.until(lambda s, t=target: _reached(s, t), 0.5, must=False)
            consumer.seen += await sync.verify_all()  # as a view does once per frame
        target = (await asyncio.to_thread(rest_book, server, headers))["sequence"]
        await consumer.until(lambda s: s.books[BTC].valid and s.books[BTC].sequence == target)
        await consumer.close()
        return sync, consumer.seen

    sync, seen = asyncio.run(main())
    resyncs = [m for m in seen if m["type"] == "resync"]
    assert resyncs, f"the {fault} fault went unnoticed"
    book = sync.books[BTC]
    assert book.valid
    rest = rest_book(server, headers)
    assert book.sequence == rest["sequence"]
    assert book.bids() == levels(rest["bids"]) and book.asks() == levels(rest["asks"])
    assert book.verify()


def _reached(sync: BookSync, sequence: int) -> bool:
    book = sync.books[BTC]
    return not book.valid or (book.sequence or 0) >= sequence
