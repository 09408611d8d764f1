"""Shell completion offers the engine's names: exchanges, symbols, order ids, strategy ids and
deployment ids, asked of the engine with a short timeout and cached per profile.

Every test drives the completion protocol the scripts use (`_VMX_COMPLETE=complete_bash` with
COMP_WORDS/COMP_CWORD) through the real `vmx` app, against the real engine app in-process
(the CLI harness) or, where sockets and processes matter, a real `vmx` subprocess.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer._completion_classes import completion_init

from tests.cli.conftest import Harness, complete, make_harness

completion_init()  # what `vmx` (app.run) does before it answers a completion request

SHORT_TTL = 0.5  # orders and deployments are cached this long in these tests


@pytest.fixture(autouse=True)
def _short_ttls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders and deployments cached for half a second, so a test can watch one expire."""
    from velocimex_cli.cli import completion_answers

    monkeypatch.setitem(completion_answers.TTL, "orders", SHORT_TTL)
    monkeypatch.setitem(completion_answers.TTL, "deployments", SHORT_TTL)


def gone(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the engine is gone", request=request)


GONE = httpx.MockTransport(gone)


def cache_files(vmx: Harness) -> list[Path]:
    folder = vmx.home / "cache" / "completion"
    return sorted(folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ each kind


def listed_markets(vmx: Harness) -> list[tuple[str, str]]:
    return [(m["exchange"], m["symbol"]) for m in vmx.json("markets", "list")["markets"]]


def test_exchanges_complete_from_the_engine(vmx: Harness) -> None:
    markets = listed_markets(vmx)
    exchanges = sorted({exchange for exchange, _ in markets})
    assert len(exchanges) > 2 and "BINANCE" in exchanges and "NASDAQ" in exchanges
    assert complete(vmx, "vmx book ") == exchanges
    assert complete(vmx, "vmx book BI") == ["BINANCE"]
    n_ones = [e for e in exchanges if e.startswith("N")]
    # The shell keeps only candidates that start with the text typed: offered as typed.
    assert complete(vmx, "vmx ticker n") == [e.lower() for e in n_ones]
    assert complete(vmx, "vmx ticker N") == n_ones
    assert complete(vmx, "vmx watch BIN") == ["BINANCE"]
    assert complete(vmx, "vmx markets list NA") == ["NASDAQ"]
    assert complete(vmx, "vmx markets status NA") == ["NASDAQ"]
    assert complete(vmx, "vmx order list --exchange BIN") == ["BINANCE"]
    assert complete(vmx, "vmx order cancel --all -e BIN") == ["BINANCE"]
    assert complete(vmx, "vmx order fills -e BIN") == ["BINANCE"]
    assert complete(vmx, "vmx backtest x.py -e BIN") == ["BINANCE"]
    assert complete(vmx, "vmx strategy deploy twap -e N") == n_ones


def test_symbols_complete_for_the_exchange_typed(vmx: Harness) -> None:
    markets = listed_markets(vmx)
    binance = sorted(symbol for exchange, symbol in markets if exchange == "BINANCE")
    nasdaq = sorted(symbol for exchange, symbol in markets if exchange == "NASDAQ")
    assert "BTC/USDT" in binance and "AAPL" in nasdaq
    assert complete(vmx, "vmx book BINANCE ") == binance
    assert complete(vmx, "vmx book binance E") == [s for s in binance if s.startswith("E")]
    assert complete(vmx, "vmx buy BINANCE BTC") == ["BTC/USDT"]
    assert complete(vmx, "vmx sell BINANCE BTC") == ["BTC/USDT"]
    assert complete(vmx, "vmx order place BINANCE btc-") == ["btc-usdt"]  # as typed
    assert complete(vmx, "vmx order place BINANCE BTC-") == ["BTC-USDT"]
    assert complete(vmx, "vmx ticker BINANCE BTC/USDT ") == binance
    assert complete(vmx, "vmx watch NASDAQ ") == nasdaq
    assert complete(vmx, "vmx strategy deploy twap -e BINANCE -s BT") == ["BTC/USDT"]
    assert complete(vmx, "vmx order list -e NASDAQ --symbol A") == [
        s for s in nasdaq if s.startswith("A")
    ]
    # No exchange typed: every exchange's symbols, once each.
    assert complete(vmx, "vmx order list --symbol ") == sorted({s for _, s in markets})


def test_instruments_complete_as_exchange_colon_symbol(vmx: Harness) -> None:
    markets = listed_markets(vmx)
    binance = sorted(symbol for exchange, symbol in markets if exchange == "BINANCE")
    assert complete(vmx, "vmx stream market BINANCE:BT") == ["BINANCE:BTC/USDT"]
    assert complete(vmx, "vmx stream market NY") == sorted(
        f"NYSE:{symbol}" for exchange, symbol in markets if exchange == "NYSE"
    )
    # Bash splits the word at ':' and replaces only the part after it.
    assert complete(vmx, "vmx stream market BINANCE : BT") == ["BTC/USDT"]
    assert complete(vmx, "vmx stream market BINANCE :") == [f":{s}" for s in binance]


def test_order_ids_complete_open_ones_for_cancel(vmx: Harness) -> None:
    resting = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--yes")
    taken = vmx.json("sell", "BINANCE", "BTC/USDT", "0.01", "--yes")
    assert taken["status"] == "filled"
    everything = complete(vmx, "vmx order show ")
    assert set(everything) == {resting["order_id"], taken["order_id"]}
    assert complete(vmx, "vmx order cancel ") == [resting["order_id"]]
    prefix = resting["order_id"][:-1]
    assert resting["order_id"] in complete(vmx, f"vmx order show {prefix}")
    assert complete(vmx, "vmx order show no-such-prefix") == []


USER_STRATEGY = '''
from velocimex_cli.strategy import Strategy


class Idle(Strategy):
    """Does nothing."""

    id = "idle-one"
    name = "Idle"
    description = "does nothing"
'''


@pytest.fixture
def author(tmp_path: Path) -> Iterator[Harness]:
    """The harness with a key that may add strategy files (the `strategies` permission)."""
    yield from make_harness(tmp_path, ("read", "trade", "strategies"))


def test_strategy_ids_complete_and_backtest_adds_python_files(
    author: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vmx = author
    (tmp_path / "idle.py").write_text(USER_STRATEGY)
    assert vmx.run("strategy", "add", str(tmp_path / "idle.py")).exit_code == 0
    listed = sorted(s["strategy_id"] for s in vmx.json("strategy", "list")["strategies"])
    assert "idle-one" in listed and "twap" in listed
    assert sorted(complete(vmx, "vmx strategy show ")) == listed
    assert complete(vmx, "vmx strategy deploy tw") == ["twap"]
    assert complete(vmx, "vmx strategy remove ") == ["idle-one"]  # built-ins cannot be
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "twap_tuned.py").write_text("")
    (tmp_path / "work" / "notes.txt").write_text("")
    (tmp_path / "work" / "more").mkdir()
    monkeypatch.chdir(tmp_path)
    assert complete(vmx, "vmx backtest work/") == ["work/more/", "work/twap_tuned.py"]
    monkeypatch.chdir(tmp_path / "work")
    assert complete(vmx, "vmx backtest tw") == ["twap", "twap_tuned.py"]


def test_deployment_ids_complete(vmx: Harness) -> None:
    one = vmx.json("strategy", "deploy", "market-maker", "-e", "BINANCE", "-s", "BTC/USDT")
    two = vmx.json("strategy", "deploy", "market-maker", "-e", "BINANCE", "-s", "ETH/USDT")
    both = sorted([one["deployment_id"], two["deployment_id"]])
    assert complete(vmx, "vmx strategy status ") == both
    assert complete(vmx, "vmx strategy logs ") == both
    assert complete(vmx, "vmx strategy stop ") == both
    vmx.json("strategy", "stop", two["deployment_id"])
    time.sleep(SHORT_TTL + 0.1)
    assert complete(vmx, "vmx strategy stop ") == [one["deployment_id"]]  # still running
    assert complete(vmx, "vmx strategy logs ") == both
    assert complete(vmx, f"vmx strategy logs {one['deployment_id']}") == [one["deployment_id"]]


# ------------------------------------------------------------------ the cache


def test_a_cached_answer_is_used_when_the_engine_is_gone(vmx: Harness) -> None:
    assert complete(vmx, "vmx book B") == ["BINANCE"]
    assert complete(vmx, "vmx book B", transport=GONE) == ["BINANCE"]
    assert complete(vmx, "vmx book BINANCE E", transport=GONE) == ["ETH/USDT"]
    # Nothing cached for strategies yet: nothing to offer without the engine.
    assert complete(vmx, "vmx strategy show ", transport=GONE) == []


def test_cache_files_are_private_and_hold_no_secret(vmx: Harness) -> None:
    complete(vmx, "vmx book ")
    complete(vmx, "vmx strategy show ")
    files = cache_files(vmx)
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert vmx.api_secret not in text and vmx.api_key not in text
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700


def test_an_expired_answer_is_asked_again(vmx: Harness) -> None:
    assert complete(vmx, "vmx order show ") == []
    order = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--yes")
    assert complete(vmx, "vmx order show ") == []  # still the cached answer
    time.sleep(SHORT_TTL + 0.1)
    assert complete(vmx, "vmx order show ") == [order["order_id"]]
    time.sleep(SHORT_TTL + 0.1)
    assert complete(vmx, "vmx order show ", transport=GONE) == []  # expired, engine gone


def test_two_profiles_never_share_answers(vmx: Harness) -> None:
    assert complete(vmx, "vmx book B") == ["BINANCE"]
    assert complete(vmx, "vmx --profile other book B", transport=GONE) == []
    assert complete(vmx, "vmx book B", transport=GONE, VMX_PROFILE="other") == []
    assert complete(vmx, "vmx book B", transport=GONE, VMX_API_URL="http://elsewhere") == []
    assert complete(vmx, "vmx book B", transport=GONE) == ["BINANCE"]


def test_a_damaged_cache_file_is_ignored(vmx: Harness) -> None:
    complete(vmx, "vmx book ")
    (path,) = cache_files(vmx)
    for damage in ("{not json", '{"version": 1, "fetched_at": "soon", "items": []}', "[]"):
        path.write_text(damage)
        assert complete(vmx, "vmx book B", transport=GONE) == []
        assert complete(vmx, "vmx book B") == ["BINANCE"]  # asked again, and re-cached
        assert complete(vmx, "vmx book B", transport=GONE) == ["BINANCE"]


# ------------------------------------------------ a slow engine (no engine at all: tests/e2e)


def vmx_complete(home: Path, line: str, **env: str) -> tuple[list[str], str, float]:
    """`vmx` in a subprocess answering a bash completion request: candidates, stderr, seconds."""
    words = line.split(" ")
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VMX_")},
        "VMX_HOME": str(home),
        "_VMX_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
        **env,
    }
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "velocimex_cli"], env=full, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line], out.stderr, elapsed


