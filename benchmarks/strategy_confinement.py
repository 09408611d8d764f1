"""`python -m benchmarks strategy_confinement`: what confining a strategy's worker costs.

Two engines in this process (the real app, driven through Starlette's test transport): one
confines its workers (engine/drivers/strategies/sandbox.py), the other has confinement turned
off (its test-only switch). On each, a user strategy is deployed and stopped over and over,
alternating between the engines so a busy machine hurts both alike:

- deploy: the wall time of `POST /v1/strategies/{id}/deploy` (it answers once the worker has
  started, loaded the class and been handed on_start): a fresh interpreter, plus, confined, the
  namespaces, the new root, the rlimits, Landlock and the seccomp filter;
- round trip: measured by the strategy itself in on_start, the wall time of one context call
  (`ctx.now()`: worker -> engine -> worker), and the worker's CPU time per call (the filter
  runs on each of its system calls). The engine serves these calls without its fair-share pause
  (loop_share 1.0) so the figure is the transport's.

Summary: deploys per second confined vs unconfined (medians), target >= 0.8.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

SOURCE = """
import time
from velocimex_cli.strategy import Strategy


class Pinger(Strategy):
    id = "pinger"

    def on_start(self):
        self.ctx.now()
        calls = {calls}
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            self.ctx.now()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.ctx.log("roundtrip %.3f %.3f" % (wall / calls * 1e6, cpu / calls * 1e6))
"""
DEPLOY = {"exchange": "BINANCE", "symbol": "BTC/USDT", "params": {}}


def _engine(confined: bool) -> tuple[Any, dict[str, str]]:
    from starlette.testclient import TestClient

    from velocimex_cli.engine.api.app import ServerSettings, create_app
    from velocimex_cli.engine.drivers.strategies import sandbox
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits

    limits = StrategyLimits(loop_share=1.0, callback_seconds=30, start_seconds=30)
    settings = ServerSettings(rate_limit=False, simulate=False, strategy_limits=limits)
    if not confined:
        os.environ[sandbox.FORCE_UNCONFINED_ENV] = "1"
    try:
        app = create_app(settings)
        client = TestClient(app)
        client.__enter__()
    finally:
        os.environ.pop(sandbox.FORCE_UNCONFINED_ENV, None)
    store = app.state.runtime.keys
    created = store.create("bench")
    with store._conn:  # the `strategies` permission: unconfined user code needs it
        store._conn.execute(
            "UPDATE api_keys SET permissions = 'read,trade,strategies' WHERE key_id = ?",
            (created.api_key,),
        )
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    return client, headers


def _deploy_once(client: Any, headers: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    answer = client.post("/v1/strategies/pinger/deploy", json=DEPLOY, headers=headers)
    deploy_ms = (time.perf_counter() - started) * 1000
    assert answer.status_code == 201, answer.text
    deployment_id = answer.json()["data"]["deployment_id"]
    path = f"/v1/strategies/deployments/{deployment_id}"
    deadline = time.monotonic() + 60
    while True:
        body = client.get(f"{path}/logs", headers=headers).json()["data"]
        found = [line["message"] for line in body["logs"] if line["message"][:9] == "roundtrip"]
        if found:
            break
        assert body["state"] == "running" and time.monotonic() < deadline, body
        time.sleep(0.01)
    client.post(f"{path}/stop", headers=headers)
    _, wall_us, cpu_us = found[0].split()
    return deploy_ms, float(wall_us), float(cpu_us)


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    from velocimex_cli.engine.drivers.strategies import sandbox

    rounds, calls = (2, 100) if quick else (12, 2000)
    problem = sandbox.confinement_problem()
    engines = {"confined": _engine(True), "unconfined": _engine(False)}
    source = SOURCE.format(calls=calls)
    figures: dict[str, dict[str, list[float]]] = {}
    try:
        for name, (client, headers) in engines.items():
            added = client.post("/v1/strategies", json={"source": source}, headers=headers)
            assert added.status_code == 201, added.text
            figures[name] = {"deploy_ms": [], "roundtrip_us": [], "worker_cpu_us": []}
        for _ in range(rounds):
            for name, (client, headers) in engines.items():
                deploy_ms, wall_us, cpu_us = _deploy_once(client, headers)
                figures[name]["deploy_ms"].append(deploy_ms)
                figures[name]["roundtrip_us"].append(wall_us)
                figures[name]["worker_cpu_us"].append(cpu_us)
    finally:
        for client, _ in engines.values():
            client.__exit__(None, None, None)
    medians = {
        name: {key: round(statistics.median(values), 2) for key, values in found.items()}
        for name, found in figures.items()
    }
    for name, found in medians.items():
        yield {"name": f"strategy_confinement.{name}", **found, "rounds": rounds}
    confined, unconfined = medians["confined"], medians["unconfined"]
    value, baseline = 1000 / confined["deploy_ms"], 1000 / unconfined["deploy_ms"]
    ratio = value / baseline
    yield {
        "name": "strategy_confinement.deploys_per_second_confined_vs_not",
        "value": round(value, 2),
        "baseline": round(baseline, 2),
        "ratio": round(ratio, 3),
        "target": ">= 0.8",
        "met": ratio >= 0.8,
        "confinement": "available" if problem is None else f"unavailable: {problem}",
        "quick": quick,
    }
