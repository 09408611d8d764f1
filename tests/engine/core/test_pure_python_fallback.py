"""The pure-Python Order and OrderBook stay verified: they are the fallback wherever the C core
cannot be built, and VMX_PURE_PYTHON=1 selects them.

In a subprocess with VMX_PURE_PYTHON=1: the engine's model test (matching against the naive
reference), the order tests and the durability tests must pass; and the same seeded market run
through both implementations must end in the same state hash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FALLBACK_MODULES = (
    "tests/engine/core/test_matching_model.py",
    "tests/engine/core/test_orders.py",
    "tests/engine/core/test_durability.py",
)
# A seeded market through the public facade: simulator ticks plus random user orders/cancels.
MARKET_RUN = """
from tests.conftest import FakeClock
from tests.engine.core.trading import trade_a_while
from velocimex_cli.engine.core import book, orders
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange

clock = FakeClock()
exchange = Exchange(EngineConfig(seed=7), clock)
trade_a_while(exchange, clock, seed=7, steps=40)
print(type(orders.Order(1, "a", None, 0, orders.LIMIT, orders.GTC, False, 1, 1, None, 0)).__name__,
      type(book.OrderBook()).__name__, orders.NATIVE, book.NATIVE)
print(exchange.state_hash())
print(sum(len(exchange.list_fills(user, limit=1000)) for user in ("alice", "bob", "carol")))
"""


def _env(pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("VMX_PURE_PYTHON", None)
    if pure:
        env["VMX_PURE_PYTHON"] = "1"
        # The native run already does the model test's full 150 examples.
        env["VMX_MODEL_EXAMPLES"] = "60"
    return env


def _market(pure: bool) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", MARKET_RUN],
        cwd=ROOT,
        env=_env(pure),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.splitlines()


def test_engine_tests_pass_on_the_pure_python_fallback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FALLBACK_MODULES],
        cwd=ROOT,
        env=_env(pure=True),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]


def test_both_implementations_end_a_seeded_market_in_the_same_state() -> None:
    pure = _market(pure=True)
    assert pure[0] == "PyOrder PyOrderBook False False"
    default = _market(pure=False)
    assert default[0] in ("Order OrderBook True True", pure[0])
    assert default[1] == pure[1]
    assert int(pure[2]) > 0, "the market run traded nothing"
