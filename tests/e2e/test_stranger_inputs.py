"""What a stranger types, as real `vmx` subprocesses: URLs that name no API server, a VMX_HOME
that cannot be used, and order files that are not what they should be. Each gets a clear
message, exit 2 and nothing sent (none of these needs an engine: they fail before any request).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.processes import VMX

pytestmark = pytest.mark.e2e


def run(
    home: Path, *args: str, input: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    # A closed loopback port: these commands must fail before any request (and never start
    # an embedded engine); VMX_API_URL="" selects the embedded engine where a test needs it.
    environ["VMX_HOME"] = str(home)
    environ |= {"VMX_API_URL": "http://127.0.0.1:9", "VMX_API_KEY": "k", "VMX_API_SECRET": "s"}
    environ |= env
    result = subprocess.run(
        [*VMX, *args], env=environ, capture_output=True, input=input, timeout=60
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("notaurl", "does not start with http:// or https://"),
        ("ftp://127.0.0.1", "does not start with http:// or https://"),
        ("http://127.0.0.1:99999", "out of range"),
        ("http://", "names no host"),
        ("http://127.0.0.1:7878/ x", "spaces"),
    ],
)
def test_an_api_url_that_names_no_http_server_is_a_usage_error(
    tmp_path: Path, url: str, problem: str
) -> None:
    result = run(tmp_path, "account", "balance", VMX_API_URL=url)
    assert result.returncode == 2, result.stderr
    assert f"VMX_API_URL {url!r} is not an API URL" in result.stderr
    assert problem in result.stderr
    assert "cannot reach" not in result.stderr and "vmx engine start" not in result.stderr

    flagged = run(tmp_path, "--api-url", url, "order", "list", "--json")
    assert flagged.returncode == 2
    error = json.loads(flagged.stderr)["error"]
    assert error["code"] == "CONFIG_ERROR" and error["message"].startswith("--api-url")


def test_auth_login_refuses_a_bad_api_url_and_saves_nothing(tmp_path: Path) -> None:
    result = run(
        tmp_path, "auth", "login", "--profile", "p", "--api-url", "ftp://x", "--api-key", "k",
        "--api-secret-stdin", input=b"secret\n",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--api-url 'ftp://x' is not an API URL" in result.stderr
    assert not (tmp_path / "config" / "credentials" / "credentials.toml").exists()


def test_a_vmx_home_that_cannot_be_made_names_the_path_and_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for home, args in [
        (blocker / "home", ("order", "list")),  # the embedded engine's state directory
        (blocker / "home", ("config", "set", "output", "json")),
        (blocker, ("engine", "start")),
    ]:
        environ = {"VMX_API_URL": "", "VMX_API_KEY": "", "VMX_API_SECRET": ""}
        result = run(home, *args, **environ)
        assert result.returncode == 2, (args, result.stderr)
        assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
        assert str(blocker) in result.stderr
    as_json = run(
        blocker / "home",
        "order",
        "list",
        "--json",
        VMX_API_URL="",
        VMX_API_KEY="",
        VMX_API_SECRET="",
    )
    assert as_json.returncode == 2
    assert json.loads(as_json.stderr.splitlines()[-1])["error"]["code"] in (
        "FILE_ERROR",
        "CONFIG_ERROR",
    )


GOOD = {"exchange": "BINANCE", "symbol": "ETH/USDT", "side": "buy", "type": "limit"}
GOOD_LINE = json.dumps({**GOOD, "quantity": "0.1", "price": "2800"})


def test_an_order_file_that_is_not_utf8_text_is_refused_whole(tmp_path: Path) -> None:
    orders = tmp_path / "orders.ndjson"
    orders.write_bytes(GOOD_LINE.encode() + b"\n\xff\xfe{}\n")
    result = run(tmp_path, "order", "place", "--file", str(orders), "--yes")
    assert result.returncode == 2
    assert "is not UTF-8 text (byte 0xff at offset" in result.stderr
    assert "nothing was sent" in result.stderr and "unexpected" not in result.stderr


@pytest.mark.parametrize(
    ("line", "parameter", "message"),
    [
        (GOOD_LINE[:-1] + ', "exchange": "NYSE"}', "exchange", "appears twice"),
        (GOOD_LINE[:-1] + ', "price": "1"}', "price", "appears twice"),
        ("[" * 5000 + "]" * 5000, "line", "nested too deeply"),
        ("[" * 100_000, "line", "at most 65536"),
    ],
)
def test_an_ambiguous_or_hostile_order_line_fails_alone(
    tmp_path: Path, line: str, parameter: str, message: str
) -> None:
    # The bad line fails with its own error; the process survives to report every line.
    bad_json = json.dumps({**GOOD, "quantity": "0", "price": "1"})
    result = run(
        tmp_path, "order", "place", "--file", "-", "--yes", "--json",
        input=f"{line}\n{bad_json}\n".encode(),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    first, second = (json.loads(text) for text in result.stdout.splitlines())
    assert first["line"] == 1 and first["error"]["code"] == "INVALID_PARAMETER"
    assert first["error"]["details"]["parameter"] == parameter
    assert message in first["error"]["message"]
    assert second["line"] == 2 and second["error"]["details"]["parameter"] == "quantity"
    assert "0 placed, 2 failed" in result.stderr


@pytest.mark.parametrize("text", ["1_0", "١", "１", "nan", "inf", "1e999"])
def test_seconds_and_speeds_are_plain_ascii_numbers(tmp_path: Path, text: str) -> None:
    # float() takes "1_0" and other scripts' digits: a typo must not become a duration.
    for args in (
        ("engine", "stop", "--timeout", text),
        ("stream", "market", "--duration", text, "--count", "1"),
        ("replay", str(tmp_path / "absent.ndjson"), "--speed", text),
    ):
        result = run(tmp_path, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert repr(text) in result.stderr and "number" in result.stderr, result.stderr
        assert "Engine stopped" not in result.stderr and not result.stdout


def test_a_backtest_on_a_binary_file_says_it_is_not_a_recording(tmp_path: Path) -> None:
    data = tmp_path / "market.ndjson"
    data.write_bytes(b"\xff\xfe\x00binary\n")
    result = run(tmp_path, "backtest", "sma-cross", "--data", str(data), "--json")
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stderr.splitlines()[-1])["error"]
    assert error["code"] == "INVALID_PARAMETER" and error["details"]["parameter"] == "data"
    assert "not UTF-8 text" in error["message"] and str(data) in error["message"]


def test_a_relative_vmx_home_is_named_as_an_absolute_path(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    environ["VMX_HOME"] = "relative-home"
    result = subprocess.run(
        [*VMX, "config", "path"], env=environ, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "relative-home" / "config" / "config.toml")
