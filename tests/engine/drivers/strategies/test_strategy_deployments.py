"""Deployments on a stepped engine node: user files checked at add time, parameters checked at
deploy, stop and completion, logs, strategy orders on the manual path, and restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import FakeClock
from tests.engine.drivers.strategies.conftest import HEADER, QUOTER, add, make_node, run
from velocimex_cli.engine.node import EngineNode
from velocimex_cli.wire.errors import InvalidParameter, NotFound

SNOOP = (
    HEADER
    + """
import os

class Snoop(Strategy):
    id = "snoop"
    def on_start(self):
        self.ctx.log("vmx variables: " + ",".join(sorted(k for k in os.environ if "VMX" in k)))
"""
)

GREEDY = (
    HEADER
    + """
from velocimex_cli.wire.errors import InsufficientBalance

class Greedy(Strategy):
    id = "greedy"
    def on_start(self):
        try:
            self.ctx.buy(Decimal("1000"), Decimal("60000"))
        except InsufficientBalance as exc:
            self.ctx.log("refused: " + exc.message, "warning")
"""
)


@pytest.fixture
def node(tmp_path: Path, clock: FakeClock) -> Iterator[EngineNode]:
    node = make_node(tmp_path / "engine", clock)
    yield node
    node.close()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("class Broken(:\n", "syntax error at line 1"),
        ("x = 1\n", "defines no strategy"),
        (
            HEADER + "class A(Strategy):\n    id = 'a'\nclass B(Strategy):\n    id = 'b'\n",
            "defines 2 strategies (A, B)",
        ),
        (
            HEADER + "class F(Strategy):\n    id = 'f'\n    params = {'x': Param(float, 1.0)}\n",
            "money is a Decimal, never float",
        ),
        (HEADER + "class N(Strategy):\n    id = 'Bad Id'\n", "id must be"),
        ("raise SystemExit('no')\n", "line 1: SystemExit while loading"),
        ("while True:\n    pass\n", "took longer than"),
    ],
    ids=["syntax", "no-class", "two-classes", "float-param", "bad-id", "exits", "loops"],
)
def test_a_bad_user_file_is_a_clear_error_at_add_time(
    node: EngineNode, source: str, message: str
) -> None:
    assert node.deployments is not None
    if "longer" in message:
        node.deployments.limits.start_seconds = 1.5  # keeps the looping file's case short
    with pytest.raises(InvalidParameter) as caught:
        node.deployments.uploads.check_source(source, "mine.py")
    assert message in caught.value.message
    assert caught.value.message.startswith("mine.py")
    assert all(s["kind"] == "builtin" for s in node.deployments.registry.list("alice"))


def test_user_strategies_are_kept_in_the_data_dir(tmp_path: Path, clock: FakeClock) -> None:
    node = make_node(tmp_path / "engine", clock)
    described = add(node, QUOTER, "quoter.py")
    assert described["kind"] == "user"
    assert [p["name"] for p in described["params"]] == ["amount", "stop_after"]  # type: ignore[index]
    with pytest.raises(InvalidParameter, match="exists already"):
        add(node, QUOTER)
    node.close()
    again = make_node(tmp_path / "engine", clock)
    assert again.deployments is not None
    assert again.deployments.registry.get("alice", "quoter")["params"] == described["params"]
    again.deployments.remove_strategy("quoter", account="alice")
    with pytest.raises(NotFound):
        again.deployments.registry.get("alice", "quoter")
    again.close()
    assert not list((tmp_path / "engine" / "strategies").rglob("quoter.*"))


def test_deploy_checks_the_strategy_the_instrument_and_each_parameter(
    node: EngineNode,
) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, QUOTER)
    with pytest.raises(NotFound):
        asyncio.run(deployments.deploy("alice", "nope", "BINANCE", "BTC/USDT", {}))
    with pytest.raises(InvalidParameter):
        asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "DOGE/USDT", {}))
    with pytest.raises(InvalidParameter) as caught:
        asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {"amount": "5"}))
    assert caught.value.details["parameter"] == "amount" and "at most 1" in caught.value.message
    with pytest.raises(InvalidParameter) as unknown:
        asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {"amout": "0.01"}))
    assert "unknown parameter 'amout'" in unknown.value.message
    assert deployments.list("alice") == []
    deployments.limits.max_running = 1
    asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
    with pytest.raises(InvalidParameter, match="at most 1 deployments run at once"):
        asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "ETH/USDT", {}))
    with pytest.raises(InvalidParameter, match="reserved"):
        add(node, QUOTER.replace('id = "quoter"', 'id = "deployments"'))


def test_strategy_orders_take_the_manual_path_and_stop_cancels_them(
    node: EngineNode, clock: FakeClock
) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, QUOTER)
    status = asyncio.run(
        deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {"amount": "0.002"})
    )
    deployment_id = status["deployment_id"]
    assert status["state"] == "running" and status["params"] == {
        "amount": Decimal("0.002"),
        "stop_after": 0,
    }
    run(node, clock, 4)
    listed = node.exchange.list_orders("alice", status="open")
    assert len(listed) == 1 and listed[0]["client_order_id"] == f"{deployment_id}:1"
    book = node.exchange.order_book("BINANCE", "BTC/USDT", depth=1000)
    assert listed[0]["price"] in [level["price"] for level in book["bids"]]  # on the ladder
    assert deployments.get(deployment_id, "alice")["open_orders"] == 1
    with pytest.raises(NotFound):
        deployments.get(deployment_id, "bob")  # another account does not see it

    final = asyncio.run(deployments.stop(deployment_id, "alice"))
    assert final["state"] == "stopped" and final["stop_reason"] == "stopped by user"
    assert final["open_orders"] == 0 and final["orders"] == 1
    assert node.exchange.list_orders("alice", status="open") == []
    lines = deployments.logs(deployment_id, "alice")["logs"]
    messages = [line["message"] for line in lines]
    assert "started" in messages and "on_stop ran with 1 open" in messages  # before the cancel
    assert messages[-1] == "stopped: stopped by user"
    tail = deployments.logs(deployment_id, "alice", since=lines[-2]["sequence"])
    assert [line["message"] for line in tail["logs"]] == [messages[-1]]
    assert tail["next_since"] == lines[-1]["sequence"]


def test_a_strategy_that_calls_stop_completes(node: EngineNode, clock: FakeClock) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, QUOTER)
    status = asyncio.run(
        deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {"stop_after": 2})
    )
    run(node, clock, 6)
    final = deployments.get(status["deployment_id"])
    assert final["state"] == "completed" and final["stop_reason"] == "enough books"
    assert final["open_orders"] == 0


def test_a_refused_strategy_order_is_the_api_error_inside_the_strategy(
    node: EngineNode,
) -> None:
    deployments = node.deployments
    assert deployments is not None
    add(node, GREEDY)
    status = asyncio.run(deployments.deploy("alice", "greedy", "BINANCE", "BTC/USDT", {}))
    assert status["state"] == "running" and status["rejected_orders"] == 1
    messages = [line["message"] for line in deployments.logs(status["deployment_id"])["logs"]]
    assert any(m.startswith("refused: ") for m in messages)


def test_after_a_crash_a_running_deployment_comes_back_stopped_with_orders_canceled(
    tmp_path: Path, clock: FakeClock
) -> None:
    crashed = make_node(tmp_path / "engine", clock)
    assert crashed.deployments is not None
    add(crashed, QUOTER)
    status = asyncio.run(crashed.deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
    run(crashed, clock, 3)
    assert len(crashed.exchange.list_orders("alice", status="open")) == 1
    # No close() yet: the engine "dies" with the deployment running and its order resting (its
    # worker lives on, which the restarted engine must not depend on).

    restarted = make_node(tmp_path / "engine", clock)
    assert restarted.deployments is not None
    found = restarted.deployments.get(status["deployment_id"], "alice")
    assert found["state"] == "stopped" and "restarted" in found["stop_reason"]
    assert found["orders"] == 1 and found["open_orders"] == 0
    assert restarted.exchange.list_orders("alice", status="open") == []
    logs = restarted.deployments.logs(status["deployment_id"])["logs"]
    assert logs[0]["message"].startswith("deployed on") and "restarted" in logs[-1]["message"]
    # New deployments do not reuse its id.
    again = asyncio.run(restarted.deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
    assert again["deployment_id"] != status["deployment_id"]
    restarted.close()
    crashed.close()  # only to end its worker


def test_the_worker_sees_none_of_vmx_s_environment(
    node: EngineNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMX_API_SECRET", "do-not-leak")
    deployments = node.deployments
    assert deployments is not None
    add(node, SNOOP)
    status = asyncio.run(deployments.deploy("alice", "snoop", "BINANCE", "BTC/USDT", {}))
    messages = [line["message"] for line in deployments.logs(status["deployment_id"])["logs"]]
    assert "vmx variables: " in messages


def test_only_the_most_recent_ended_deployments_are_kept(
    node: EngineNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    from velocimex_cli.engine.drivers.strategies import deployment_records as module

    monkeypatch.setattr(module, "KEPT_FINISHED", 2)
    deployments = node.deployments
    assert deployments is not None
    add(node, QUOTER)
    ids = []
    for _ in range(3):
        status = asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
        asyncio.run(deployments.stop(status["deployment_id"]))
        ids.append(status["deployment_id"])
    assert [d["deployment_id"] for d in deployments.list("alice")] == ids[1:]
    with pytest.raises(NotFound):
        deployments.get(ids[0])
