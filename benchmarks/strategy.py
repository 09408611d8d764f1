"""Manual order acknowledgements with and without a market-maker deployment requoting.

One engine (durable, as `vmx engine serve` runs it; simulator off after seeding the books)
runs in a subprocess under uvicorn. A manual client on loopback sends place/cancel pairs:
each place is a limit buy one tick above the best bid and each cancel takes it away, so every
acknowledged command moves the BINANCE BTC/USDT mid. In the "with" phases a built-in
market-maker deployment (another account's) on that instrument requotes on every mid move
(order_refresh_tolerance_pct 0): its hook runs in its worker process and its cancels and new
quotes come back through the engine's order entry, interleaved with the manual client's
requests; the strategist account keeps its default limit of 100 orders a second (a quote it
refuses is retried at the next book change). Phases alternate (without, with, without, ...) on
the same server so a busy machine hurts both alike; medians are compared. Target (issue 10):
acknowledgements per second with the deployment >= 0.8 x without.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks._loopback import open_connection, post_bytes, request, subprocess_server

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 4
MM_PARAMS = {
    "order_amount": "0.001",
    "order_levels": 2,
    "order_refresh_time": 3600,
    "order_refresh_tolerance_pct": 0,
    "max_inventory": "0.01",
}


def engine_server(data_dir: Path) -> Any:
    return subprocess_server("benchmarks.strategy", "serve", str(data_dir))


def _serve(data_dir: str) -> None:
    from benchmarks._loopback import _serve_uvicorn
    from velocimex_cli.engine.api.app import ServerSettings, create_app

    settings = ServerSettings(
        data_dir=Path(data_dir), always_open=True, rate_limit=False, simulate=False
    )
    _serve_uvicorn(create_app(settings))


def raw_request(method: str, path: str, headers: dict[str, str], body: Any = None) -> bytes:
    if method in ("POST", "PATCH"):
        raw = post_bytes(path, json.dumps(body or {}).encode(), headers)
        return method.encode() + raw[len(b"POST") :]
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def call(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    reader, writer = await open_connection(port)
    try:
        status, answer = await request(reader, writer, raw_request(method, path, headers, body))
    finally:
        writer.close()
    if status not in (200, 201):
        raise RuntimeError(f"{method} {path}: HTTP {status}: {answer[:300]!r}")
    return json.loads(answer, parse_float=Decimal)["data"]


async def manual_client(port: int, headers: dict[str, str], seconds: float) -> float:
    """Place/cancel pairs on CONNECTIONS connections; acknowledgements per second."""
    ticker = await call(port, "GET", "/v1/markets/BINANCE/ticker/BTC/USDT", headers)
    bid, ask = Decimal(str(ticker["bid"])), Decimal(str(ticker["ask"]))
    # Halfway into the spread: each place and each cancel moves the mid by a quarter spread.
    price = str((bid + (ask - bid) / 2).quantize(Decimal("0.01")))
    order = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
             "quantity": "0.001", "price": price}  # fmt: skip
    place = post_bytes("/v1/trading/orders", json.dumps(order).encode(), headers)
    stop_at = time.perf_counter() + seconds
    counts = [0] * CONNECTIONS

    async def worker(index: int) -> None:
        reader, writer = await open_connection(port)
        try:
            while time.perf_counter() < stop_at:
                status, body = await request(reader, writer, place)
                if status != 201:
                    raise RuntimeError(f"place: HTTP {status}: {body[:300]!r}")
                order_id = json.loads(body)["data"]["order_id"]
                cancel = raw_request("DELETE", f"/v1/trading/orders/{order_id}", headers)
                status, body = await request(reader, writer, cancel)
                if status != 200:
                    raise RuntimeError(f"cancel: HTTP {status}: {body[:300]!r}")
                counts[index] += 2
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    return sum(counts) / (time.perf_counter() - started)


async def with_market_maker(
    port: int, headers: dict[str, str], strategist: dict[str, str], seconds: float
) -> tuple[float, dict[str, int], str]:
    deployed = await call(
        port, "POST", "/v1/strategies/market-maker/deploy", strategist,
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "params": MM_PARAMS},
    )  # fmt: skip
    deployment_id = deployed["deployment_id"]
    path = f"/v1/strategies/deployments/{deployment_id}"
    before = await call(port, "GET", path, strategist)
    rate = await manual_client(port, headers, seconds)
    after = await call(port, "GET", path, strategist)
    stopped = await call(port, "POST", f"{path}/stop", strategist)
    if after["state"] != "running":
        raise RuntimeError(f"the market maker is {after['state']}: {after['last_error']}")
    figures = {key: after[key] - before[key] for key in ("orders", "callbacks")}
    return rate, figures, stopped["state"]


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    from velocimex_cli.engine.keys import KeyStore

    rounds, seconds = (2, 0.5) if quick else (5, 2.0)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "engine"
        store = KeyStore.open(data_dir)
        key = store.create("bench")
        owner = store.create("strategist")  # the deployment trades on its own account
        store.close()
        headers = {"X-API-Key": key.api_key, "X-API-Secret": key.api_secret}
        strategist = {"X-API-Key": owner.api_key, "X-API-Secret": owner.api_secret}
        without: list[float] = []
        with_mm: list[float] = []
        orders: list[float] = []
        callbacks: list[float] = []
        with engine_server(data_dir) as port:
            # The manual client places hundreds of orders a second: lift only its order-rate
            # limit (the other pre-trade limits stay checked on every order).
            no_rate = {"max_orders_per_second": None}
            asyncio.run(call(port, "PATCH", "/v1/account/limits", headers, no_rate))
            asyncio.run(manual_client(port, headers, 0.3))  # warm-up
            for _ in range(rounds):
                without.append(asyncio.run(manual_client(port, headers, seconds)))
                rate, figures, state = asyncio.run(
                    with_market_maker(port, headers, strategist, seconds)
                )
                with_mm.append(rate)
                orders.append(figures["orders"] / seconds)
                callbacks.append(figures["callbacks"] / seconds)
                if state != "stopped":
                    raise RuntimeError(f"stopping the market maker left it {state}")
    baseline = statistics.median(without)
    value = statistics.median(with_mm)
    yield {"name": "strategy.manual_acks_per_second.without_deployment",
           "value": round(baseline, 1), "runs": [round(r, 1) for r in without]}  # fmt: skip
    yield {"name": "strategy.manual_acks_per_second.with_market_maker",
           "value": round(value, 1), "runs": [round(r, 1) for r in with_mm]}  # fmt: skip
    yield {"name": "strategy.market_maker_per_second",
           "callbacks": round(statistics.median(callbacks), 1),
           "orders": round(statistics.median(orders), 1),
           "note": "hooks the deployment ran (book changes are conflated while one runs) and "
                   "orders it placed, while the manual client ran"}  # fmt: skip
    ratio = value / baseline
    yield {
        "name": "strategy.manual_acks_with_vs_without_market_maker",
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(ratio, 3),
        "target": ">= 0.8",
        "met": ratio >= 0.8,
        "connections": CONNECTIONS,
        "quick": quick,
    }


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        _serve(sys.argv[2])
