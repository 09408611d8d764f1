"""POST /v1/trading/orders over loopback vs a plain Starlette route echoing the same JSON.

All servers run in subprocesses under the same uvicorn configuration as `vmx engine serve`
(uvloop + httptools when available); the load comes from a lean keep-alive HTTP/1.1 client in
this process, with N connections each sending its next request when the last one is answered.
Throughput is a server's peak over N in CONCURRENCY: a closed-loop client with few connections
measures latency as much as throughput, and the durable engine needs some concurrency before
its group commit shares transactions (every level is printed, so the 8-connection figures are
there too). Rounds alternate between the servers so a busy machine hurts them alike; medians
are reported. The engine has auth on, rate limit off and the simulator off; orders are IOC
limit buys below the market, so nothing accumulates in the book. The account's pre-trade risk
limits stay on and are checked on every order, except max_orders_per_second, switched off
through the API first (thousands of orders a second from one key is the point here). The
summary is the durable engine (SQLite WAL, the default of `vmx engine serve`); the in-memory
engine is reported alongside. Targets (issue 3): throughput >= 50% of the echo's; p50
acknowledgement latency (one connection, one request at a time) <= 2x the echo's.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._loopback import open_connection, post_bytes, request, server

ORDER = (
    b'{"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",'
    b' "quantity": 0.00100, "price": 1000.00, "time_in_force": "ioc"}'
)
CONCURRENCY = (8, 32, 64)


async def _throughput(port: int, raw: bytes, seconds: float, connections: int) -> float:
    stop_at = time.perf_counter() + seconds
    counts = [0] * connections

    async def worker(index: int) -> None:
        reader, writer = await open_connection(port)
        try:
            while time.perf_counter() < stop_at:
                status, body = await request(reader, writer, raw)
                if status not in (200, 201):
                    raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
                counts[index] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started)


async def _latencies(port: int, raw: bytes, count: int) -> list[float]:
    """Round-trip seconds of `count` requests sent one at a time on one connection."""
    reader, writer = await open_connection(port)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            status, body = await request(reader, writer, raw)
            samples.append(time.perf_counter() - started)
            if status not in (200, 201):
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    finally:
        writer.close()
    return samples


async def _no_order_rate_limit(port: int, headers: dict[str, str]) -> None:
    """PATCH /v1/account/limits {"max_orders_per_second": null} for the benchmark's key."""
    patch = post_bytes("/v1/account/limits", b'{"max_orders_per_second": null}', headers)
    reader, writer = await open_connection(port)
    try:
        status, body = await request(reader, writer, b"PATCH" + patch[len(b"POST") :])
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError(f"could not lift the order-rate limit: HTTP {status}: {body[:200]!r}")


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    from velocimex_cli.engine.keys import KeyStore

    rounds, seconds, samples = (2, 0.5, 200) if quick else (5, 2.0, 2000)
    levels = CONCURRENCY[:2] if quick else CONCURRENCY
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        data_dir = Path(tmp) / "engine"
        store = KeyStore.open(data_dir)
        key = store.create("bench")
        store.close()
        durable_headers = {"X-API-Key": key.api_key, "X-API-Secret": key.api_secret}
        greeting: list[str] = []
        targets = {
            "engine": (stack.enter_context(server("engine", str(data_dir))), durable_headers),
            "engine_memory": (stack.enter_context(server("engine-memory", greeting=greeting)), {}),
            "echo": (stack.enter_context(server("echo")), durable_headers),
        }
        _, api_key, api_secret = greeting[0].split()
        targets["engine_memory"] = (
            targets["engine_memory"][0],
            {"X-API-Key": api_key, "X-API-Secret": api_secret},
        )
        for name in ("engine", "engine_memory"):
            port, headers = targets[name]
            asyncio.run(_no_order_rate_limit(port, headers))
        raw = {name: post_bytes("/v1/trading/orders", ORDER, h) for name, (_, h) in targets.items()}
        rates = {(name, n): [] for name in targets for n in levels}  # type: ignore[var-annotated]
        latencies: dict[str, list[list[float]]] = {name: [] for name in targets}
        for name, (port, _) in targets.items():  # warm-up
            asyncio.run(_latencies(port, raw[name], 100))
        for _ in range(rounds):
            for name, (port, _) in targets.items():
                latencies[name].append(asyncio.run(_latencies(port, raw[name], samples)))
                for n in levels:
                    rates[name, n].append(asyncio.run(_throughput(port, raw[name], seconds, n)))

    at = {key: statistics.median(values) for key, values in rates.items()}
    rate = {name: max(at[name, n] for n in levels) for name in targets}
    p50 = {
        name: statistics.median(statistics.median(r) for r in runs)
        for name, runs in latencies.items()
    }
    tails = {name: sorted(x for r in runs for x in r) for name, runs in latencies.items()}
    for name in targets:
        by_level = {str(n): round(at[name, n], 1) for n in levels}
        yield {"name": f"api.{name}.requests_per_second", "value": round(rate[name], 1),
               "by_connections": by_level}  # fmt: skip
        ordered = tails[name]
        yield {"name": f"api.{name}.p50_ms", "value": round(p50[name] * 1000, 3),
               "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 3),
               "p99_9_ms": round(ordered[int(len(ordered) * 0.999)] * 1000, 3)}  # fmt: skip
    yield {
        "name": "api.orders_vs_echo_throughput_at_8_connections",
        "ratio": round(at["engine", levels[0]] / at["echo", levels[0]], 3),
    }
    memory_ratio = rate["engine_memory"] / rate["echo"]
    yield {
        "name": "api.in_memory_engine_vs_echo",
        "ratio": round(memory_ratio, 3),
        "p50_latency_ratio": round(p50["engine_memory"] / p50["echo"], 3),
    }
    ratio = rate["engine"] / rate["echo"]
    latency_ratio = p50["engine"] / p50["echo"]
    yield {
        "name": "api.orders_vs_echo_throughput",
        "value": round(rate["engine"], 1),
        "baseline": round(rate["echo"], 1),
        "ratio": round(ratio, 3),
        "target": ">= 0.5 (and p50 latency ratio <= 2.0)",
        "met": ratio >= 0.5 and latency_ratio <= 2.0,
        "p50_latency_ratio": round(latency_ratio, 3),
        "throughput": f"peak over {', '.join(map(str, levels))} connections",
        "quick": quick,
    }
