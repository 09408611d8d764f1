"""A strategy can never take the engine down or stall matching.

Each misbehaving strategy runs in its own worker on the real app; it is stopped and reported
(state `failed`, the reason in `last_error` and in its log) while a manual order placed
meanwhile is acknowledged normally. Budgets are short (settings) to keep this fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import auth_headers, settings
from tests.engine.drivers.strategies.conftest import BUDGET, logs_of, move_the_book, wait_for_state
from tests.process_table import kill_all, strategy_workers, wait_gone
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.node import StrategyLimits

MEMORY = 128 * 2**20

HEADER = """
from decimal import Decimal
from velocimex_cli.strategy import Param, Strategy
"""

RAISES = (
    HEADER
    + """
class Raises(Strategy):
    id = "raises"
    def on_book(self, book):
        raise RuntimeError("boom at " + str(book.bid))
"""
)

LOOPS = (
    HEADER
    + """
class Loops(Strategy):
    id = "loops"
    def on_book(self, book):
        self.ctx.log("looping now")
        while True:
            pass
"""
)

EATS = (
    HEADER
    + """
class Eats(Strategy):
    id = "eats"
    def on_book(self, book):
        hoard = []
        while True:
            hoard.append(bytearray(8 * 2**20))
"""
)

CALLS_FOREVER = (
    HEADER
    + """
class CallsForever(Strategy):
    id = "calls-forever"
    def on_book(self, book):
        while True:
            self.ctx.best_bid()
"""
)


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[TestClient, dict[str, str]]]:
    limits = StrategyLimits(callback_seconds=BUDGET, start_seconds=10, memory_bytes=MEMORY)
    app = create_app(settings(strategy_limits=limits))
    with TestClient(app) as client:
        yield (
            client,
            auth_headers(app.state.runtime.keys, "alice", permissions="read,trade,strategies"),
        )


def add_and_deploy(client: TestClient, headers: dict[str, str], source: str) -> str:
    added = client.post("/v1/strategies", json={"source": source}, headers=headers)
    assert added.status_code == 201, added.text
    strategy_id = added.json()["data"]["strategy_id"]
    deployed = client.post(
        f"/v1/strategies/{strategy_id}/deploy",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "params": {}},
        headers=headers,
    )
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["data"]["state"] == "running"
    return deployed.json()["data"]["deployment_id"]


@pytest.mark.parametrize(
    ("source", "reported"),
    [
        (RAISES, "on_book: RuntimeError: boom at"),
        (LOOPS, f"on_book ran past its {BUDGET:g} s time budget"),
        (EATS, "MemoryError"),
        (CALLS_FOREVER, f"on_book ran past its {BUDGET:g} s time budget"),
    ],
    ids=["raises", "loops-forever", "allocates-without-bound", "calls-the-context-forever"],
)
def test_a_misbehaving_strategy_is_stopped_and_reported_while_matching_goes_on(
    engine: tuple[TestClient, dict[str, str]], source: str, reported: str
) -> None:
    client, headers = engine
    deployment_id = add_and_deploy(client, headers, source)
    move_the_book(client, headers)  # the hook runs in the worker and misbehaves
    # Meanwhile, manual orders are acknowledged as usual: well inside the strategy's budget.
    slowest = max(move_the_book(client, headers) for _ in range(3))
    assert slowest < BUDGET / 2
    found = wait_for_state(client, headers, deployment_id, "failed")
    assert found["state"] == "failed", found
    assert reported in str(found["last_error"])
    assert reported.split(":")[0] in logs_of(client, headers, deployment_id)
    assert found["open_orders"] == 0
    # The engine is fine: another order is acknowledged, the health check answers.
    move_the_book(client, headers)
    assert client.get("/v1/health").status_code == 200


def test_a_traceback_reaches_the_log_not_the_engine(
    engine: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = engine
    source = RAISES.replace('id = "raises"', 'id = "raises-again"')
    deployment_id = add_and_deploy(client, headers, source)
    move_the_book(client, headers)
    found = wait_for_state(client, headers, deployment_id, "failed")
    text = logs_of(client, headers, deployment_id)
    assert "Traceback" in text and "raise RuntimeError" in text
    assert found["stop_reason"] == found["last_error"]


ORPHAN = """
import os, sys, time
from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
from velocimex_cli.engine.drivers.strategies.worker import run_check
worker = WorkerProcess(run_check, ("while True:\\n    pass\\n", "spin.py", 2**29))
print(worker.pid, flush=True)
time.sleep(0.3)
os._exit(0)  # the engine dies without stopping its worker
"""


def test_a_worker_does_not_outlive_the_engine_even_in_a_loop() -> None:
    import subprocess
    import sys

    engine = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True)
    out, _ = engine.communicate(timeout=60)
    pid = int(out.strip())
    # Every process of the worker: a confined one's supervisor (`pid`) and the worker it forked,
    # PID 1 of its own namespace, which may have been forked just as the engine died.
    left = wait_gone([pid, *strategy_workers(engine.pid)], 5)
    kill_all(left)
    assert not left, f"the spinning worker's processes {left} outlived the engine"
