"""No silent waits: rate limits are announced at once, an order's wait is bounded, a batch
paces itself from the X-RateLimit-* headers. Through the real `vmx` app and the real engine."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from tests.cli.conftest import Harness, make_harness
from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.cli.factory import Factory
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.engine.api.settings import utc_now
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt

LIMIT_ORDER = ("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--yes")


class Counting(httpx.BaseTransport):
    """The real engine app's transport, counting the statuses it answered."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.statuses.append(response.status_code)
        return response


def invoke(
    vmx: Harness,
    *args: str,
    tty: bool = False,
    sleeps: list[float] | None = None,
    transport: Any = None,
    input: str | None = None,
    **policy: Any,
) -> Result:
    """Run vmx with a retry policy that really waits as the server asks (sleep injected)."""
    io = IOStreams(stdout_tty=tty, stderr_tty=tty, stdin_tty=tty)
    retry = RetryPolicy(base_delay=0.0, rng=random.Random(7), **policy)
    sleep = sleeps.append if sleeps is not None else __import__("time").sleep
    factory = Factory(io, transport=transport or vmx.transport, retry=retry, sleep=sleep)
    return vmx.runner.invoke(vmx_app, list(args), env=vmx.env(), obj=factory, input=input)


def exhaust(vmx: Harness, count: int) -> None:
    for _ in range(count):
        assert vmx.run("markets", "status").exit_code == 0


def fill_window(vmx: Harness) -> None:
    """Spend requests until the API refuses one: the window is full right now."""
    codes = [vmx.run("markets", "status").exit_code for _ in range(5)]
    assert 4 in codes, codes


@pytest.fixture
def vmx_fast_window(tmp_path: Path) -> Iterator[Harness]:
    """Three requests per 2 s on a real clock, every venue open: a limit that frees soon."""
    yield from make_harness(
        tmp_path, rest_limit_per_minute=3, rest_window_seconds=2.0, clock=utc_now, always_open=True
    )


def test_a_rate_limited_read_says_so_at_once_and_how_long(vmx_limited: Harness) -> None:
    exhaust(vmx_limited, 3)
    sleeps: list[float] = []
    result = invoke(vmx_limited, "markets", "status", sleeps=sleeps, attempts=2)
    assert result.exit_code == 4
    assert sleeps == [60.0]  # waited what the server asked (Retry-After: 60)
    notices = [line for line in result.stderr.splitlines() if line.startswith("rate limited")]
    assert notices == ["rate limited: retrying in 60 s, Ctrl-C to stop"]
    assert result.stderr.index("rate limited") < result.stderr.index("error:")  # said first


def test_on_a_terminal_the_wait_counts_down(vmx_limited: Harness) -> None:
    exhaust(vmx_limited, 3)
    sleeps: list[float] = []
    result = invoke(vmx_limited, "markets", "status", tty=True, sleeps=sleeps, attempts=2)
    assert result.exit_code == 4
    frames = [f for f in result.stderr.split("\r\x1b[K") if f.startswith("rate limited: retry")]
    seconds = [int(frame.split("retrying in ")[1].split(" s")[0]) for frame in frames]
    assert seconds[0] >= 59 and seconds == sorted(seconds, reverse=True)
    assert seconds[-1] == 1 and len(seconds) == seconds[0]  # one frame a second, down to 1
    assert 59 <= sum(sleeps) <= 61 and max(sleeps) <= 1.0
    assert "rate limited: waited 6" in result.stderr  # the line left behind says what happened


def test_an_order_never_waits_past_its_bound_and_says_what_to_do(vmx_limited: Harness) -> None:
    exhaust(vmx_limited, 3)
    sleeps: list[float] = []
    result = invoke(vmx_limited, *LIMIT_ORDER, sleeps=sleeps)  # default bound: 5 s
    assert result.exit_code == 4
    assert sleeps == []  # the API asked for ~60 s: refused at once, not waited out
    assert "the order was not placed" in result.stderr and "--wait" in result.stderr
    assert "order_max_wait" in result.stderr
    as_json = invoke(vmx_limited, *LIMIT_ORDER, "--json", sleeps=sleeps)
    error = jsonfmt.loads(as_json.stderr)["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED" and error["details"]["max_wait"] == 5
    assert 55 <= error["details"]["retry_after"] <= 61


def test_the_bound_is_a_setting_and_a_flag(vmx_limited: Harness) -> None:
    vmx = vmx_limited  # its clock stands still: the API asks for 60 s every time
    exhaust(vmx, 3)
    assert vmx.run("config", "set", "order_max_wait", "0").exit_code == 0
    sleeps: list[float] = []
    refused = invoke(vmx, *LIMIT_ORDER, sleeps=sleeps)
    assert refused.exit_code == 4 and "longer than the 0 s an order may wait" in refused.stderr
    assert sleeps == []
    longer = invoke(vmx, *LIMIT_ORDER, "--max-wait", "100", sleeps=sleeps)
    assert longer.exit_code == 4 and "longer than the 100 s an order may wait" in longer.stderr
    assert sleeps == [60.0]  # the flag let it wait once; a second 60 s would pass 100 s
    assert "rate limited: retrying in 60 s, Ctrl-C to stop" in longer.stderr
    bad = invoke(vmx, *LIMIT_ORDER, "--max-wait", "1_0")
    assert bad.exit_code == 2 and "--max-wait must be a number of seconds" in bad.stderr
    both = invoke(vmx, *LIMIT_ORDER, "--max-wait", "3", "--wait")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_wait_waits_as_long_as_the_api_asks_and_says_so(vmx_fast_window: Harness) -> None:
    vmx = vmx_fast_window
    assert vmx.run("config", "set", "order_max_wait", "0").exit_code == 0
    fill_window(vmx)
    result = invoke(vmx, *LIMIT_ORDER, "--wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert "rate limited: retrying in " in result.stderr
    assert jsonfmt.loads(result.stdout)["status"] == "open"


def test_a_batch_paces_itself_and_places_every_line(vmx_fast_window: Harness) -> None:
    vmx = vmx_fast_window
    lines = [
        jsonfmt.dumps({"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy",
                       "type": "limit", "quantity": "0.01", "price": str(1000 + i)})
        for i in range(5)
    ]  # fmt: skip
    counting = Counting(vmx.transport)
    result = invoke(
        vmx, "order", "place", "--file", "-", "--yes", "-o", "ndjson",
        transport=counting, input="\n".join(lines) + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = [jsonfmt.loads(line) for line in result.stdout.splitlines()]
    assert [row["line"] for row in rows] == list(range(1, 6))
    assert all("order" in row for row in rows)
    assert counting.statuses.count(201) == 5 and 429 not in counting.statuses
    assert "rate limit of 3 requests reached: next request in " in result.stderr
    assert result.stderr.strip().endswith("5 placed, 0 failed")
