"""Hostile recordings and data files, as real `vmx replay` and `vmx backtest --data`
subprocesses, with the C core and the pure-Python one (VMX_PURE_PYTHON=1): lines past 1 MiB
(read in bounded memory, under an address-space limit), numbers out of range, times far in the
future or going backwards, bytes that are not UTF-8, and a market larger than the backtest's
counterparty. Each is exit 2 and a message naming the file, the line (and column or field)."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import VMX
from velocimex_cli.wire.errors import ExitCode

pytestmark = pytest.mark.e2e

CORES = [pytest.param(False, id="c-core"), pytest.param(True, id="pure-python")]
MAX_LINE_BYTES = 1 << 20  # the documented bound (docs/backtests.md, "Hostile files")
MEMORY_LIMIT = 400 << 20  # bytes of address space: far below the files these tests read

HEADER = (
    '{"format": "vmx-recording", "version": 1, "started_at": "2026-01-01T00:00:00.000000Z", '
    '"stream": "market", "instruments": ["BINANCE:BTC/USDT"]}'
)


def snapshot(
    bid: str = "99.00", bid_size: str = "1", ask: str = "100.00", ask_size: str = "1"
) -> str:
    return (
        '{"type": "book_snapshot", "exchange": "BINANCE", "symbol": "BTC/USDT", '
        f'"bids": [{{"price": {bid}, "quantity": {bid_size}}}], '
        f'"asks": [{{"price": {ask}, "quantity": {ask_size}}}]}}'
    )


def trade(price: str = "100.00", quantity: str = "0.1", side: str = "buy") -> str:
    return (
        '{"type": "trade", "exchange": "BINANCE", "symbol": "BTC/USDT", '
        f'"price": {price}, "quantity": {quantity}, "side": "{side}"}}'
    )


TICKER = '{"type": "ticker", "exchange": "BINANCE", "symbol": "BTC/USDT", "note": "%s"}'


def entry(t_ms: int, message: str) -> str:
    return f'{{"t": {t_ms * 1_000_000}, "msg": {message}}}'


def write(path: Path, lines: list[str | bytes]) -> Path:
    """A recording: the header, then `lines` (text, or raw bytes as they are)."""
    data = [HEADER.encode()] + [x if isinstance(x, bytes) else x.encode() for x in lines]
    path.write_bytes(b"\n".join(data) + b"\n")
    return path


def vmx(
    tmp_path: Path, *args: str, pure: bool = False, memory: int | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VMX_", "PYTEST_"))}
    environ |= {"VMX_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    if pure:
        environ["VMX_PURE_PYTHON"] = "1"

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [*VMX, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def backtest(tmp_path: Path, data: Path, pure: bool, *more: str) -> subprocess.CompletedProcess:
    return vmx(
        tmp_path, "backtest", "sma-cross", "--data", str(data), "-e", "BINANCE", "-s",
        "BTC/USDT", *more, pure=pure,
    )  # fmt: skip


def refused(result: subprocess.CompletedProcess[str], where: str, *says: str) -> None:
    assert result.returncode == ExitCode.USAGE, (result.returncode, result.stderr)
    assert where in result.stderr, result.stderr
    for text in says:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- line length


def padded(message: str, size: int) -> str:
    """An entry padded with spaces (valid JSON) to exactly `size` bytes."""
    text = entry(0, message)
    return text[:-1] + " " * (size - len(text)) + "}"


@pytest.mark.parametrize("pure", CORES)
def test_a_line_of_exactly_1_mib_is_read_and_one_byte_more_is_refused(
    tmp_path: Path, pure: bool
) -> None:
    fits = write(tmp_path / "fits.ndjson", [padded(snapshot(), MAX_LINE_BYTES), entry(1, trade())])
    result = backtest(tmp_path, fits, pure, "--json")
    assert result.returncode == 0, result.stderr

    over = write(
        tmp_path / "over.ndjson", [entry(0, snapshot()), padded(trade(), MAX_LINE_BYTES + 1)]
    )
    refused(
        backtest(tmp_path, over, pure),
        f"{over}, line 3, column {MAX_LINE_BYTES + 1}:",
        "longer than 1048576 bytes (1 MiB)",
    )


def sparse(path: Path, head: bytes, size: int = 3 << 30) -> Path:
    """A file of `size` bytes (mostly holes: no disk used) starting with `head`, no newline."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


@pytest.mark.parametrize("pure", CORES)
def test_an_endless_line_is_refused_quickly_in_bounded_memory(tmp_path: Path, pure: bool) -> None:
    """3 GiB without a newline, under a 400 MiB address-space limit: the first MiB says it."""
    cases = [
        sparse(tmp_path / "rec.ndjson", b"{"),
        sparse(tmp_path / "trades.csv", b"timestamp,price"),
        sparse(tmp_path / "noline.ndjson", b"{", 3 << 20),
    ]
    for data in cases:
        started = time.monotonic()
        result = vmx(
            tmp_path, "backtest", "sma-cross", "--data", str(data), "-e", "BINANCE", "-s",
            "BTC/USDT", pure=pure, memory=MEMORY_LIMIT,
        )  # fmt: skip
        refused(result, f"{data}, line 1, column {MAX_LINE_BYTES + 1}:", "longer than 1048576")
        assert time.monotonic() - started < 30

    result = vmx(tmp_path, "backtest", "sma-cross", "--data", "/dev/zero", pure=pure)
    refused(result, "/dev/zero is not a regular file", "save the data to a file first")


