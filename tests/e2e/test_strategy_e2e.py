"""A user strategy file end to end through real `vmx` processes and a real background engine:
add, deploy, status, logs, stop; and what an engine restart does to a running deployment."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import VMX, vmx

pytestmark = pytest.mark.e2e

STRATEGY = '''
from decimal import Decimal
from velocimex_cli.strategy import Param, Strategy


class JoinTheBid(Strategy):
    """Keeps one small buy order resting at the best bid."""

    id = "join-bid"
    name = "Join the bid"
    description = "keeps one buy resting at the best bid"
    params = {"amount": Param(Decimal, Decimal("0.001"), min=Decimal("0.001"))}

    def on_start(self):
        self.ctx.log("joining the bid with " + str(self.config.amount))

    def on_book(self, book):
        if not self.ctx.open_orders() and book.bid is not None:
            order = self.ctx.buy(self.config.amount, book.bid)
            self.ctx.log("placed " + order.order_id + " at " + str(book.bid))
'''


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("vmx-strategy-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.pop("FORCE_COLOR", None)
    env["VMX_HOME"] = str(root / "home")
    (root / "join_bid.py").write_text(STRATEGY)
    (root / "broken.py").write_text("class Nope(:\n    pass\n")
    env["TEST_ROOT"] = str(root)
    yield env
    subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)


def until(check: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_user_strategy_file_from_add_to_stop(home: dict[str, str]) -> None:
    root = Path(home["TEST_ROOT"])
    broken = vmx(home, "strategy", "add", str(root / "broken.py"))
    assert broken.returncode == 2 and "syntax error at line 1" in broken.stderr

    added = vmx(home, "strategy", "add", str(root / "join_bid.py"), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["strategy_id"] == "join-bid"
    listed = json.loads(vmx(home, "strategy", "list", "--json").stdout)["strategies"]
    assert "join-bid" in [s["strategy_id"] for s in listed]
    shown = vmx(home, "strategy", "show", "join-bid")
    assert shown.returncode == 0 and "amount" in shown.stdout and "0.001" in shown.stdout

    bad = vmx(home, "strategy", "deploy", "join-bid", "-e", "BINANCE", "-s", "BTC/USDT",
              "-p", "amount=0.0001", "--json")  # fmt: skip
    assert bad.returncode == 2
    assert json.loads(bad.stderr)["error"]["details"]["parameter"] == "amount"

    deployed = vmx(home, "strategy", "deploy", "join-bid", "-e", "BINANCE", "-s", "BTC/USDT",
                   "-p", "amount=0.002", "--json")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    deployment = json.loads(deployed.stdout)
    deployment_id = deployment["deployment_id"]
    assert deployment["state"] == "running" and deployment["params"] == {"amount": 0.002}

    def quoting() -> bool:
        status = json.loads(vmx(home, "strategy", "status", deployment_id, "--json").stdout)
        return status["orders"] >= 1

    until(quoting)  # the simulator moves the book; the strategy joins the bid
    orders = json.loads(vmx(home, "order", "list", "--json").stdout)["orders"]
    mine = [o for o in orders if (o["client_order_id"] or "").startswith(deployment_id + ":")]
    assert mine and mine[0]["quantity"] == 0.002  # on the account's order list, tagged
    table = vmx(home, "strategy", "status")
    assert table.returncode == 0 and deployment_id in table.stdout and "running" in table.stdout
    logs = vmx(home, "strategy", "logs", deployment_id)
    assert "joining the bid with 0.002" in logs.stdout and "placed " in logs.stdout

    stopped = vmx(home, "strategy", "stop", deployment_id, "--json")
    assert stopped.returncode == 0, stopped.stderr
    final = json.loads(stopped.stdout)
    assert final["state"] == "stopped" and final["open_orders"] == 0
    open_now = json.loads(vmx(home, "order", "list", "--json").stdout)["orders"]
    assert not [o for o in open_now if (o["client_order_id"] or "").startswith(deployment_id)]
    followed = vmx(home, "strategy", "logs", deployment_id, "-f")  # ends: the deployment did
    assert followed.returncode == 0 and "stopped: stopped by user" in followed.stdout

    removed = vmx(home, "strategy", "remove", "join-bid")
    assert removed.returncode == 0, removed.stderr
    gone = vmx(home, "strategy", "show", "join-bid")
    assert gone.returncode == 7


def test_a_running_deployment_comes_back_stopped_after_a_restart(home: dict[str, str]) -> None:
    root = Path(home["TEST_ROOT"])
    assert vmx(home, "strategy", "add", str(root / "join_bid.py")).returncode == 0
    deployed = vmx(home, "strategy", "deploy", "join-bid", "-e", "BINANCE", "-s", "BTC/USDT",
                   "--json")  # fmt: skip
    deployment_id = json.loads(deployed.stdout)["deployment_id"]

    def quoting() -> bool:
        status = json.loads(vmx(home, "strategy", "status", deployment_id, "--json").stdout)
        return status["open_orders"] >= 1

    until(quoting)
    assert vmx(home, "engine", "stop").returncode == 0
    after = vmx(home, "strategy", "status", deployment_id, "--json")  # starts the engine again
    assert after.returncode == 0, after.stderr
    status = json.loads(after.stdout)
    assert status["state"] == "stopped" and status["open_orders"] == 0
    assert status["orders"] >= 1  # its history is kept
    open_now = json.loads(vmx(home, "order", "list", "--json").stdout)["orders"]
    assert not [o for o in open_now if (o["client_order_id"] or "").startswith(deployment_id)]
