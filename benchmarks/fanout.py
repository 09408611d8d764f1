"""Market-data fan-out to 10 WebSocket clients: the engine's /v1/ws/market vs websockets.broadcast.

Both servers run in subprocesses and push the same N trade frames to 10 subscribed clients; the
engine through its real hub (each message serialised once, queued to every subscriber's bounded
outbox, sent by per-connection pumps under uvicorn, configured as `vmx engine serve` does, with
the per-connection rate limit off), the baseline through the websockets library's own
`broadcast()` of pre-serialised frames. Lean clients in this process count
frames; the rate is client-frames delivered per second from the first to the last frame.
Rounds alternate between the two servers (2 with --quick, else 3; each a fresh server) and
the medians are compared, so a busy machine hurts both alike.
Target (issue 3): >= 50% of the baseline's rate.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import struct
import time
from collections.abc import Iterator
from typing import Any

from benchmarks._loopback import server

CLIENTS = 10
SUBSCRIBE = '{"action": "subscribe", "channels": ["trades"], "instruments": ["BINANCE:BTC/USDT"]}'


async def _lean_client(port: int, path: str, count: int) -> tuple[float, float]:
    """A minimal WebSocket client: handshake, one subscribe frame, then count trade frames.

    It skips the websockets library's per-message work (UTF-8 decoding, queues), so the
    servers, not the clients, set the pace.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {head[:100]!r}")
    payload = SUBSCRIBE.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    seen = 0
    first = 0.0
    while seen < count:
        header = await reader.readexactly(2)
        length = header[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        body = await reader.readexactly(length)
        if header[0] & 0x0F == 0x1 and body[:20].find(b'"type": "trade"') >= 0:
            if seen == 0:
                first = time.perf_counter()
            seen += 1
    last = time.perf_counter()
    writer.close()
    return first, last


async def _receive_all(port: int, path: str, count: int) -> float:
    results = await asyncio.wait_for(
        asyncio.gather(*(_lean_client(port, path, count) for _ in range(CLIENTS))), timeout=60
    )
    first = min(r[0] for r in results)
    last = max(r[1] for r in results)
    return CLIENTS * count / (last - first)


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    count, rounds = (10_000, 2) if quick else (50_000, 3)
    engine_rates: list[float] = []
    baseline_rates: list[float] = []
    for _ in range(rounds):  # alternating, so a busy machine hurts both alike
        with server("engine-fanout", str(count)) as port:
            engine_rates.append(asyncio.run(_receive_all(port, "/v1/ws/market", count)))
        with server("ws-baseline", str(count)) as port:
            baseline_rates.append(asyncio.run(_receive_all(port, "/", count)))
    engine_rate = statistics.median(engine_rates)
    baseline_rate = statistics.median(baseline_rates)
    yield {"name": "fanout.engine_frames_per_second", "value": round(engine_rate),
           "rounds": [round(rate) for rate in engine_rates]}  # fmt: skip
    yield {"name": "fanout.websockets_broadcast_frames_per_second", "value": round(baseline_rate),
           "rounds": [round(rate) for rate in baseline_rates]}  # fmt: skip
    ratio = engine_rate / baseline_rate
    yield {
        "name": "fanout.engine_vs_websockets_broadcast",
        "value": round(engine_rate),
        "baseline": round(baseline_rate),
        "ratio": round(ratio, 3),
        "target": ">= 0.5",
        "met": ratio >= 0.5,
        "clients": CLIENTS,
        "frames_per_client": count,
        "rounds": rounds,
        "quick": quick,
    }