def test_a_silent_or_unreachable_engine_gives_nothing_within_the_timeout(tmp_path: Path) -> None:
    from velocimex_cli.cli.completion_answers import TIMEOUT

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = {"VMX_API_URL": f"http://127.0.0.1:{port}", "VMX_API_KEY": "k", "VMX_API_SECRET": "s"}
        _, _, baseline = vmx_complete(tmp_path, "vmx ord")  # start-up alone, no engine asked
        candidates, stderr, elapsed = vmx_complete(tmp_path, "vmx book ", **env)
        silent.settimeout(1.0)
        asked, _ = silent.accept()  # the completer did connect (and then gave up)
        asked.close()
    assert candidates == [] and stderr == ""
    assert elapsed < baseline + TIMEOUT + 2.0  # one request, abandoned at the timeout
    assert not (tmp_path / "cache" / "completion").exists()  # nothing cached from nothing
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env["VMX_API_URL"] = f"http://127.0.0.1:{port}"  # nothing listens there any more
    candidates, stderr, elapsed = vmx_complete(tmp_path, "vmx order cancel ", **env)
    assert candidates == [] and stderr == ""
    assert elapsed < baseline + TIMEOUT + 2.0


def test_zsh_and_fish_get_each_candidate_with_its_description(vmx: Harness) -> None:
    order = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--yes")
    count = sum(1 for m in vmx.json("markets", "list")["markets"] if m["exchange"] == "BINANCE")
    zsh = vmx.run(env={"_VMX_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "vmx book BI"})
    assert zsh.exit_code == 0 and f'("BINANCE":"{count} symbols")' in zsh.stdout
    fish = vmx.run(
        env={
            "_VMX_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_ARGS": "vmx order cancel ",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        }
    )
    assert fish.exit_code == 0
    assert fish.stdout.splitlines() == [
        f"{order['order_id']}\tbuy {order['quantity']} BTC/USDT open @ {order['price']}"
    ]
