"""`python -m benchmarks backtest`: backtest throughput on a generated recording, and sweeps.

A recording of 1,000,000 market messages (--quick: 50,000) in the `vmx stream --record` format
is generated first: a book around a seeded random-walk mid, changed by deltas of one to three
levels, and trades that take the top of the book. Then, in this process:

- decode: a loop that only decodes the file's lines with the recording reader's JSON decoder;
- bare: the recording read and replayed through the backtest's engine with no strategy (the
  recorded book mirrored into the real matching, trades as real orders);
- sma-cross: the same replay with the built-in sma-cross strategy running on it.

The three run in turn, three rounds (--quick: one), and each keeps its fastest round: one run
of a few seconds swings by 10-15% on a quiet machine (frequency, the collector's timing), and
alternating rounds meet a busy moment alike.

Generation: `--simulate`'s market (engine/backtest/generate.py) for one simulated hour
(--quick: 5 minutes) of BINANCE BTC/USDT, generated events/s (target >= 50,000), then
replayed with sma-cross as `vmx backtest --simulate 1h` does (its events/s beside it).

Trades-only: the same recording's trades alone, replayed bare and with sma-cross in the same
rounds (figure `trades_only`: events/s against the book replay's, target >= 1.0, and the
sma-cross replay's time against the book's that holds the same trades).

Targets: bare >= 0.3 of decode, sma-cross >= 0.5 of bare (the summary), and the absolute
events/s of sma-cross (the goal is 250,000 on one core). Then a sweep of 16 sma-cross runs on a
smaller recording, on 1 worker and on N = os.cpu_count() workers: the speedup is to be
>= 0.8 x N.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from velocimex_cli.engine.backtest import runner
from velocimex_cli.engine.backtest.generate import simulate
from velocimex_cli.engine.backtest.recording import read_recording
from velocimex_cli.engine.backtest.session import DataRef, data_ref, run_spec
from velocimex_cli.engine.backtest.sweep import RunSpec, run_local, with_key
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.decoding import decoder
from velocimex_cli.wire.recording_format import FORMAT, VERSION

EXCHANGE, SYMBOL = "BINANCE", "BTC/USDT"
MID = 6_000_000  # ticks of 0.01
DEPTH = 20


def _price(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


def generate(path: Path, count: int, seed: int = 7) -> None:
    """`count` messages after the header: a snapshot, then deltas (70%) and trades (30%)."""
    rng = random.Random(seed)
    bids = {MID - 1 - i: rng.randint(1, 400) for i in range(DEPTH)}
    asks = {MID + 1 + i: rng.randint(1, 400) for i in range(DEPTH)}
    lines = [
        jsonfmt.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "vmx_version": "benchmark",
                "started_at": "2026-01-05T00:00:00.000000Z",
                "stream": "market",
                "instruments": [f"{EXCHANGE}:{SYMBOL}"],
                "channels": ["book", "trades"],
                "api_url": None,
            }
        )
    ]

    def level(ticks: int, lots: int) -> str:
        return f'{{"price": {_price(ticks)}, "quantity": {lots / 100000:.5f}}}'

    lines.append(
        '{"t": 0, "msg": {"type": "book_snapshot", "exchange": "BINANCE", "symbol": "BTC/USDT", '
        '"sequence": 1, "timestamp": "2026-01-05T00:00:00.000000Z", "bids": ['
        + ", ".join(level(p, q) for p, q in sorted(bids.items(), reverse=True))
        + '], "asks": ['
        + ", ".join(level(p, q) for p, q in sorted(asks.items()))
        + '], "checksum": 0}}'
    )
    t = 0
    sequence = 1
    trade_id = 0

    def delta(changes: list[tuple[str, int, int]]) -> str:
        nonlocal sequence
        sequence += 1
        body = ", ".join(
            f'{{"side": "{side}", "price": {_price(p)}, "quantity": {q / 100000:.5f}}}'
            for side, p, q in changes
        )
        return (
            f'{{"t": {t}, "msg": {{"type": "book_delta", "exchange": "BINANCE", '
            f'"symbol": "BTC/USDT", "sequence": {sequence}, '
            f'"timestamp": "2026-01-05T00:00:00.000000Z", "changes": [{body}], '
            '"checksum": 0}}'
        )

    while len(lines) < count + 1:
        t += rng.randint(50_000, 2_000_000)
        if rng.random() < 0.2:  # a trade takes part of the top, then the book says so
            buy = rng.random() < 0.5
            book = asks if buy else bids
            best = min(book) if buy else max(book)
            lots = rng.randint(1, book[best])
            trade_id += 1
            lines.append(
                f'{{"t": {t}, "msg": {{"type": "trade", "trade_id": "{trade_id}", '
                f'"exchange": "BINANCE", "symbol": "BTC/USDT", "price": {_price(best)}, '
                f'"quantity": {lots / 100000:.5f}, "side": "{"buy" if buy else "sell"}", '
                '"timestamp": "2026-01-05T00:00:00.000000Z"}}'
            )
            left = book[best] - lots
            if left or len(book) <= 5:
                book[best] = left or 1
            else:
                del book[best]
            lines.append(delta([("ask" if buy else "bid", best, book.get(best, 0))]))
            continue
        changes = []
        for _ in range(rng.randint(1, 3)):
            is_bid = rng.random() < 0.5
            book = bids if is_bid else asks
            offset = rng.randint(0, DEPTH)
            price = min(asks) - 1 - offset if is_bid else max(bids) + 1 + offset
            lots = 0 if (rng.random() < 0.3 and len(book) > 5) else rng.randint(1, 400)
            if lots:
                book[price] = lots
            else:
                book.pop(price, None)
            changes.append(("bid" if is_bid else "ask", price, lots))
        lines.append(delta(changes))
    del lines[count + 1 :]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_trades_only(path: Path, out: Path) -> int:
    """The recording at `path` with its trades alone (its header kept) written to `out`: the
    trades-only data of the same market. Returns how many trades."""
    count = 0
    with path.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as sink:
        sink.write(source.readline())
        for line in source:
            if '"type": "trade"' in line:
                sink.write(line)
                count += 1
    return count


def _decode(path: Path) -> int:
    loads = decoder()  # the decoder the recording reader uses
    count = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count


def _timed(work: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    count = 50_000 if quick else 1_000_000
    instrument = Catalogue().find(EXCHANGE, SYMBOL)
    options = runner.BacktestOptions(EXCHANGE, SYMBOL)
    sma = runner.BacktestOptions(
        EXCHANGE, SYMBOL, params={"fast": 10, "slow": 40, "order_amount": Decimal("0.01")}
    )
    from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "market.ndjson"
        generated, _ = _timed(lambda: generate(path, count))
        yield {"figure": "recording", "events": count, "seconds": round(generated, 2)}

        def bare() -> Any:
            data = read_recording(path, instrument)
            return runner.run(None, data, options)

        def backtest() -> Any:
            data = read_recording(path, instrument)
            return runner.run(BUILTIN_STRATEGIES["sma-cross"], data, sma)

        # The same recording's trades alone: trades-only data (prints.py's fill model).
        prints_path = Path(tmp) / "prints.ndjson"
        prints = write_trades_only(path, prints_path)

        def prints_bare() -> Any:
            return runner.run(None, read_recording(prints_path, instrument), options)

        def prints_sma() -> Any:
            data = read_recording(prints_path, instrument)
            return runner.run(BUILTIN_STRATEGIES["sma-cross"], data, sma)

        decode_s = bare_s = sma_s = prints_bare_s = prints_sma_s = float("inf")
        for _ in range(1 if quick else 3):
            seconds, lines = _timed(lambda: _decode(path))
            decode_s = min(decode_s, seconds)
            bare_s = min(bare_s, _timed(bare)[0])
            seconds, result = _timed(backtest)
            sma_s = min(sma_s, seconds)
            prints_bare_s = min(prints_bare_s, _timed(prints_bare)[0])
            seconds, prints_result = _timed(prints_sma)
            prints_sma_s = min(prints_sma_s, seconds)
        decode_rate = lines / decode_s
        yield {"figure": "decode", "events_per_s": round(decode_rate)}
        bare_rate = count / bare_s
        yield {
            "figure": "bare_replay",
            "events_per_s": round(bare_rate),
            "ratio_to_decode": round(bare_rate / decode_rate, 3),
            "target": ">= 0.3",
        }

        sma_rate = count / sma_s
        yield {
            "figure": "sma_cross",
            "events_per_s": round(sma_rate),
            "fills": result.report["metrics"]["fills"],
            "goal_events_per_s": 250_000,
        }
        yield {
            "figure": "trades_only",
            "events": prints,
            "bare_events_per_s": round(prints / prints_bare_s),
            "bare_ratio_to_book_bare": round(prints / prints_bare_s / bare_rate, 3),
            "sma_cross_events_per_s": round(prints / prints_sma_s),
            "sma_cross_ratio_to_book_sma_cross": round(prints / prints_sma_s / sma_rate, 3),
            "target": ">= 1.0",
            # Every trades-only event is a trade the strategy sees; a book recording's are
            # mostly book changes. The same trades cost the strategy the same: how long the
            # replay of the trades alone takes against the book replay that holds them.
            "sma_cross_seconds_vs_book": round(prints_sma_s / sma_s, 3),
            "fills": prints_result.report["metrics"]["fills"],
            "fill_ratio": prints_result.report["metrics"]["fill_ratio"],
        }

        seconds = 300 if quick else 3600
        generate_s = generate_cpu_s = replay_s = float("inf")
        for _ in range(1 if quick else 3):
            cpu = time.process_time()
            taken, market = _timed(lambda: simulate((EXCHANGE, SYMBOL), seconds, 42))
            generate_cpu_s = min(generate_cpu_s, time.process_time() - cpu)
            generate_s = min(generate_s, taken)
            replay_s = min(
                replay_s,
                _timed(partial(runner.run, BUILTIN_STRATEGIES["sma-cross"], market, sma))[0],
            )
        generated = len(market.events)
        generate_rate = generated / generate_s
        yield {
            "figure": "generate",
            "simulated_seconds": seconds,
            "events": generated,
            "events_per_s": round(generate_rate),
            "target": ">= 50000",
            # CPU time too: on a shared machine the wall clock also measures the neighbours.
            "events_per_cpu_s": round(generated / max(generate_cpu_s, 1e-6)),
            "sma_cross_replay_events_per_s": round(generated / replay_s),
            "end_to_end_s": round(generate_s + replay_s, 2),
        }

        # Sweep: 16 runs on a smaller recording, 1 worker vs all cores.
        small = Path(tmp) / "small.ndjson"
        generate(small, 4_000 if quick else 40_000, seed=11)
        ref: DataRef = data_ref(str(small), 0, 0, EXCHANGE, SYMBOL)
        from dataclasses import asdict

        specs = [
            with_key(
                RunSpec(
                    "sma-cross",
                    "builtin",
                    {"fast": fast, "slow": slow, "order_amount": "0.01"},
                    {
                        "data": asdict(ref),
                        "source": None,
                        "latency_ms": 0,
                        "fill_model": "queue",
                        "sample_seconds": 0,
                        "funds": None,
                        "split": None,
                    },
                    ref.digest,
                )
            )
            for fast in (3, 5, 8, 13)
            for slow in (21, 34, 55, 89)
        ]
        workers = os.cpu_count() or 1
        one_s, _ = _timed(lambda: list(run_local(run_spec, specs, 1)))
        many_s, _ = _timed(lambda: list(run_local(run_spec, specs, workers)))
        speedup = one_s / many_s
        yield {
            "figure": "sweep",
            "runs": len(specs),
            "workers": workers,
            "one_worker_s": round(one_s, 2),
            "n_workers_s": round(many_s, 2),
            "speedup": round(speedup, 2),
            "target": f">= {0.8 * workers:.1f}",
        }

    yield {
        "figure": "summary",
        "metric": "sma-cross backtest events/s vs bare replay events/s",
        "value": round(sma_rate),
        "baseline": round(bare_rate),
        "ratio": round(sma_rate / bare_rate, 3),
        "target": ">= 0.5",
        "bare_to_decode": round(bare_rate / decode_rate, 3),
        "bare_to_decode_target": ">= 0.3",
        "generate_events_per_s": round(generate_rate),
        "generate_target": ">= 50000",
        "sweep_speedup": round(speedup, 2),
        "sweep_target": f">= {0.8 * workers:.1f}",
        "events": count,
        "quick": quick,
    }
