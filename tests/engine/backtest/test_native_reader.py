"""The C reader of a recording's typed lines (`_native.recording_events`) and the pure-Python
loop it follows (VMX_PURE_PYTHON=1) read the same events, prices and errors.

The recording mixes lines the C reader takes with lines it hands back to the Python loop: the
first use of each number (not in the caches yet), blank lines, other instruments, tickers,
message types only the generic decoder reads, a trade and a level whose numbers are not
hashable, numbers as JSON integers; and recordings that are wrong at a given line.
"""

from __future__ import annotations

from pathlib import Path

from tests.core_variants import run_script

READ = """
import json, sys
from pathlib import Path
from velocimex_cli.engine.backtest.recording import read_recording
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import NATIVE
from velocimex_cli.wire.errors import InvalidParameter

out = {"native": NATIVE}
for name in sys.argv[1:]:
    try:
        data = read_recording(Path(name), Catalogue().find("BINANCE", "BTC/USDT"))
    except InvalidParameter as exc:
        out[Path(name).name] = str(exc)
    else:
        out[Path(name).name] = [data.events, str(data.first_price), str(data.last_price)]
print(json.dumps(out))
"""
HEADER = (
    '{"format": "vmx-recording", "version": 1, "started_at": "2026-01-01T00:00:00.000000Z", '
    '"stream": "market", "instruments": ["BINANCE:BTC/USDT"]}'
)
SNAPSHOT = (
    '{"type": "book_snapshot", "exchange": "BINANCE", "symbol": "BTC/USDT", '
    '"bids": [{"price": 100.00, "quantity": 0.5}, {"price": 99.99, "quantity": 1}], '
    '"asks": [{"price": 100.01, "quantity": 0.25}]}'
)

NO_QUANTITY = '{"type": "trade", "exchange": "BINANCE", "symbol": "BTC/USDT", "price": 100.00}'


def delta(*changes: str) -> str:
    body = ", ".join(changes)
    return (
        f'{{"type": "book_delta", "exchange": "BINANCE", "symbol": "BTC/USDT", '
        f'"changes": [{body}]}}'
    )


def change(side: str, price: str, quantity: str) -> str:
    return f'{{"side": "{side}", "price": {price}, "quantity": {quantity}}}'


def trade(price: str, quantity: str, side: str, symbol: str = "BTC/USDT") -> str:
    return (
        f'{{"type": "trade", "exchange": "BINANCE", "symbol": "{symbol}", "price": {price}, '
        f'"quantity": {quantity}, "side": "{side}"}}'
    )


MIXED = [
    SNAPSHOT,
    delta(change("bid", "100.00", "0.75"), change("ask", "100.01", "0")),
    delta(change("bid", "100.00", "0.5"), change("ask", "100.02", "1")),
    "",
    '{"type": "ticker", "exchange": "BINANCE", "symbol": "BTC/USDT", "last": 100.0}',
    '{"type": "order", "id": 7}',
    trade("100.01", "0.25", "buy", symbol="ETH/USDT"),
    trade("100.01", "0.25", "buy"),
    trade("100.00", "0.5", "sell"),
    delta(),
    delta(change("ask", "100", "1")),
    trade("100.00", "0.5", "sell"),
    SNAPSHOT,
    delta(change("bid", '"100.00"', "0.5")),
    trade("100.02", "1", "buy"),
]


