"""Every exit code 0..9, each produced by a real situation (the 5xx one by a remote stand-in)."""

from __future__ import annotations

import httpx

from tests.cli.conftest import Harness
from velocimex_cli.wire import jsonfmt


def test_0_ok(vmx: Harness) -> None:
    assert vmx.run("markets", "status").exit_code == 0


def test_1_declined_confirmation(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "1", "--price", "20000", tty=True, input="n\n")
    assert result.exit_code == 1


def test_2_usage_and_invalid_parameter_from_the_server(vmx: Harness) -> None:
    assert vmx.run("order", "list", "--limit", "0").exit_code == 2  # usage
    # Off-tick price: only the server knows the tick, and it answers INVALID_PARAMETER.
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000.001", "--json")
    assert result.exit_code == 2
    assert jsonfmt.loads(result.stderr)["error"]["details"]["parameter"] == "price"


def test_3_bad_secret_permission_and_missing_credentials(vmx: Harness) -> None:
    bad = vmx.run("account", "balance", "--json", env={"VMX_API_SECRET": "wrong"})
    assert bad.exit_code == 3
    assert jsonfmt.loads(bad.stderr)["error"]["code"] == "AUTHENTICATION_ERROR"
    assert "wrong" not in bad.stderr + bad.stdout
    reader = vmx.client.app.state.runtime.keys.create("alice", "ro", ("read",))
    denied = vmx.run(
        "buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000",
        env={"VMX_API_KEY": reader.api_key, "VMX_API_SECRET": reader.api_secret},
    )  # fmt: skip
    assert denied.exit_code == 3 and "PERMISSION_DENIED" in denied.stderr
    missing = vmx.run(
        "--profile", "prod", "order", "list",
        env={"VMX_API_KEY": None, "VMX_API_SECRET": None},
    )  # fmt: skip
    assert missing.exit_code == 3 and "vmx auth login --profile prod" in missing.stderr


def test_4_rate_limited_after_retries(vmx_limited: Harness) -> None:
    codes = [vmx_limited.run("markets", "status").exit_code for _ in range(5)]
    assert codes[:3] == [0, 0, 0] and codes[-1] == 4
    last = vmx_limited.run("markets", "status", "--json")
    assert jsonfmt.loads(last.stderr)["error"]["code"] == "RATE_LIMIT_EXCEEDED"


def test_5_insufficient_balance(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "100", "--price", "60000", "--yes")
    assert result.exit_code == 5 and "INSUFFICIENT_BALANCE" in result.stderr


def test_6_market_closed(vmx_sunday: Harness) -> None:
    result = vmx_sunday.run("buy", "NASDAQ", "AAPL", "1", "--price", "150", "--json")
    assert result.exit_code == 6
    error = jsonfmt.loads(result.stderr)["error"]
    assert error["code"] == "MARKET_CLOSED" and "next_open" in error["details"]
    human = vmx_sunday.run("buy", "NASDAQ", "AAPL", "1", "--price", "150")
    assert "the market opens at" in human.stderr


def test_7_not_found(vmx: Harness) -> None:
    assert vmx.run("order", "show", "424242").exit_code == 7
    canceled = vmx.run("order", "cancel", "424242")
    assert canceled.exit_code == 7
    assert canceled.stderr.count("No order '424242'") == 1  # reported once, not twice
    both = vmx.run("order", "cancel", "424242", "434343")
    assert both.exit_code == 7
    assert both.stderr.count("No order") == 2


def test_8_internal_error_from_a_remote_server(vmx: Harness) -> None:
    def remote(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "INTERNAL_ERROR", "message": "boom", "details": {}}}
        return httpx.Response(500, json=body)

    result = vmx.run("markets", "status", "--json", transport=httpx.MockTransport(remote))
    assert result.exit_code == 8
    assert jsonfmt.loads(result.stderr)["error"]["code"] == "INTERNAL_ERROR"

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    assert vmx.run("order", "list", transport=httpx.MockTransport(gateway)).exit_code == 8


def test_9_unreachable(vmx: Harness) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = vmx.run("order", "list", "--json", transport=httpx.MockTransport(refused))
    assert result.exit_code == 9
    error = jsonfmt.loads(result.stderr)["error"]
    assert error["code"] == "UNREACHABLE" and error["details"]["url"] == "http://testserver"
    human = vmx.run("order", "list", transport=httpx.MockTransport(refused))
    assert "cannot reach the API at http://testserver" in human.stderr
