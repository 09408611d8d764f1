"""`vmx watch`, `ticker --watch`, `book --watch`: bad input is refused before anything is drawn."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Harness


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("watch", "BINANCE", "DOGE/USDT"),
            7,  # NOT_FOUND: the README's exit code for an unknown instrument on a live board
            "BINANCE has no symbol 'DOGE/USDT'; it lists BTC/USDT, ETH/USDT, SOL/USDT",
        ),
        (
            ("ticker", "--watch", "BINANCE:XRP/USDT"),
            7,
            "XRP/USDT",
        ),
        (
            ("ticker", "--watch", "BINANCE", "XRP/USDT"),
            7,
            "XRP/USDT",
        ),
        (
            ("watch", "BINANCE", "BTC/USDT", "--fps", "0"),
            2,
            "--fps must be more than 0 and at most 60",
        ),
        (
            ("watch", "BINANCE", "BTC/USDT", "--fps", "500"),
            2,
            "--fps must be more than 0 and at most 60",
        ),
        (
            ("watch", "BINANCE", "BTC/USDT", "--verify", "sometimes"),
            2,
            "--verify must be every, frame or off",
        ),
        (
            ("watch", "BINANCE", "BTC/USDT", "--group", "0"),
            2,
            "--group must be a whole number of ticks",
        ),
        (
            ("watch", "BINANCE", "BTC/USDT", "--duration", "-1"),
            2,
            "--duration must be a positive number",
        ),
        (("watch", "BINANCE", "BTC/USDT", "--count", "0"), 2, "--count must be at least 1"),
        (("book", "BINANCE", "BTC/USDT", "--watch", "--fps", "-2"), 2, "--fps must be more than 0"),
        (
            ("book", "BINANCE", "BTC/USDT", "--watch", "--verify", "sometimes"),
            2,
            "--verify must be every, frame or off",
        ),
        (
            ("book", "BINANCE", "BTC/USDT", "--watch", "--group", "0"),
            2,
            "--group must be a whole number of ticks",
        ),
        (("book", "BINANCE", "BTC/USDT", "--chart"), 2, "go with --watch"),
        (
            ("ticker", "--watch", "BINANCE", "KRAKEN:BTC/USD"),
            2,
            "write every instrument as EXCHANGE:SYMBOL",
        ),
        (("ticker", "--watch", "BINANCE:"), 2, "is not an instrument; write EXCHANGE:SYMBOL"),
        (("ticker", "--watch", "--fps", "0"), 2, "--fps must be more than 0"),
        (("ticker",), 2, "give an exchange and one or more symbols"),
        (("watch", "BINANCE", "BTC/USDT", "-o", "csv"), 2, "a live view prints a screen or NDJSON"),
        (("watch", "BINANCE", "BTC/USDT", "-o", "table"), 2, "-o table needs a terminal"),
        (("ticker", "--watch", "-o", "table"), 2, "-o table needs a terminal"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    vmx: Harness, args: tuple[str, ...], code: int, message: str
) -> None:
    result = vmx.run(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""


def test_an_unknown_exchange_is_named(vmx: Harness) -> None:
    result = vmx.run("watch", "NOPE", "BTC/USDT")
    assert result.exit_code == 7
    assert "NOPE" in result.stderr and result.stdout == ""


def test_the_snapshot_commands_still_work_beside_their_watch_options(vmx: Harness) -> None:
    book = vmx.json("book", "BINANCE", "BTC/USDT", "--depth", "2")
    assert len(book["bids"]) == 2
    ticker = vmx.json("ticker", "BINANCE", "BTC/USDT")
    assert ticker["symbol"] == "BTC/USDT"


def test_with_json_a_refusal_is_the_error_json(vmx: Harness) -> None:
    from velocimex_cli.wire import jsonfmt

    result = vmx.run("watch", "BINANCE", "DOGE/USDT", "--json")
    assert result.exit_code == 7
    error = jsonfmt.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "NOT_FOUND" and "DOGE/USDT" in error["message"]
    assert error["details"] == {"parameter": "symbol", "value": "DOGE/USDT"}