def _write(path: Path, messages: list[str], times: list[int] | None = None) -> Path:
    lines = [HEADER]
    for index, message in enumerate(messages):
        t = (times[index] if times else index) * 1_000_000
        lines.append(f'{{"t": {t}, "msg": {message}}}' if message else "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(paths: list[Path], pure: bool) -> dict:
    return run_script(READ, [str(p) for p in paths], pure, timeout=120)


def test_the_c_reader_and_the_python_loop_read_the_same(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path / "mixed.ndjson", MIXED),
        _write(tmp_path / "backwards.ndjson", MIXED[:9], [0, 1, 2, 3, 4, 5, 6, 8, 7]),
        _write(tmp_path / "no-json.ndjson", [*MIXED[:3], "{not json"]),
        _write(tmp_path / "no-field.ndjson", [*MIXED[:3], NO_QUANTITY]),
        _write(tmp_path / "unhashable.ndjson", [*MIXED[:3], trade("[1]", "0.5", "buy")]),
        _write(tmp_path / "off-grid.ndjson", [*MIXED[:3], *[trade("100.005", "0.5", "buy")] * 2]),
    ]
    pure = _read(paths, pure=True)
    native = _read(paths, pure=False)
    assert pure.pop("native") is False
    assert native.pop("native") is True
    assert native == pure
    events, first, last = pure["mixed.ndjson"]
    assert (first, last) == ("100.01", "100.02")
    start = 1_767_225_600_000_000
    assert len(events) == 11
    assert events[1] == [start + 1000, 1, False, [[10000, 75000]], [[10001, 0]]]
    assert events[3] == [start + 7000, 0, 0, 10001, 25000]
    assert events[4] == [start + 8000, 0, 1, 10000, 50000]
    assert events[5] == [start + 9000, 1, False, [], []]
    assert events[6] == [start + 10000, 1, False, [], [[10000, 100000]]]
    assert "line 10:" in pure["backwards.ndjson"]
    assert "line 5, column 24: not valid JSON" in pure["no-json.ndjson"]
    assert "line 5: a market message lacks a field" in pure["no-field.ndjson"]
    for name in ("unhashable.ndjson", "off-grid.ndjson"):
        assert "off BINANCE:BTC/USDT's tick or lot grid" in pure[name]


def test_the_c_reader_hands_back_what_only_the_python_loop_judges(tmp_path: Path) -> None:
    """Lines at and past 1 MiB, text beyond ASCII (valid and not), times past ten years and
    going back, numbers out of range: the C reader hands each back, and both read the same
    events or the same error at the same line."""
    most = 1 << 20
    fits = f'{{"t": 3000000, "msg": {trade("100.01", "0.25", "buy")}}}'
    fits = fits[:-1] + " " * (most - len(fits)) + "}"
    accent = '{"type": "ticker", "exchange": "BINANCE", "symbol": "BTC/USDT", "note": "é"}'
    paths = [
        _write(tmp_path / "accent.ndjson", [*MIXED[:3], accent, *MIXED[3:]]),
        _write(tmp_path / "far.ndjson", MIXED[:3], [0, 1, 316_224_000_001]),
        _write(tmp_path / "nan.ndjson", [*MIXED[:3], trade("NaN", "0.5", "buy")]),
        _write(tmp_path / "huge.ndjson", [*MIXED[:3], trade("1e400", "0.5", "buy")]),
    ]
    at_most = _write(tmp_path / "at-most.ndjson", MIXED[:3])
    at_most.write_text(at_most.read_text() + fits + "\n")
    past = _write(tmp_path / "past.ndjson", MIXED[:3])
    past.write_text(past.read_text() + fits[:-1] + " }\n")
    latin = _write(tmp_path / "latin.ndjson", MIXED[:3])
    latin.write_bytes(latin.read_bytes() + accent.replace("é", "\xe9").encode("latin-1") + b"\n")
    paths += [at_most, past, latin]
    pure = _read(paths, pure=True)
    native = _read(paths, pure=False)
    assert pure.pop("native") is False
    assert native.pop("native") is True
    assert native == pure
    assert len(pure["accent.ndjson"][0]) == 11  # the ticker skipped, the rest read
    assert len(pure["at-most.ndjson"][0]) == 4 and pure["at-most.ndjson"][2] == "100.01"
    assert ", line 5, column 1048577: the line is longer than 1048576" in pure["past.ndjson"]
    column = accent.index("é") + 1
    assert f", line 5, column {column}: byte 0xe9 is not UTF-8" in pure["latin.ndjson"]
    assert ', line 4: "t" 316224000001000000 is more than ten years' in pure["far.ndjson"]
    assert ", line 5: msg.price NaN is out of range" in pure["nan.ndjson"]
    assert ", line 5: price 1e400 is out of range" in pure["huge.ndjson"]
