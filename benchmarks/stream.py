"""The stream client's pipeline on a recorded feed served over loopback (issue 9).

The feed is recorded once per run: the engine's own market simulator (in this process, on a
fixed clock and seed) steps until it has produced N book deltas; every book's snapshot and every
delta, ticker and trade is serialised exactly as the hub sends it (velocimex_cli.wire.streams)
and written as a vmx recording. A server subprocess (`python -m benchmarks.stream serve FILE`,
the websockets library) sends the recorded frames, as fast as the connection takes them, to
each client that connects. Figures:

- `stream.bare_receive`: a bare websockets receive loop, `async for message in websocket`
  (nothing else). `stream.bare_receive_bytes` (recv(decode=False), no UTF-8 decoding) is
  printed beside it for reference.
- `stream.client_pipeline`: StreamClient + BookSync (receive, decode, apply to the local
  books, checksum verified once per 100 ms as a view would). Target >= 0.7 of bare.
  Both are messages per second of the client thread's CPU time (the rate each could sustain
  on a core of its own: on this shared machine the wall-clock rate mostly measures the
  neighbours); the wall-clock rates are printed beside them. Best of 5 alternating runs.
- `stream.decode_only` / `stream.decode_and_apply`: in process, no socket: `json.loads` of every
  frame vs the client's decoder + LocalBook.apply. Target >= 0.5.
- `stream.gap_repair`: against a real engine (uvicorn subprocess, simulator stepping every
  10 ms), a delta is dropped on purpose; time from the detected gap to the book live again
  (fresh snapshot applied). Target <= 1 s (the worst of several).

The ladder's figures (CPU at 10 fps, ingest with rendering, message-to-screen lag) belong to the
ladder view and are added by it in LADDER_FIGURES below.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._loopback import subprocess_server

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = "BINANCE:BTC/USDT"


# Figures the ladder view adds (each a function(quick) -> iterator of figure dicts).
def _ladder_figures(quick: bool) -> Iterator[dict[str, Any]]:
    from benchmarks.stream_ladder import ladder_figures

    yield from ladder_figures(quick)


LADDER_FIGURES: list[Callable[[bool], Iterator[dict[str, Any]]]] = [_ladder_figures]


# ---------------------------------------------------------------------------- the feed
def record_feed(path: Path, deltas: int) -> int:
    """Record a feed of about `deltas` book deltas (plus snapshots, tickers, trades)."""
    from velocimex_cli.client.recording import Recorder
    from velocimex_cli.engine.core import events
    from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
    from velocimex_cli.engine.drivers.simulator import MarketSimulator
    from velocimex_cli.wire import streams as wire

    moment = [datetime(2026, 11, 24, 15, 0, tzinfo=UTC)]
    exchange = Exchange(EngineConfig(seed=7, always_open=True), lambda: moment[0])
    simulator = MarketSimulator(exchange, seed=7)
    simulator.seed_books()
    out: list[dict[str, Any]] = []
    count = [0]

    def listen(event: object) -> None:
        if isinstance(event, events.BookEvent):
            count[0] += 1
            out.append(
                wire.book_delta_message(
                    event.exchange,
                    event.symbol,
                    event.sequence,
                    event.timestamp,
                    event.changes,
                    event.checksum,
                )
            )
        elif isinstance(event, events.TickerEvent):
            out.append(wire.ticker_message(event.ticker))
        elif isinstance(event, events.TradeEvent):
            out.append(wire.trade_message(event.trade))

    for instrument in exchange.instruments():
        book = exchange.order_book(instrument["exchange"], instrument["symbol"], depth=1000)
        out.append(wire.book_snapshot_message(book))
    exchange.add_listener(listen)
    while count[0] < deltas:
        moment[0] += timedelta(milliseconds=200)
        simulator.step()
    with open(path, "w", encoding="utf-8") as file:
        recorder = Recorder(file, stream="market", started_ns=0)
        for i, message in enumerate(out):
            recorder.write({**message, "received_at": i * 1000})
        recorder.close()
    return len(out)


def feed_frames(path: Path) -> list[bytes]:
    """The recorded messages as the frames the server sent (re-serialised exactly)."""
    from velocimex_cli.client.recording import Recording
    from velocimex_cli.wire import jsonfmt

    with Recording(path) as recording:
        return [jsonfmt.dumps(msg).encode() for _, msg in recording.entries()]


# ---------------------------------------------------------------------------- the server
async def _serve(path: Path) -> None:
    from websockets.asyncio.server import serve

    frames = [frame.decode() for frame in feed_frames(path)]

    async def handler(ws: Any) -> None:
        with contextlib.suppress(Exception):
            for i, frame in enumerate(frames):
                await ws.send(frame)
                if i % 64 == 63:
                    await asyncio.sleep(0)
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {port}", flush=True)
        await asyncio.Future()


def feed_server(path: Path) -> Any:
    return subprocess_server("benchmarks.stream", "serve", str(path))


# ---------------------------------------------------------------------------- clients
Rates = tuple[float, float]  # (messages per wall-clock second, per second of this thread's CPU)


async def bare_receive(port: int, count: int, raw: bool = False) -> Rates:
    """The websockets library's receive loop, `async for message in websocket` (text frames
    decoded to str); `raw`: recv(decode=False), bytes, the least a receiver can do."""
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as ws:
        await ws.recv(decode=False)
        started, cpu = time.perf_counter(), time.thread_time()
        if raw:
            for _ in range(count - 1):
                await ws.recv(decode=False)
        else:
            left = count - 1
            async for _ in ws:
                left -= 1
                if not left:
                    break
        wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
        return (count - 1) / wall, (count - 1) / cpu


async def client_pipeline(port: int, count: int) -> Rates:
    from velocimex_cli.client.book import BookSync
    from velocimex_cli.client.streams import StreamClient

    client = StreamClient(f"http://127.0.0.1:{port}", ping_interval=None)
    stream = client.stream_market()
    sync = BookSync(client, [], stream=stream, verify="frame")
    seen = 0
    started = cpu = 0.0
    next_verify = 0.0
    async for message in sync:
        kind = message["type"]
        if kind == "connection" or kind == "resync":
            if kind == "resync":
                raise RuntimeError(f"unexpected resync: {message}")
            continue
        seen += 1
        if seen == 1:
            started, cpu = time.perf_counter(), time.thread_time()
            next_verify = started + 0.1
        elif seen == count:
            break
        elif seen & 255 == 0 and time.perf_counter() >= next_verify:  # as a 10 fps view would
            next_verify += 0.1
            await sync.verify_all()
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
    await sync.aclose()
    invalid = [key for key, book in sync.books.items() if not book.verify()]
    if invalid:
        raise RuntimeError(f"books out of sync after the run: {invalid}")
    return (count - 1) / wall, (count - 1) / cpu


def decode_vs_apply(frames: list[bytes], rounds: int) -> tuple[float, float]:
    from velocimex_cli.client.book import LocalBook
    from velocimex_cli.client.streams import decode

    loads = json.loads
    best_loads = best_apply = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for frame in frames:
            loads(frame)
        best_loads = min(best_loads, time.perf_counter() - started)
        books: dict[tuple[str, str], LocalBook] = {}
        started = time.perf_counter()
        for frame in frames:
            message = decode(frame)
            kind = message["type"]
            if kind == "book_delta" or kind == "book_snapshot":
                key = (message["exchange"], message["symbol"])
                book = books.get(key)
                if book is None:
                    book = books[key] = LocalBook(verify="frame")
                if book.apply(message) is not None:
                    raise RuntimeError(f"resync while applying the feed: {book.reason}")
        best_apply = min(best_apply, time.perf_counter() - started)
    return len(frames) / best_loads, len(frames) / best_apply


async def gap_repairs(port: int, repairs: int) -> list[float]:
    """Drop one delta `repairs` times; seconds from each detected gap to live again."""
    from velocimex_cli.client.book import BookSync
    from velocimex_cli.client.streams import StreamClient

    client = StreamClient(f"http://127.0.0.1:{port}")
    stream = client.stream_market([INSTRUMENT], ["book"])

    class DropOne:
        def __init__(self) -> None:
            self.armed = False

        def __aiter__(self) -> Any:
            return self._run()

        async def _run(self) -> Any:
            async for message in stream:
                if self.armed and message["type"] == "book_delta":
                    self.armed = False
                    continue  # the forced gap
                yield message

        async def resnapshot(self, instrument: str) -> None:
            await stream.resnapshot(instrument)

        async def aclose(self) -> None:
            await stream.aclose()

    relay = DropOne()
    sync = BookSync(client, [INSTRUMENT], stream=relay, verify="frame")  # type: ignore[arg-type]
    times: list[float] = []
    gap_at: float | None = None
    live_since: float | None = None
    async for message in sync:
        book = sync.books.get(INSTRUMENT)
        now = time.perf_counter()
        if message["type"] == "resync":
            gap_at = now
        elif gap_at is not None and book is not None and book.valid:
            times.append(now - gap_at)
            gap_at, live_since = None, now
            if len(times) == repairs:
                break
        elif gap_at is None and book is not None and book.valid:
            if live_since is None:
                live_since = now
            elif now - live_since > 0.2 and not relay.armed:
                relay.armed = True
    await sync.aclose()
    return times


def simulating_engine() -> Any:
    return subprocess_server("benchmarks.stream", "engine")


def _serve_engine() -> None:
    from benchmarks._loopback import _serve_uvicorn
    from velocimex_cli.engine.api.app import ServerSettings, create_app

    settings = ServerSettings(
        always_open=True, rate_limit=False, simulate=True, simulate_interval_seconds=0.01
    )
    _serve_uvicorn(create_app(settings))


# ---------------------------------------------------------------------------- the run
def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    deltas = 5_000 if quick else 40_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.ndjson"
        messages = record_feed(path, deltas)
        yield {"name": "stream.feed", "messages": messages, "book_deltas_at_least": deltas}
        best: dict[str, Rates] = {}

        def keep(name: str, rates: Rates) -> None:
            old = best.get(name, (0.0, 0.0))
            best[name] = (max(old[0], rates[0]), max(old[1], rates[1]))

        with feed_server(path) as port:
            for _ in range(3 if quick else 5):  # alternating, best of each: the load varies
                keep("bare_receive", asyncio.run(bare_receive(port, messages)))
                keep("bare_receive_bytes", asyncio.run(bare_receive(port, messages, raw=True)))
                keep("client_pipeline", asyncio.run(client_pipeline(port, messages)))
        frames = feed_frames(path)
    for name, rates in best.items():
        yield {
            "name": f"stream.{name}",
            "value": round(rates[1]),
            "unit": "messages per CPU-second of the client",
            "wall_clock_messages_per_second": round(rates[0]),
        }
    bare, pipeline = best["bare_receive"], best["client_pipeline"]
    loads_rate, apply_rate = decode_vs_apply(frames, 3 if quick else 5)
    apply_ratio = apply_rate / loads_rate
    yield {"name": "stream.decode_only", "value": round(loads_rate), "unit": "messages/s"}
    yield {
        "name": "stream.decode_and_apply",
        "value": round(apply_rate),
        "baseline": round(loads_rate),
        "ratio": round(apply_ratio, 3),
        "target": ">= 0.5",
        "met": apply_ratio >= 0.5,
    }
    with simulating_engine() as port:
        repairs = asyncio.run(asyncio.wait_for(gap_repairs(port, 3 if quick else 10), 60))
    worst = max(repairs)
    yield {
        "name": "stream.gap_repair",
        "value": round(worst * 1000, 1),
        "unit": "ms (worst)",
        "all_ms": [round(t * 1000, 1) for t in repairs],
        "target": "<= 1000",
        "met": worst <= 1.0,
    }
    for figures in LADDER_FIGURES:
        yield from figures(quick)
    ratio = pipeline[1] / bare[1]
    yield {
        "name": "stream.client_pipeline_vs_bare_receive",
        "value": round(pipeline[1]),
        "baseline": round(bare[1]),
        "ratio": round(ratio, 3),
        "target": ">= 0.7",
        "met": ratio >= 0.7,
        "wall_clock_ratio": round(pipeline[0] / bare[0], 3),
        "apply_ratio": round(apply_ratio, 3),
        "gap_repair_worst_ms": round(worst * 1000, 1),
        "all_met": ratio >= 0.7 and apply_ratio >= 0.5 and worst <= 1.0,
        "quick": quick,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(Path(sys.argv[2])))
    elif sys.argv[1:2] == ["engine"]:
        _serve_engine()
    else:
        raise SystemExit("usage: python -m benchmarks.stream serve FILE | engine")
