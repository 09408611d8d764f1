"""One backtest: a fresh in-memory engine node stepped by a simulated clock, a strategy on top.

The node is the one the server runs (`EngineNode`: matching, ledger, fees, risk checks), with no
store, no simulator, no deployments and a `SimulatedClock`. Its drivers are the market feed
(feed.py: each step moves the clock to the next event's timestamp and mirrors the recorded
market into the book through `MarketReplay`) and the strategy (strategy_driver.py: the strategy
runs in `BacktestHost`, the live host with delayed order entry, and the account is sampled).
The runner steps the node until the feed has replayed every event (one a step, or several
while the strategy has nothing to do: feed.py) and reads the result. Nothing reads the wall
clock and nothing is random, so the same inputs give the same report.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from velocimex_cli import __version__
from velocimex_cli.engine.backtest import metrics
from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, MarketData
from velocimex_cli.engine.backtest.feed import MarketAlone, MarketFeed
from velocimex_cli.engine.backtest.host import BacktestHost
from velocimex_cli.engine.backtest.market import FILL_MODELS, MarketReplay
from velocimex_cli.engine.backtest.strategy_driver import StrategyDriver
from velocimex_cli.engine.backtest.terms import recorded_terms, trade_on
from velocimex_cli.engine.core.instruments import Catalogue, Instrument
from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.node import EngineNode, NodeSettings
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InsufficientBalance, InvalidParameter
from velocimex_cli.wire.timefmt import iso_from_micros, parse_iso, to_micros

ACCOUNT = "backtest"
# Unless --cash says otherwise, the account starts with this much of the instrument's quote
# asset and as much of its base asset as it buys at the first price (rounded down to the lot):
# a strategy that sells first (a market maker, a TWAP sell) has something to sell. The report
# splits the result into the strategy's trading PnL and the mark-to-market of that inventory.
DEFAULT_QUOTE_FUNDS = Decimal(100_000)
SAMPLES = 1000  # automatic sampling: about this many equity points over the period
DEPLOYMENT = "bt"
MARKET_MAKERS = {"market-maker"}

Progress = Callable[[int, int], None]


@dataclass
class BacktestOptions:
    exchange: str
    symbol: str
    params: dict[str, Any] = field(default_factory=dict)
    latency_ms: int = 0
    fill_model: str = "queue"
    sample_seconds: int = 0  # 0: about SAMPLES points over the period
    extra_events: int = 0  # --lag-check: orders wait this many more events
    funds: dict[str, Decimal] | None = None  # None: default_funds()
    annualize: bool = False  # annualised figures even for a run shorter than 30 days

    def check(self) -> None:
        if self.fill_model not in FILL_MODELS:
            raise InvalidParameter(
                "fill_model", self.fill_model, f"--fill-model must be {' or '.join(FILL_MODELS)}"
            )
        if not 0 <= self.latency_ms <= 3_600_000:
            raise InvalidParameter("latency", self.latency_ms, "--latency is 0 to 3600000 ms")
        if not 0 <= self.sample_seconds <= 86_400:
            raise InvalidParameter(
                "sample", self.sample_seconds, "--sample is 1 to 86400 s (0: automatic)"
            )

    def describe(self) -> dict[str, Any]:
        """What the report says about how it was run (and what its cache key covers)."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "params": self.params,
            "latency_ms": self.latency_ms,
            "fill_model": self.fill_model,
            "sample_seconds": self.sample_seconds,
            "extra_events": self.extra_events,
            "annualize": self.annualize,
            "funds": None
            if self.funds is None
            else {k: str(v) for k, v in sorted(self.funds.items())},
        }


@dataclass
class BacktestResult:
    report: dict[str, Any]
    fills: list[dict[str, Any]]
    equity: list[Decimal]
    drawdowns: list[Decimal]


def run(
    strategy_cls: type[Strategy] | None,
    data: MarketData,
    options: BacktestOptions,
    *,
    progress: Progress | None = None,
    progress_every: int = 50_000,
) -> BacktestResult:
    with _data_frozen():
        return _run(strategy_cls, data, options, progress, progress_every)


