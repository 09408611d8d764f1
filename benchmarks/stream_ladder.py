"""The ladder's cost while a book streams in: `python -m benchmarks stream_ladder [--quick]`.

A feed server (a subprocess, so its CPU is not counted) serves one instrument over loopback
WebSocket: a 50-level snapshot, then sequenced book deltas with correct checksums and a trade
every 25 messages, at 5,000 messages a second (or as fast as it can, for the ingest figure).
This process consumes it exactly as `vmx watch` does: StreamClient -> BookSync (checksum once
per frame) -> MarketWatch -> FramePacer at 10 fps -> LadderRenderer -> a Rich Live on the
alternate screen of a Console writing to a real file (so the ANSI output is produced and
written, as on a terminal).

Figures, all measured in the same run:
- `ladder_cpu`: CPU time of the drawing (view + render + Live refresh + write, per frame, by
  thread CPU clock) over wall time: the fraction of one core the ladder costs. Target <= 0.10.
- `naive_ladder_cpu` (the baseline): a Rich Live that auto-refreshes 10 times a second and
  rebuilds a Table of the book on every refresh (no row cache, frames drawn unchanged or not).
- `ingest`: messages the consumer takes from an unpaced feed, with the ladder drawing and with
  nothing drawn, per second of wall time and per second of this process's CPU. The target
  (ratio >= 0.8) is judged per CPU-second: on these shared 2-core machines the unpaced
  consumer is not CPU-bound (it runs at ~0.2-0.3 of a core, the feed server and the
  neighbours set the wall-clock pace), so the wall-clock ratio swings from run to run
  (0.55-1.25 measured) while the per-CPU one, what the consumer itself can sustain, is stable.
- `lag`: per message, from the moment the client decoded it to the moment a frame showing it
  was written: p50, p99, max. Target p99 <= one frame interval + 5 ms.
The summary's value is `ladder_cpu`, its baseline `naive_ladder_cpu`.

`stream.py` (the stream benchmark) includes these figures through `ladder_figures()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "BINANCE:BTC/USDT"
RATE = 5000
FPS = 10.0
LEVELS = 50
CYCLE = 4000  # deltas in one cycle of the feed; the book is back where it began after it
TRADE_EVERY = 25


# ---------------------------------------------------------------------------- the feed
def _feed_templates(seed: int = 7) -> tuple[str, list[tuple[str, str]], list[str]]:
    """The snapshot frame, CYCLE delta templates (prefix, suffix around the sequence number)
    whose changes undo themselves over the cycle, and a few trade frames."""
    from velocimex_cli.wire import jsonfmt
    from velocimex_cli.wire.streams import book_checksum

    rng = random.Random(seed)
    tick, lot = Decimal("0.01"), Decimal("0.00001")
    bids = {
        Decimal(60000) - i * Decimal(6) - tick * 0: lot * rng.randint(1000, 40000)
        for i in range(LEVELS)
    }
    asks = {Decimal(60006) + i * Decimal(6): lot * rng.randint(1000, 40000) for i in range(LEVELS)}
    bids = {p.quantize(tick): q for p, q in bids.items()}
    asks = {p.quantize(tick): q for p, q in asks.items()}
    original = (dict(bids), dict(asks))

    def checksum() -> int:
        top_bids = sorted(bids.items(), reverse=True)[:10]
        top_asks = sorted(asks.items())[:10]
        return book_checksum(top_bids, top_asks)

    snapshot = jsonfmt.dumps(
        {
            "type": "book_snapshot",
            "exchange": "BINANCE",
            "symbol": "BTC/USDT",
            "sequence": 1000,
            "timestamp": "2026-11-24T15:00:00.000000Z",
            "bids": [{"price": p, "quantity": q} for p, q in sorted(bids.items(), reverse=True)],
            "asks": [{"price": p, "quantity": q} for p, q in sorted(asks.items())],
            "checksum": checksum(),
        }
    )
    half = CYCLE // 2
    changes: list[tuple[str, Decimal, Decimal]] = []
    for _ in range(half):  # sizes move (never to zero: the book keeps its shape)
        side = rng.choice(("bid", "ask"))
        book = bids if side == "bid" else asks
        price = rng.choice(sorted(book)[:20] if side == "ask" else sorted(book)[-20:])
        changes.append((side, price, lot * rng.randint(1000, 40000)))
    restore = []
    seen: set[tuple[str, Decimal]] = set()
    for side, price, _ in reversed(changes):
        if (side, price) not in seen:
            seen.add((side, price))
            book = original[0] if side == "bid" else original[1]
            restore.append((side, price, book[price]))
    while len(changes) + len(restore) < CYCLE:
        restore.append(restore[-1])
    templates = []
    for side, price, quantity in changes + restore:
        (bids if side == "bid" else asks)[price] = quantity
        text = jsonfmt.dumps(
            {
                "type": "book_delta",
                "exchange": "BINANCE",
                "symbol": "BTC/USDT",
                "sequence": "__SEQ__",
                "timestamp": "2026-11-24T15:00:00.100000Z",
                "changes": [{"side": side, "price": price, "quantity": quantity}],
                "checksum": checksum(),
            }
        )
        prefix, suffix = text.split('"__SEQ__"')
        templates.append((prefix, suffix))
    assert (bids, asks) == original, "the feed's cycle must leave the book as it found it"
    trades = [
        jsonfmt.dumps(
            {
                "type": "trade",
                "trade_id": str(9_000_000 + i),
                "exchange": "BINANCE",
                "symbol": "BTC/USDT",
                "price": Decimal("60003.00") + i,
                "quantity": Decimal("0.01250"),
                "side": "buy" if i % 2 else "sell",
                "timestamp": "2026-11-24T15:00:00.123456Z",
            }
        )
        for i in range(8)
    ]
    return snapshot, templates, trades


def _serve(port_file: str) -> None:
    """The feed server (run in a subprocess): rate from the URL path, /r5000/... or /r0/..."""
    from websockets.asyncio.server import serve

    snapshot, templates, trades = _feed_templates()
    subscribed = (
        '{"type": "subscribed", "channels": ["book", "trades", "ticker"], '
        f'"instruments": ["{KEY}"]}}'
    )

    async def handler(ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await stream_to(ws)

    async def stream_to(ws: Any) -> None:
        rate = int(ws.request.path.split("/")[1][1:] or 0)
        await ws.recv()  # the subscribe action
        await ws.send(subscribed)
        await ws.send(snapshot)
        sequence = 1000
        n = 0
        started = time.monotonic()
        batch = 50 if rate else 200
        while True:
            for _ in range(batch):
                n += 1
                if n % TRADE_EVERY == 0:
                    await ws.send(trades[n % len(trades)])
                    continue
                prefix, suffix = templates[(sequence - 1000) % CYCLE]  # [0] follows the snapshot
                sequence += 1
                await ws.send(f"{prefix}{sequence}{suffix}")
            if rate:
                due = started + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
            port = server.sockets[0].getsockname()[1]
            Path(port_file).write_text(str(port))
            await asyncio.Future()

    asyncio.run(main())


class FeedServer:
    def __enter__(self) -> FeedServer:
        self._dir = tempfile.TemporaryDirectory()
        port_file = Path(self._dir.name) / "port"
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.stream_ladder", "serve", str(port_file)],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the feed server did not start")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._dir.cleanup()


# ---------------------------------------------------------------------------- the consumer
class NaiveLadder:
    """What a first attempt looks like: a fresh Table of the book on every refresh."""

    def __init__(self, book: Callable[[], Any]) -> None:
        self.book = book

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table("price", "size", "cumulative", "depth", expand=False)
        book = self.book()
        if book is None:
            return table
        asks, bids = book.asks(18), book.bids(18)
        total = sum(q for _, q in asks + bids) or Decimal(1)
        cumulative = Decimal(0)
        rows = []
        for price, size in asks:
            cumulative += size
            rows.append((price, size, cumulative, "red"))
        for price, size, cum, style in reversed(rows):
            bar = "█" * int(cum / total * 40)
            table.add_row(str(price), str(size), str(cum), bar, style=style)
        cumulative = Decimal(0)
        for price, size in bids:
            cumulative += size
            table.add_row(
                str(price),
                str(size),
                str(cumulative),
                "█" * int(cumulative / total * 40),
                style="green",
            )
        return table


async def _consume(
    port: int, rate: int, seconds: float, mode: str, out_path: str
) -> dict[str, Any]:
    """Run the watch pipeline for `seconds` after the book went live; mode ladder|naive|none."""
    from rich.console import Console
    from rich.live import Live

    from velocimex_cli.cli.live_screen import FramePacer, FullScreen
    from velocimex_cli.cli.live_view import feed, run_frames
    from velocimex_cli.cli.market_watch import FrameStats, MarketWatch
    from velocimex_cli.client.book import BookSync
    from velocimex_cli.client.streams import StreamClient
    from velocimex_cli.render.ladder import LadderRenderer

    client = StreamClient(f"http://127.0.0.1:{port}/r{rate}")
    sync = BookSync(client, [KEY], ["book", "trades", "ticker"], verify="frame")
    stats = FrameStats(keep_lags=mode == "ladder")
    watch = MarketWatch("BINANCE", "BTC/USDT", lambda: sync.books.get(KEY), stats=stats)
    pacer = FramePacer(FPS)
    pacer.lateness = []
    loop = asyncio.get_running_loop()
    window: dict[str, Any] = {}
    draw_cpu = [0.0]

    def apply(message: dict) -> bool:
        changed = watch.apply(message)
        if not window and watch.book is not None and watch.book.status == "live":
            window.update(
                wall=time.perf_counter(), cpu=time.process_time(), messages=stats.messages
            )
            loop.call_later(seconds, pacer.stop)
        return changed

    async def verify() -> None:
        for message in await sync.verify_all():
            watch.apply(message)

    out = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    console = Console(
        file=out,
        force_terminal=True,
        width=120,
        height=40,
        color_system="truecolor",
        legacy_windows=False,
    )
    sources = [asyncio.create_task(feed(sync, apply, pacer, None))]
    try:
        if mode == "ladder":
            screen = FullScreen(console)
            renderer = LadderRenderer()

            def draw() -> bool:
                started = time.thread_time()
                width, height = screen.size
                view = watch.view(max(1, (height - 5) // 2))
                screen.draw(renderer.render_rows(view, width, height))
                out.flush()
                draw_cpu[0] += time.thread_time() - started
                return True

            with screen:
                await run_frames(pacer, draw, sources, verify, stats.on_frame)
        elif mode == "naive":

            class TimedLive(Live):
                def refresh(self) -> None:
                    started = time.thread_time()
                    super().refresh()
                    out.flush()
                    draw_cpu[0] += time.thread_time() - started

            with TimedLive(
                NaiveLadder(lambda: sync.books.get(KEY)),
                console=console,
                screen=True,
                refresh_per_second=FPS,
            ):
                await run_frames(pacer, lambda: True, sources, verify, stats.on_frame)
        else:
            await run_frames(pacer, lambda: True, sources, verify, stats.on_frame)
    finally:
        out.close()
        await sync.aclose()
    wall = time.perf_counter() - window["wall"]
    cpu = time.process_time() - window["cpu"]
    messages = stats.messages - window["messages"]
    result = {
        "mode": mode,
        "seconds": round(wall, 3),
        "messages_per_second": round(messages / wall, 1),
        "messages_per_cpu_second": round(messages / cpu, 1) if cpu > 0 else None,
        "cpu_fraction": round(cpu / wall, 4),
        "draw_cpu_fraction": round(draw_cpu[0] / wall, 4),
        "frames": stats.frames,
        "resyncs": sync.resyncs,
    }
    if pacer.lateness:
        late = sorted(pacer.lateness)
        result["frame_wakeup_late_p99_ms"] = round(late[int(len(late) * 0.99)] * 1000, 2)
        result["frame_wakeup_late_max_ms"] = round(late[-1] * 1000, 2)
    if stats.lags_ns:
        lags = sorted(stats.lags_ns)
        result["lag_p50_ms"] = round(lags[len(lags) // 2] / 1e6, 2)
        result["lag_p99_ms"] = round(lags[int(len(lags) * 0.99)] / 1e6, 2)
        result["lag_max_ms"] = round(lags[-1] / 1e6, 2)
    return result


def _measure(port: int, rate: int, seconds: float, mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_consume(port, rate, seconds, mode, str(Path(tmp) / "screen.ansi")))


def ladder_figures(quick: bool = False) -> Iterator[dict[str, Any]]:
    """Every figure but the summary (named like the stream benchmark's, `stream.ladder_*`);
    the last one, `stream.ladder_lag`, also carries the numbers the summary needs."""
    seconds = 0.4 if quick else 5.0
    with FeedServer() as server:
        paced_none = _measure(server.port, RATE, seconds, "none")
        paced_ladder = _measure(server.port, RATE, seconds, "ladder")
        paced_naive = _measure(server.port, RATE, seconds, "naive")
        fast_none = _measure(server.port, 0, seconds, "none")
        fast_ladder = _measure(server.port, 0, seconds, "ladder")
    load = round(os.getloadavg()[0], 2)
    ladder_cpu, naive_cpu = paced_ladder["draw_cpu_fraction"], paced_naive["draw_cpu_fraction"]
    yield {"name": "stream.ladder_consumer_alone", "rate": RATE, "fps": FPS, **paced_none}
    yield {
        "name": "stream.ladder_cpu",
        "value": ladder_cpu,
        "unit": "fraction of one core (drawing, thread CPU / wall)",
        "baseline": naive_cpu,
        "target": "<= 0.10",
        "met": ladder_cpu <= 0.10,
        "rate": RATE,
        "fps": FPS,
        "ladder": paced_ladder,
        "naive_live": paced_naive,
    }
    ingest_ratio = fast_ladder["messages_per_second"] / fast_none["messages_per_second"]
    per_cpu = None
    if fast_ladder["messages_per_cpu_second"] and fast_none["messages_per_cpu_second"]:
        per_cpu = fast_ladder["messages_per_cpu_second"] / fast_none["messages_per_cpu_second"]
    yield {
        "name": "stream.ladder_ingest",
        "value": fast_ladder["messages_per_second"],
        "unit": "messages/s from an unpaced feed, ladder drawing at 10 fps",
        "baseline": fast_none["messages_per_second"],
        "ratio": round(ingest_ratio, 3),
        # The same per second of this process's CPU: what one core would sustain, less
        # sensitive to other processes competing for the machine than the wall-clock rate.
        "per_cpu_second_with": fast_ladder["messages_per_cpu_second"],
        "per_cpu_second_without": fast_none["messages_per_cpu_second"],
        "per_cpu_ratio": None if per_cpu is None else round(per_cpu, 3),
        "target": ">= 0.8 (per CPU-second)",
        "met": per_cpu is not None and per_cpu >= 0.8,
        "load_average": load,
    }
    lag_target = 1000 / FPS + 5
    p99 = paced_ladder.get("lag_p99_ms")
    yield {
        "name": "stream.ladder_lag",
        "value": p99,
        "unit": "ms, message decoded -> frame written, p99",
        "p50_ms": paced_ladder.get("lag_p50_ms"),
        "max_ms": paced_ladder.get("lag_max_ms"),
        # How late the event loop woke up for a due frame (the machine's scheduling, not the
        # ladder's work): lag p99 is about one interval + the draw + this.
        "frame_wakeup_late_p99_ms": paced_ladder.get("frame_wakeup_late_p99_ms"),
        "target": f"<= {lag_target:g}",
        "met": p99 is not None and p99 <= lag_target,
        "rate": RATE,
        "fps": FPS,
        "load_average": load,
        "ladder_cpu": ladder_cpu,
        "naive_cpu": naive_cpu,
        "ingest_ratio": None if per_cpu is None else round(per_cpu, 3),
        "ingest_ratio_wall_clock": round(ingest_ratio, 3),
        "target_p99_ms": lag_target,
    }


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    last: dict[str, Any] = {}
    for figure in ladder_figures(quick):
        last = figure
        yield figure
    value, baseline = last["ladder_cpu"], last["naive_cpu"]
    yield {
        "summary": "ladder CPU at 10 fps while ingesting 5,000 msg/s (fraction of one core)",
        "value": value,
        "baseline": baseline,
        "ratio": round(value / baseline, 3) if baseline else None,
        "target": 0.10,
        "ingest_ratio": last["ingest_ratio"],
        "ingest_target": 0.8,
        "lag_p99_ms": last["value"],
        "lag_target_ms": last["target_p99_ms"],
        "quick": quick,
    }


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve":
    _serve(sys.argv[2])
