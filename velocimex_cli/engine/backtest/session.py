"""What `vmx backtest` runs: resolve the strategy and the data, then one run, a split, a lag
check or a sweep. Every run is a pure function of a `RunSpec`, so it can run here, in a worker
process or on a Dask worker and give the same report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from velocimex_cli.engine.backtest import runner
from velocimex_cli.engine.backtest.data import MarketData, check_first_line, read_trades_csv
from velocimex_cli.engine.backtest.generate import simulate
from velocimex_cli.engine.backtest.recording import (
    data_instrument,
    read_recording,
    recorded_instrument,
)
from velocimex_cli.engine.backtest.sweep import RunSpec, file_hash
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter, NotFound

# A run's report collapses under --lag-check when one more event of latency loses this share of
# its return (or turns a gain into a loss): a sign that it lived on look-ahead or on fills a
# real queue would not give.
COLLAPSE_SHARE = Decimal("0.5")


@dataclass(frozen=True)
class StrategyRef:
    """A built-in id, or a user strategy's source text (from a file or the engine)."""

    strategy_id: str
    source: str | None = None

    @property
    def source_hash(self) -> str:
        return hashlib.sha256((self.source or "builtin").encode()).hexdigest()


@dataclass(frozen=True)
class DataRef:
    """Where a run's market comes from: a file, or the seeded simulator."""

    path: str | None = None
    simulate_seconds: int = 0
    seed: int = 42
    exchange: str = ""
    symbol: str = ""
    digest: str = field(default="", compare=False)

    def describe(self) -> dict[str, Any]:
        if self.path is not None:
            return {"file": Path(self.path).name, "sha256": self.digest}
        return {"simulate_seconds": self.simulate_seconds, "seed": self.seed}


def resolve_strategy(name: str) -> StrategyRef:
    """A built-in id, or a path to a Python file defining one Strategy subclass."""
    from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

    if name in BUILTIN_STRATEGIES:
        return StrategyRef(name)
    path = Path(name)
    if path.suffix == ".py" or path.exists():
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidParameter(
                "strategy", name, f"cannot read {name}: {exc.strerror or exc}"
            ) from None
        except UnicodeDecodeError:
            raise InvalidParameter("strategy", name, f"{name} is not UTF-8 text") from None
        cls = _load_source(source, str(path))
        return StrategyRef(cls.id, source)
    known = ", ".join(sorted(BUILTIN_STRATEGIES))
    raise NotFound(
        f"Unknown strategy {name!r}: give a built-in ({known}) or the path of a strategy file "
        "(see `vmx strategy list`)",
        {"strategy_id": name},
    )


@lru_cache(maxsize=8)
def _load_source(source: str, filename: str) -> type[Strategy]:
    from velocimex_cli.engine.drivers.strategies.loader import load_strategy_source

    return load_strategy_source(source, filename)


def strategy_class(ref: StrategyRef) -> type[Strategy]:
    if ref.source is None:
        from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

        return BUILTIN_STRATEGIES[ref.strategy_id]
    return _load_source(ref.source, f"<{ref.strategy_id}>")


def data_ref(
    path: str | None, simulate_seconds: int, seed: int, exchange: str | None, symbol: str | None
) -> DataRef:
    """Check the data source and fill in the instrument (from a recording's header if needed)."""
    if path is not None:
        file = Path(path)
        if not file.exists():
            raise InvalidParameter("data", path, f"{path} does not exist")
        if not file.is_file():
            raise InvalidParameter(
                "data",
                path,
                f"{path} is not a regular file: --data reads a file (twice: for its hash, then "
                "its data), not a pipe or a device; save the data to a file first",
            )
        check_first_line(file)
        if exchange is None or symbol is None:
            from velocimex_cli.engine.backtest.recording import recorded_instruments

            found = recorded_instruments(file)
            if len(found) != 1:
                what = "no instrument" if not found else f"{len(found)} instruments"
                raise InvalidParameter(
                    "symbol",
                    None,
                    f"{path} has {what}: name one with --exchange E --symbol S",
                )
            exchange, symbol = found[0]
        instrument = data_instrument(file, exchange, symbol)
        return DataRef(
            path=str(file.resolve()),
            exchange=instrument.venue.name,
            symbol=instrument.symbol,
            digest=file_hash(file),
        )
    if exchange is None or symbol is None:
        raise InvalidParameter(
            "symbol", None, "--simulate needs the instrument: --exchange E --symbol S"
        )
    instrument = Catalogue().find(exchange, symbol)
    digest = hashlib.sha256(
        jsonfmt.canonical(
            {"simulate": simulate_seconds, "seed": seed, "instrument": instrument.key}
        ).encode()
    ).hexdigest()
    return DataRef(None, simulate_seconds, seed, instrument.venue.name, instrument.symbol, digest)


