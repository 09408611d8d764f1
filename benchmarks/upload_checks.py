"""Order round trips while strategy uploads that spin at import are being checked.

One engine (durable, as `vmx engine serve` runs it) runs in a subprocess under uvicorn. A client
places and cancels an order on one loopback connection, one request at a time, and times each
round trip: first with nothing else going on, then while UPLOADS uploads of a file whose import
never ends (`while True: pass`) are sent at once by another account. Each check runs in a
worker process for the whole start budget before it is refused. The engine checks at most
`max_checks` (2) uploads at once and refuses the others with 429 (engine/api/upload_checks.py);
the same run repeats on an engine without that bound (max_checks = UPLOADS), as engines
before it were. Target (issue 15): the median round trip during the uploads, bound on, at most
3x the median with nothing going on (same server).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._loopback import open_connection, post_bytes, request, subprocess_server

SPINS = "while True:\n    pass\n"
BOUND = 2


def _serve(data_dir: str, max_checks: str, start_seconds: str) -> None:
    from benchmarks._loopback import _serve_uvicorn
    from velocimex_cli.engine.api.app import ServerSettings, create_app
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits

    limits = StrategyLimits(start_seconds=float(start_seconds), max_checks=int(max_checks))
    settings = ServerSettings(
        data_dir=Path(data_dir),
        always_open=True,
        rate_limit=False,
        simulate=False,
        strategy_limits=limits,
    )
    _serve_uvicorn(create_app(settings))


def _raw(method: str, path: str, headers: dict[str, str], body: Any = None) -> bytes:
    if body is not None:
        raw = post_bytes(path, json.dumps(body).encode(), headers)
        return method.encode() + raw[len(b"POST") :]
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *[f"{k}: {v}" for k, v in headers.items()],
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _round_trips(port: int, headers: dict[str, str], seconds: float) -> list[float]:
    """Place/cancel pairs for `seconds`: each pair's time, in seconds."""
    order = {"exchange": "NASDAQ", "symbol": "MSFT", "side": "buy", "type": "limit",
             "quantity": 1, "price": "100.00"}  # fmt: skip
    place = _raw("POST", "/v1/trading/orders", headers, order)
    reader, writer = await open_connection(port)
    times: list[float] = []
    try:
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            status, body = await request(reader, writer, place)
            if status != 201:
                raise RuntimeError(f"place: HTTP {status}: {body[:300]!r}")
            order_id = json.loads(body)["data"]["order_id"]
            cancel = _raw("DELETE", f"/v1/trading/orders/{order_id}", headers)
            status, body = await request(reader, writer, cancel)
            if status != 200:
                raise RuntimeError(f"cancel: HTTP {status}: {body[:300]!r}")
            times.append(time.perf_counter() - began)
            await asyncio.sleep(0.005)
    finally:
        writer.close()
    return times


async def _upload(port: int, headers: dict[str, str], index: int) -> int:
    reader, writer = await open_connection(port)
    try:
        body = {"source": f"{SPINS}# {index}\n"}
        status, _ = await request(reader, writer, _raw("POST", "/v1/strategies", headers, body))
    finally:
        writer.close()
    return status


async def _phase(
    port: int, trader: dict[str, str], uploader: dict[str, str], uploads: int, seconds: float
) -> tuple[list[float], list[float], dict[int, int]]:
    idle = await _round_trips(port, trader, seconds)
    sent = [asyncio.ensure_future(_upload(port, uploader, i)) for i in range(uploads)]
    await asyncio.sleep(0.05)  # the uploads reach the engine first
    busy = await _round_trips(port, trader, seconds)
    statuses = await asyncio.gather(*sent)
    return idle, busy, {code: statuses.count(code) for code in sorted(set(statuses))}


def _ms(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "round_trips": len(ordered),
    }


def _engine(max_checks: int, uploads: int, seconds: float, quick: bool) -> dict[str, Any]:
    from velocimex_cli.engine.keys import KeyStore

    start_seconds = seconds + 1.0  # the checks spin for the whole busy phase
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "engine"
        store = KeyStore.open(data_dir)
        trade = store.create("trader")
        upload = store.create("uploader", permissions="read,trade,strategies")
        store.close()
        trader = {"X-API-Key": trade.api_key, "X-API-Secret": trade.api_secret}
        uploader = {"X-API-Key": upload.api_key, "X-API-Secret": upload.api_secret}
        serve = ("serve", str(data_dir), str(max_checks), str(start_seconds))
        with subprocess_server("benchmarks.upload_checks", *serve) as port:
            no_rate = {"max_orders_per_second": None}
            limits = _raw("PATCH", "/v1/account/limits", trader, no_rate)

            async def lift() -> None:
                reader, writer = await open_connection(port)
                try:
                    await request(reader, writer, limits)
                finally:
                    writer.close()

            asyncio.run(lift())
            asyncio.run(_round_trips(port, trader, 0.2))  # warm-up
            idle, busy, answers = asyncio.run(_phase(port, trader, uploader, uploads, seconds))
    return {"max_checks": max_checks, "uploads": uploads, "idle": _ms(idle),
            "during_uploads": _ms(busy), "answers": answers, "quick": quick}  # fmt: skip


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    uploads, seconds = (4, 1.0) if quick else (20, 3.0)
    bounded = _engine(BOUND, uploads, seconds, quick)
    yield {"name": "upload_checks.order_round_trip.bound_2", **bounded}
    unbounded = _engine(uploads, uploads, seconds, quick)
    yield {"name": "upload_checks.order_round_trip.no_bound", **unbounded}
    value = bounded["during_uploads"]["median_ms"]
    baseline = bounded["idle"]["median_ms"]
    ratio = value / baseline
    yield {
        "name": "upload_checks.order_round_trip_during_vs_without_uploads",
        "value": value,
        "baseline": baseline,
        "ratio": round(ratio, 3),
        "target": "<= 3",
        "met": ratio <= 3,
        "unit": "median ms per place+cancel",
        "without_the_bound": unbounded["during_uploads"]["median_ms"],
        "uploads": uploads,
        "quick": quick,
    }


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        _serve(sys.argv[2], sys.argv[3], sys.argv[4])