def test_replay_of_dev_zero_and_of_an_endless_line_ends_in_bounded_memory(tmp_path: Path) -> None:
    endless = sparse(tmp_path / "rec.ndjson", b'{"format": "vmx-recording", ')
    for path in ("/dev/zero", str(endless)):
        started = time.monotonic()
        result = vmx(tmp_path, "replay", path, "--speed", "max", memory=MEMORY_LIMIT)
        refused(result, f"{path} line 1 column {MAX_LINE_BYTES + 1}:", "longer than 1048576")
        assert time.monotonic() - started < 30
    later = write(tmp_path / "later.ndjson", [entry(0, trade()), "x" * (MAX_LINE_BYTES + 5)])
    result = vmx(tmp_path, "replay", str(later), "--speed", "max", memory=MEMORY_LIMIT)
    refused(result, f"{later} line 3 column {MAX_LINE_BYTES + 1}:")
    assert result.stdout.count("\n") == 1  # the line before it was played


# ---------------------------------------------------------------------------- numbers

NUMBERS = [
    ("1e400", "price 1e400 is out of range"),
    ("-1e400", "price -1e400 is out of range"),
    ("9" * 10_000, "price 99999999999999999999...(10000 characters) is out of range"),
    ("1." + "0" * 10_000, "price 1.000000000000000000...(10002 characters) is out of range"),
    ("NaN", "msg.price NaN is out of range"),
    ("Infinity", "msg.price Infinity is out of range"),
    ("-Infinity", "msg.price -Infinity is out of range"),
    ("100000000000000.00", "price 100000000000000.00 is out of range: the backtest takes"),
    ("-5", "price -5 is out of range: the backtest takes a price above 0"),
]


@pytest.mark.parametrize("pure", CORES)
def test_a_number_out_of_range_names_its_line_and_field(tmp_path: Path, pure: bool) -> None:
    for index, (number, message) in enumerate(NUMBERS):
        data = write(
            tmp_path / f"n{index}.ndjson",
            [entry(0, snapshot()), entry(1, trade()), entry(2, trade(price=number))],
        )
        refused(backtest(tmp_path, data, pure), f"{data}, line 4: ", message)
    level = write(tmp_path / "level.ndjson", [entry(0, snapshot(ask_size="1e400"))])
    refused(backtest(tmp_path, level, pure), f"{level}, line 2: ", "quantity 1e400 is out of")


def test_replay_names_the_number_out_of_range_and_its_field(tmp_path: Path) -> None:
    for index, (number, _) in enumerate(NUMBERS[:7]):
        data = write(tmp_path / f"n{index}.ndjson", [entry(0, trade()), entry(1, trade(number))])
        result = vmx(tmp_path, "replay", str(data), "--speed", "max")
        refused(result, f"{data} line 3: msg.price ", "is out of range")
    level = write(tmp_path / "level.ndjson", [entry(0, snapshot(ask_size="1e400"))])
    result = vmx(tmp_path, "replay", str(level), "--speed", "max")
    refused(result, f"{level} line 2: msg.asks[0].quantity 1e400 is out of range")


# ---------------------------------------------------------------------------- time


@pytest.mark.parametrize("pure", CORES)
def test_times_far_ahead_or_going_back_are_refused_at_their_line(tmp_path: Path, pure: bool):
    far = write(
        tmp_path / "far.ndjson",
        [entry(0, snapshot()), '{"t": 400000000000000000, "msg": ' + trade() + "}"],
    )
    refused(backtest(tmp_path, far, pure), f"{far}, line 3: ", "more than ten years")
    huge = write(
        tmp_path / "huge.ndjson", [entry(0, snapshot()), f'{{"t": 1{"0" * 40}, "msg": {trade()}}}']
    )
    refused(backtest(tmp_path, huge, pure), f"{huge}, line 3: ")
    back = write(
        tmp_path / "back.ndjson", [entry(0, snapshot()), entry(50, trade()), entry(20, trade())]
    )
    refused(backtest(tmp_path, back, pure), f"{back}, line 4: ", '"t" goes back in time')


