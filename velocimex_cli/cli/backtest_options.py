"""The backtest command's options, and what both kinds of run (a single run, a sweep) derive
from them: the strategy and the market data, the starting funds, the in-sample split, and the
progress bar shown on a terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.backtest.session import DataRef, StrategyRef


@dataclass
class BacktestCommand:
    strategy: str
    data: str | None
    simulate: str | None
    seed: int
    exchange: str | None
    symbol: str | None
    params: list[str] = field(default_factory=list)
    latency_ms: int = 0
    fill_model: str = "queue"
    sample_seconds: int = 0
    funds: list[str] = field(default_factory=list)
    output: str | None = None
    trades_file: str | None = None
    lag_check: bool = False
    sweeps: list[str] = field(default_factory=list)
    metric: str = "sharpe"
    jobs: int | None = None
    split: str | None = None
    cluster: str | None = None
    cache: bool = True
    annualize: bool = False


def starting_funds(pairs: list[str]) -> dict[str, Decimal] | None:
    from velocimex_cli.wire.errors import InvalidParameter
    from velocimex_cli.wire.numbers import parse_decimal

    if not pairs:
        return None
    funds: dict[str, Decimal] = {}
    for pair in pairs:
        asset, sep, amount = pair.partition("=")
        value = parse_decimal(amount)
        if not sep or not asset.strip() or value is None or value < 0:
            raise InvalidParameter(
                "cash", pair, f"--cash must be ASSET=AMOUNT, e.g. USDT=10000, not {pair!r}"
            )
        funds[asset.strip().upper()] = value
    return funds


def split_share(text: str | None) -> str | None:
    from velocimex_cli.wire.errors import InvalidParameter
    from velocimex_cli.wire.numbers import parse_decimal

    if text is None:
        return None
    value = parse_decimal(text)
    if value is None or not Decimal("0") < value < Decimal("1"):
        raise InvalidParameter(
            "split", text, "--split is the in-sample share, between 0 and 1 (e.g. 0.7)"
        )
    return str(value)


def backtest_inputs(opts: BacktestCommand) -> tuple[StrategyRef, DataRef]:
    from velocimex_cli.engine.backtest.generate import parse_duration
    from velocimex_cli.engine.backtest.session import data_ref, resolve_strategy
    from velocimex_cli.wire.errors import InvalidParameter

    if (opts.data is None) == (opts.simulate is None):
        raise InvalidParameter(
            "data",
            opts.data,
            "give the market: --data FILE (a recording or a CSV of trades) "
            "or --simulate DURATION (the engine's seeded simulator)",
        )
    strategy = resolve_strategy(opts.strategy)
    seconds = parse_duration(opts.simulate) if opts.simulate is not None else 0
    return strategy, data_ref(opts.data, seconds, opts.seed, opts.exchange, opts.symbol)


def progress_bar(factory: Factory, label: str) -> Any:
    """A bar of events (or seconds) on stderr when it is a terminal (None otherwise)."""
    if not factory.io.is_stderr_tty:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from velocimex_cli.cli.progress_bar import stderr_progress
    from velocimex_cli.render.backtest_report import RateColumn

    return stderr_progress(
        factory,
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )
