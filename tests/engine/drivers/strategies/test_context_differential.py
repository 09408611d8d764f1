"""A strategy sees the same context live as in a backtest.

The probe (context_probe.py) calls every operation of the context's declaration
(operations.OPERATIONS), with good arguments and with each mistake and refusal a context
operation answers (InvalidParameter, OrderNotOpen, NotFound, InsufficientBalance,
RiskLimitExceeded, MarketClosed, TypeError for a call Python itself would refuse), and logs
each result or error (class, code, message, details), each value with its type, and every
on_order/on_fill it gets. It runs twice on two identical engines (same seed, same injected
clock, same steps): live, deployed on a real node in its real worker process, and in-process
in the backtest's host. The two logs must be the same, line by line, and so must the
deployments' ends.

The backtest's delayed order entry: a backtest holds an order until the replay's next event
(backtest/host.py); its BacktestHost is this StrategyHost with `place` deferred, so the
in-process run here is the backtest's host with no latency, the only setting in which a live
answer (an order acknowledged at once) has a backtest twin. test_the_backtest_latency_*
checks that with latency the strategy still sees the same events in the same order once the
order arrives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.engine.drivers.strategies.conftest import add
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.engine.drivers.strategies.operations import OPERATIONS
from velocimex_cli.engine.drivers.strategies.registry import load_source
from velocimex_cli.engine.node import EngineNode, NodeSettings, StrategyLimits

PROBE = (Path(__file__).parent / "context_probe.py").read_text()
# A Saturday: crypto trades, NASDAQ is closed (MarketClosed is one of the answers).
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
STEPS = 8
ENGINE_RECORDS = ("deployed on ", "completed: ", "stopped: ")


def make_node(clock: FakeClock) -> EngineNode:
    limits = StrategyLimits(callback_seconds=5.0, start_seconds=20.0, memory_bytes=256 * 2**20)
    node = EngineNode(NodeSettings(simulate=False, seed=11, strategies=limits), clock)
    node.start()
    node.exchange.ensure_account("alice")
    return node


def lines(logs: Any) -> list[Any]:
    """Each log line: the probe's records decoded, the strategy's own lines as they are."""
    found: list[Any] = []
    for line in logs:
        if line["message"].startswith(ENGINE_RECORDS):
            continue  # the node's own record of the deployment, not what the strategy saw
        try:
            found.append(json.loads(line["message"]))
        except ValueError:
            found.append(["log", line["level"], line["message"]])
    return found


@pytest.fixture
def live() -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """The probe deployed on a node, in its worker: its log and its final status."""
    clock = FakeClock(SATURDAY)
    node = make_node(clock)
    try:
        deployments = node.deployments
        assert deployments is not None
        add(node, PROBE, "context_probe.py")
        status = asyncio.run(
            deployments.deploy("alice", "context-probe", "BINANCE", "BTC/USDT", {})
        )
        assert status["state"] == "running", status
        for _ in range(STEPS):
            clock.advance(seconds=1)
            node.step()
        deployment_id = status["deployment_id"]
        yield lines(deployments.logs(deployment_id)["logs"]), deployments.get(deployment_id)
    finally:
        node.close()


def run_in_process(deployment_id: str) -> tuple[list[Any], dict[str, Any]]:
    """The same probe in the backtest's host, on an identical engine."""
    clock = FakeClock(SATURDAY)
    node = make_node(clock)
    try:
        host = StrategyHost(
            node.exchange,
            load_source(PROBE, "context_probe.py"),
            deployment_id=deployment_id,
            account="alice",
            exchange_name="BINANCE",
            symbol="BTC/USDT",
        )
        host.start()
        for _ in range(STEPS):
            clock.advance(seconds=1)
            node.step()
            host.step()
        return lines(host.logs), host.status()
    finally:
        node.close()


def test_every_operation_and_error_is_the_same_live_and_in_a_backtest(
    live: tuple[list[Any], dict[str, Any]],
) -> None:
    live_lines, live_status = live
    local_lines, local_status = run_in_process(live_status["deployment_id"])
    # Every declared operation was exercised (a new one cannot be left out of the probe).
    records = [line for line in live_lines if len(line) == 4]
    called = {line[1] for line in records}
    assert {op.name for op in OPERATIONS} <= called, {op.name for op in OPERATIONS} - called
    raised = {line[3][1] for line in records if line[3][0] == "raised"}
    assert raised >= {
        "InvalidParameter", "OrderNotOpen", "NotFound", "InsufficientBalance",
        "RiskLimitExceeded", "MarketClosed", "TypeError",
    }, raised  # fmt: skip
    hooks = [line[0] for line in records]
    assert "on_order" in hooks and "on_fill" in hooks
    differ = [
        (index, seen_live, seen_local)
        for index, (seen_live, seen_local) in enumerate(zip(live_lines, local_lines, strict=False))
        if seen_live != seen_local
    ]
    assert not differ, "\n".join(f"{i}: live  {a}\n{i}: local {b}" for i, a, b in differ)
    assert len(live_lines) == len(local_lines), (live_lines[-1], local_lines[-1])
    ended = ("state", "stop_reason", "last_error", "orders", "fills", "open_orders")
    assert {k: live_status[k] for k in ended} == {k: local_status[k] for k in ended}
    assert live_status["state"] == "completed" and live_status["stop_reason"] == "probe done"


