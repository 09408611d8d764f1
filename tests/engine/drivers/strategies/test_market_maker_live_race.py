"""The built-in market maker survives its quotes filling while it cancels them, live.

A live strategy reads as of its hook's start (the node answers its reads ahead), while the
engine goes on matching: the simulator's takers trade through a tight market maker's quotes
between the read and the cancel, and the cancel is refused with OrderNotOpen. The market maker
catches that (`except OrderNotOpen`), which only works if the worker raises the API error as
its own class (not a plain InvalidParameter, as it once did: the deployment then failed within
seconds). Here it runs on the real engine, in its real worker process, on the node's loop, for
10 minutes of market time on an accelerated injected clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.conftest import MARKET_OPEN
from velocimex_cli.engine.node import EngineNode, NodeSettings, StrategyLimits

SPEEDUP = 40  # market seconds per real second
MARKET_MINUTES = 10
PARAMS = {
    "order_amount": "0.001",
    "order_levels": 2,
    "bid_spread": "0.01",
    "ask_spread": "0.01",
    "order_level_spread": "0.01",
    "max_inventory": "0.05",
    "order_refresh_time": 1,
}


class AcceleratedClock:
    """The engine's injected clock, running SPEEDUP times faster than the wall clock."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.began) * SPEEDUP)


async def _run_market_maker() -> tuple[dict[str, Any], dict[str, Any], list[str], list[Any]]:
    clock = AcceleratedClock(MARKET_OPEN)
    limits = StrategyLimits(callback_seconds=5.0, start_seconds=20.0, memory_bytes=256 * 2**20)
    settings = NodeSettings(
        simulate=True,
        simulate_interval_seconds=0.005,  # the takers trade often: fills race the cancels
        always_open=True,
        sandbox_funds={"USDT": Decimal(1_000_000), "BTC": Decimal(10)},
        strategies=limits,
    )
    node = EngineNode(settings, clock)
    node.start()
    try:
        node.exchange.ensure_account("alice")
        deployments = node.deployments
        assert deployments is not None
        status = await deployments.deploy("alice", "market-maker", "BINANCE", "BTC/USDT", PARAMS)
        assert status["state"] == "running", status
        deployment_id = status["deployment_id"]
        end = MARKET_OPEN + timedelta(minutes=MARKET_MINUTES)
        while clock() < end:
            await asyncio.sleep(0.2)
            running = deployments.get(deployment_id)
            if running["state"] != "running":
                break
        running = deployments.get(deployment_id)
        stopped = await deployments.stop(deployment_id)
        messages = [line["message"] for line in deployments.logs(deployment_id)["logs"]]
        prefix = f"{deployment_id}:"
        account = node.exchange.ledger.accounts["alice"]
        mine = [o for o in account.orders.values() if (o.client_id or "").startswith(prefix)]
        return running, stopped, messages, mine
    finally:
        await node.stop()


def test_a_tight_market_maker_survives_fills_racing_its_cancels_for_ten_minutes() -> None:
    running, stopped, messages, orders = asyncio.run(_run_market_maker())
    # Ten market minutes later it is still quoting: no failure, no error.
    assert running["state"] == "running", (running, messages[-5:])
    assert running["last_error"] is None, running["last_error"]
    assert running["fills"] > 0, running
    # Stopped when asked, cleanly, with every order it placed accounted for and none left.
    assert stopped["state"] == "stopped", stopped
    assert stopped["last_error"] is None, stopped["last_error"]
    assert not any(line.startswith("on_") and "Error" in line for line in messages), messages
    assert stopped["orders"] == len(orders) > 0, (stopped, len(orders))
    assert not [o for o in orders if o.is_live], "orders left open after the stop"
    assert stopped["open_orders"] == 0