@lru_cache(maxsize=2)
def load_data(ref: DataRef) -> MarketData:
    """The events of a data source (kept per process: a sweep's runs share them)."""
    if ref.path is None:
        return simulate((ref.exchange, ref.symbol), ref.simulate_seconds, ref.seed)
    path = Path(ref.path)
    recorded = recorded_instrument(path, ref.exchange, ref.symbol)
    if recorded is not None:  # the terms the recording's header gives
        return read_recording(path, recorded, recorded=True)
    instrument = Catalogue().find(ref.exchange, ref.symbol)
    with path.open("rb") as handle:
        head = handle.read(1)
    if head == b"{":
        return read_recording(path, instrument)
    return read_trades_csv(path, instrument)


def split_data(data: MarketData, fraction: Decimal) -> tuple[MarketData, MarketData]:
    """In-sample and out-of-sample halves, cut at `fraction` of the period's time."""
    events = data.events
    cut_time = data.start + int((data.end - data.start) * fraction)
    cut = next((i for i, e in enumerate(events) if e[0] > cut_time), len(events))
    if cut == 0 or cut == len(events):
        raise InvalidParameter("split", str(fraction), "--split leaves one side without events")
    first, second = events[:cut], events[cut:]
    # The out-of-sample half starts from the book as it stood: keep the last snapshot state,
    # and the recorded feed's state when it was down then (a halt goes on past the cut).
    from velocimex_cli.engine.backtest.recording import book_state_at, feed_state_at

    state = book_state_at(first)
    if state is not None:
        down = feed_state_at(first)
        second = [state, *second] if down is None else [state, (state[0], *down[1:]), *second]
    return (
        MarketData(first, data.first_price, None, data.instrument),
        MarketData(second, None, data.last_price, data.instrument),
    )


def run_spec(spec: RunSpec) -> dict[str, Any]:
    """One run of a sweep or a single backtest: the report's numbers, JSON-ready."""
    opts = spec.options
    ref = DataRef(**opts["data"])
    data = load_data(ref)
    cls = strategy_class(StrategyRef(spec.strategy_id, opts.get("source")))
    options = runner.BacktestOptions(
        exchange=ref.exchange,
        symbol=ref.symbol,
        params=dict(spec.params),
        latency_ms=opts["latency_ms"],
        fill_model=opts["fill_model"],
        sample_seconds=opts["sample_seconds"],
        funds=None if opts["funds"] is None else {k: Decimal(v) for k, v in opts["funds"].items()},
        annualize=opts.get("annualize", False),
    )
    split = opts.get("split")
    if split is None:
        result = runner.run(cls, data, options)
        return {"params": spec.params, "metrics": result.report["metrics"]}
    inside, outside = split_data(data, Decimal(split))
    return {
        "params": spec.params,
        "metrics": runner.run(cls, inside, options).report["metrics"],
        "out_of_sample": runner.run(cls, outside, options).report["metrics"],
    }


def collapsed(base: dict[str, Any], lagged: dict[str, Any]) -> bool:
    """Did one more event of latency wipe out the strategy's result (its trading return: the
    starting inventory's move is the same in both runs)?"""
    key = "trading_return" if "trading_return" in base else "total_return"
    before = base.get(key) or Decimal(0)
    after = lagged.get(key) or Decimal(0)
    if before <= 0:
        return False
    return after <= 0 or after < before * (1 - COLLAPSE_SHARE)