def test_replay_at_real_speed_refuses_a_silence_longer_than_an_hour(tmp_path: Path) -> None:
    two_hours = 2 * 3600 * 1000
    data = write(tmp_path / "gap.ndjson", [entry(0, trade()), entry(two_hours, trade())])
    started = time.monotonic()
    result = vmx(tmp_path, "replay", str(data))
    refused(result, f"{data} line 3: 2h 0m pass before this message", "--speed 2 or more")
    assert time.monotonic() - started < 30
    assert result.stdout.count("\n") == 1  # the first message was played
    result = vmx(tmp_path, "replay", str(data), "--speed", "max")
    assert result.returncode == 0 and result.stdout.count("\n") == 2, result.stderr

    far = write(tmp_path / "far.ndjson", [entry(0, trade()), entry(10**15, trade())])
    result = vmx(tmp_path, "replay", str(far), "--speed", "max")
    refused(result, f"{far} line 3: ", "more than ten years")
    back = write(tmp_path / "back.ndjson", [entry(5, trade()), entry(4, trade())])
    refused(vmx(tmp_path, "replay", str(back)), f"{back} line 3: ", '"t" goes back in time')


# ---------------------------------------------------------------------------- UTF-8


@pytest.mark.parametrize("pure", CORES)
def test_a_byte_that_is_not_utf8_names_its_own_line_and_column(tmp_path: Path, pure: bool):
    body = [entry(i, trade()) for i in range(1, 400)]  # more than a read-ahead buffer
    ticker = entry(400, TICKER % "ab\xffcd").encode("latin-1")
    data = write(tmp_path / "bad.ndjson", [entry(0, snapshot()), *body, ticker])
    column = ticker.index(b"\xff") + 1
    refused(backtest(tmp_path, data, pure), f"{data}, line 402, column {column}: ", "0xff")
    header = tmp_path / "header.ndjson"
    header.write_bytes(HEADER.replace("market", "m\xe9rket").encode("latin-1") + b"\n")
    refused(backtest(tmp_path, header, pure), f"{header}, line 1, column ", "not UTF-8")

    result = vmx(tmp_path, "replay", str(data), "--speed", "max")
    refused(result, f"{data} line 402 column {column}: byte 0xff is not UTF-8")
    assert result.stdout.count("\n") == 400  # every line before it was played


# ---------------------------------------------------------------------------- counterparty


@pytest.mark.parametrize("pure", CORES)
def test_the_counterparty_covers_a_large_market_and_says_when_one_is_larger(
    tmp_path: Path, pure: bool
) -> None:
    """A buy of 20,000,000 at 100 (2e9 USDT) ran the tape's 1e9 USDT dry; 1e9 at 100 is more
    than any ledger balance holds, and says so."""
    large = write(
        tmp_path / "large.ndjson",
        [entry(0, snapshot(ask_size="20000000")), entry(1, trade("100.00", "20000000"))],
    )
    result = backtest(tmp_path, large, pure, "--json")
    assert result.returncode == 0, result.stderr

    larger = write(
        tmp_path / "larger.ndjson",
        [entry(0, snapshot(ask_size="1000000000")), entry(1, trade("100.00", "1000000000"))],
    )
    refused(
        backtest(tmp_path, larger, pure),
        "at event 2 (2026-01-01T00:00:00.001000Z), the recorded buy trade of 1000000000",
        "more USDT than bt-tape",
        "backtest the data before that event",
    )
    book = write(tmp_path / "book.ndjson", [entry(0, snapshot(bid_size="1000000000"))])
    refused(
        backtest(tmp_path, book, pure),
        "at event 1 (2026-01-01T00:00:00.000000Z), the recorded book snapshot needs more USDT "
        "than bt-market",
    )


# ---------------------------------------------------------------------------- terms

BAD_TERMS = [
    ('{"BINANCE:BTC/USDT": {"base": "BTC", "quote": "USDT", "tick_size": -0.01, '
     '"lot_size": 0.00001}}', "terms['BINANCE:BTC/USDT'].tick_size -0.01 must be above 0"),
    ('{"BINANCE:BTC/USDT": {"base": "BTC", "quote": "USDT", "tick_size": "0.01"}}',
     "terms['BINANCE:BTC/USDT'] lacks lot_size"),
    ('{"BINANCE:BTC/USDT": {"base": "BTC\\n", "quote": "USDT", "tick_size": 0.01, '
     '"lot_size": 0.00001}}', "base 'BTC\\n' is not an asset name"),
]  # fmt: skip


def test_terms_in_a_header_are_held_to_the_bounds_by_backtest_and_replay(tmp_path: Path) -> None:
    """The instruments' terms a header carries (docs/api.md, "Recordings") are untrusted too."""
    for index, (terms, says) in enumerate(BAD_TERMS):
        data = tmp_path / f"terms{index}.ndjson"
        header = HEADER[:-1] + f', "terms": {terms}}}'
        data.write_text(
            "\n".join([header, entry(0, snapshot()), entry(1, trade())]) + "\n", encoding="utf-8"
        )
        refused(backtest(tmp_path, data, False), f"{data}, line 1: the header's ", says)
        replayed = vmx(tmp_path, "replay", str(data), "--speed", "max")
        refused(replayed, f"{data} line 1: the header's ", says)