def test_each_declared_operation_is_a_documented_context_method() -> None:
    """The declaration and StrategyContext (what strategy authors read) name the same
    operations with the same parameters."""
    import inspect

    from velocimex_cli.engine.drivers.strategies.context import StrategyContext

    for op in OPERATIONS:
        documented = getattr(StrategyContext, op.name)
        if op.attribute:
            assert isinstance(documented, property), op.name
            continue
        expected = inspect.signature(documented)
        declared = op.signature
        assert [(p.name, p.kind, p.default) for p in declared.parameters.values()] == [
            (p.name, p.kind, p.default) for p in expected.parameters.values()
        ], op.name


KEEPS_ITS_IDS = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy
from velocimex_cli.wire.errors import ApiError


class KeepsItsIds(Strategy):
    id = "keeps-its-ids"

    def on_start(self):
        self.beat = 0
        self.kept = self.ctx.buy(Decimal("0.001"), self.ctx.best_bid() - 50)
        self.ctx.buy(Decimal("0.002"))  # fills at once, when it arrives

    def seen(self, what, order):
        self.ctx.log(f"{what} {order.side} {order.type} {order.quantity} {order.status}"
                     f" {getattr(order, 'event', '')}")

    def on_order(self, order):
        self.seen("on_order", order)

    def on_fill(self, fill):
        self.ctx.log(f"on_fill {fill.side} {fill.quantity} {fill.liquidity}")

    def on_timer(self, name):
        pass

    def on_trade(self, trade):
        self.beat += 1
        if self.beat in (3, 4):  # the id place_order gave, once the order has arrived
            try:
                self.seen("canceled", self.ctx.cancel(self.kept.order_id))
            except ApiError as exc:
                self.ctx.log(f"cancel: {type(exc).__name__} {exc.message.split()[-3:]}")
"""


def test_with_order_latency_a_backtest_shows_the_live_events_in_the_live_order() -> None:
    """The backtest's host holds orders for its latency; once they arrive the strategy sees
    what it sees live, in the same order, and the id place_order gave still cancels."""
    from velocimex_cli.engine.backtest.host import BacktestHost
    from velocimex_cli.wire.timefmt import to_micros

    clock = FakeClock(SATURDAY)
    node = make_node(clock)
    try:
        deployments = node.deployments
        assert deployments is not None
        add(node, KEEPS_ITS_IDS)
        status = asyncio.run(
            deployments.deploy("alice", "keeps-its-ids", "BINANCE", "BTC/USDT", {})
        )
        for _ in range(STEPS):
            clock.advance(seconds=1)
            node.step()
        live_seen = [
            line["message"]
            for line in deployments.logs(status["deployment_id"])["logs"]
            if not line["message"].startswith(ENGINE_RECORDS)
        ]
    finally:
        node.close()
    clock = FakeClock(SATURDAY)
    node = make_node(clock)
    try:
        host = BacktestHost(
            node.exchange,
            load_source(KEEPS_ITS_IDS),
            latency_micros=200_000,
            deployment_id=status["deployment_id"],
            account="alice",
            exchange_name="BINANCE",
            symbol="BTC/USDT",
        )
        host.start()
        for index in range(STEPS):
            clock.advance(seconds=1)
            node.step()
            host.send_due(to_micros(clock()), index + 1)
            host.step()
        backtest_seen = [line["message"] for line in host.logs]
    finally:
        node.close()
    assert any(line.startswith("on_fill") for line in live_seen), live_seen
    assert any(line.startswith("canceled") for line in live_seen), live_seen
    assert backtest_seen == live_seen


def test_the_engine_side_of_the_context_does_not_import_the_host() -> None:
    """host.py builds the context; engine_context.py knows the host only as a Protocol (the
    two no longer import each other, not even for types)."""
    import ast

    from velocimex_cli.engine.drivers.strategies import engine_context

    tree = ast.parse(Path(engine_context.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "velocimex_cli.engine.drivers.strategies.host" not in imported
    assert "velocimex_cli.engine.drivers.strategies.operations" in imported