def _run(
    strategy_cls: type[Strategy] | None,
    data: MarketData,
    options: BacktestOptions,
    progress: Progress | None,
    progress_every: int,
) -> BacktestResult:
    options.check()
    events = data.events
    if not events:
        raise InvalidParameter("data", "", "the data has no events to replay")
    clock = SimulatedClock(events[0][0])
    # The recording's own terms when its header gave them (terms.py), else the catalogue's.
    instrument = data.instrument or Catalogue().find(options.exchange, options.symbol)
    funds = options.funds
    if funds is None:
        funds = default_funds(instrument, data)
    node = EngineNode(
        NodeSettings(
            always_open=True,
            simulate=False,
            simulator=False,
            deployments=False,
            sandbox_funds=funds,
        ),
        clock,
    )
    node.start()
    exchange = node.exchange
    if data.instrument is not None:
        trade_on(exchange, instrument)
    replay = MarketReplay(exchange, clock, instrument, options.fill_model)
    feed = (MarketAlone if strategy_cls is None else MarketFeed)(data, clock, replay)
    exchange.ensure_account(ACCOUNT)
    if data.trades_only:  # prints fill the strategy's resting orders (prints.py)
        replay.prints.follow(exchange.account(ACCOUNT))
    node.add_driver(feed)
    if strategy_cls is None:
        _replay(node, feed, progress, progress_every)
        book = exchange.book(instrument)
        report = {"events": len(events), "sequence": book.sequence, "state": exchange.state_hash()}
        node.close()
        return BacktestResult(report, [], [], [])
    host = BacktestHost(
        exchange,
        strategy_cls,
        deployment_id=DEPLOYMENT,
        account=ACCOUNT,
        exchange_name=options.exchange,
        symbol=options.symbol,
        params=options.params,
        latency_micros=options.latency_ms * 1000,
        extra_events=options.extra_events,
    )
    span = events[-1][0] - events[0][0]
    strategy = StrategyDriver(
        exchange,
        feed,
        host,
        instrument,
        first_mark=data.first_price or Decimal(0),
        interval=options.sample_seconds * 1_000_000 or max(1_000_000, span // SAMPLES),
    )
    node.add_driver(strategy)
    _replay(node, feed, progress, progress_every)
    node.close()  # the strategy stops at the end of the data; its last sample (strategy_driver)
    total, end = len(events), events[-1][0]
    fills, samples = strategy.fills, strategy.samples
    base, quote = instrument.base, instrument.quote
    fill_rows = [_fill_row(f) for f in fills]
    figures = metrics.compute(
        samples,
        [
            metrics.Fill(
                to_micros(parse_iso(f["timestamp"])),
                f["side"],
                f["price"],
                f["quantity"],
                f["fee"],
                f["liquidity"],
                f["mid"],
            )
            for f in fills
        ],
        ordered_quantity=host.ordered_quantity,
        first_price=data.first_price,
        last_price=data.last_price,
        market_maker=strategy_cls.id in MARKET_MAKERS,
        annualize=options.annualize,
        start_inventory=funds.get(base, Decimal(0)),
    )
    curve = metrics.strategy_curve(samples, funds.get(base, Decimal(0)))
    _worst, _longest, drawdowns = metrics.drawdown(curve)
    figures["first_mark"] = samples[0].mark if samples else None
    figures["final_mark"] = strategy.last_mark
    report = {
        "vmx_version": __version__,
        "strategy_id": strategy_cls.id,
        "options": options.describe(),
        "period": {
            "start": iso_from_micros(events[0][0]),
            "end": iso_from_micros(end),
            "events": total,
        },
        "quote_asset": quote,
        "strategy_state": host.state,
        "strategy_error": host.last_error,
        "orders_rejected": host.tally.rejected,
        "first_rejection": host.first_rejection,
        "metrics": figures,
    }
    if data.instrument is not None:  # said only then: reports of older data keep their hash
        report["terms"] = recorded_terms(instrument)
    report["report_hash"] = report_hash(report)
    return BacktestResult(report, fill_rows, [s.equity for s in curve], drawdowns)


def default_funds(instrument: Instrument, data: MarketData) -> dict[str, Decimal]:
    """DEFAULT_QUOTE_FUNDS of the quote asset and the base asset they buy at the data's first
    price (its first trade, else its first book's mid), rounded down to the lot size."""
    funds = {instrument.quote: DEFAULT_QUOTE_FUNDS}
    price = data.first_price or _first_mid(data, instrument)
    if price is not None and price > 0:
        lot = instrument.lot_size
        base = (DEFAULT_QUOTE_FUNDS / price // lot) * lot
        if base > 0:
            funds[instrument.base] = base
    return funds


def _first_mid(data: MarketData, instrument: Instrument) -> Decimal | None:
    for event in data.events[:1000]:
        if event[1] == BOOK and event[3] and event[4]:
            bid = max(ticks for ticks, lots in event[3] if lots)
            ask = min(ticks for ticks, lots in event[4] if lots)
            return Decimal(bid + ask) * instrument.tick_size / 2
    return None


def _replay(
    node: EngineNode, feed: MarketFeed, progress: Progress | None, progress_every: int
) -> None:
    """Step the node until `feed` has no event left (its steps move the simulated clock)."""
    total = len(feed.events)
    chunk = feed.steps_left if progress is None else max(1, progress_every // feed.per_step)
    try:  # free until something raises: the counterparty's limits are said, not raised
        while feed.steps_left:
            node.step(min(chunk, feed.steps_left))
            if progress is not None:
                progress(feed.index + 1, total)
    except InsufficientBalance as exc:
        raise feed.ran_out(exc) from None


@contextmanager
def _data_frozen() -> Iterator[None]:
    """What exists when a backtest starts (its data above all: a list of a million events)
    kept out of the cyclic collector's full collections until it ends. A strategy's fills and
    samples outlive the young generations and start several full collections, and each walked
    the whole data again: 0.37 s of CPU in a 1,000,000-event sma-cross run, 0.14 s frozen.
    Collection goes on for what the run allocates. A freeze some caller already made is
    theirs: it is left as it is (and this one not made)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _fill_row(fill: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": fill["timestamp"],
        "order_id": fill["order_id"],
        "trade_id": fill["trade_id"],
        "side": fill["side"],
        "price": fill["price"],
        "quantity": fill["quantity"],
        "fee": fill["fee"],
        "fee_asset": fill.get("fee_asset"),
        "liquidity": fill["liquidity"],
    }


def report_hash(report: dict[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON without its own hash."""
    body = {k: v for k, v in report.items() if k != "report_hash"}
    return hashlib.sha256(jsonfmt.canonical(body).encode()).hexdigest()
