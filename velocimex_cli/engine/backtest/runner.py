"""One backtest: market data replayed through a fresh in-memory engine node, a strategy on top.

The node is the one the server runs (`EngineNode`: matching, ledger, fees, risk checks), with no
store, no simulator and a `SimulatedClock` that
moves to each event's timestamp; the recorded market is mirrored into its book
(`MarketReplay`); the strategy runs in `BacktestHost`, the live host with delayed order entry.
Nothing reads the wall clock and nothing is random, so the same inputs give the same report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from velocimex_cli import __version__
from velocimex_cli.engine.backtest import metrics
from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, TRADE, MarketData
from velocimex_cli.engine.backtest.host import BacktestHost
from velocimex_cli.engine.backtest.market import FILL_MODELS, MarketReplay
from velocimex_cli.engine.core.events import Event, FillEvent
from velocimex_cli.engine.core.exchange import Exchange, Interest
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Catalogue, Instrument
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
    options.check()
    events = data.events
    if not events:
        raise InvalidParameter("data", "", "the data has no events to replay")
    clock = SimulatedClock(events[0][0])
    instrument = Catalogue().find(options.exchange, options.symbol)
    funds = options.funds
    if funds is None:
        funds = default_funds(instrument, data)
    node = EngineNode(
        NodeSettings(always_open=True, simulate=False, simulator=False, sandbox_funds=funds),
        clock,
    )
    node.start()
    exchange = node.exchange
    replay = MarketReplay(exchange, clock, instrument, options.fill_model)
    exchange.ensure_account(ACCOUNT)
    account = exchange.ledger.accounts[ACCOUNT]
    book = exchange.books[instrument.index]
    tick = instrument.tick_size
    if strategy_cls is None:
        return _bare(exchange, replay, book, data, progress, progress_every)
    fills: list[dict[str, Any]] = []
    quotes: list[tuple[int | None, int | None]] = [(None, None)]

    def record_fill(event: Event) -> None:
        if type(event) is FillEvent and event.account == ACCOUNT:
            bid, ask = quotes[0]
            mid = None if bid is None or ask is None else Decimal(bid + ask) * tick / 2
            fills.append({**event.fill, "mid": mid})

    exchange.add_listener(record_fill, Interest(accounts=frozenset({ACCOUNT}), books=False))
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
    base, quote = instrument.base, instrument.quote

    def sample(stamp: int) -> metrics.Sample:
        bid, ask = book.best_bid(), book.best_ask()
        base_units = account.balance(base)[0]
        quote_units = account.balance(quote)[0]
        if bid is not None and ask is not None:
            mark = Decimal(bid + ask) * tick / 2
        else:
            mark = last_mark[0]
        last_mark[0] = mark
        value = (Decimal(quote_units) + Decimal(base_units) * mark) / LEDGER_SCALE
        return metrics.Sample(stamp, value, Decimal(base_units) / LEDGER_SCALE, mark)

    last_mark = [data.first_price or Decimal(0)]
    samples: list[metrics.Sample] = []
    span = events[-1][0] - events[0][0]
    interval = options.sample_seconds * 1_000_000 or max(1_000_000, span // SAMPLES)
    trades_only = data.trades_only
    started = False
    next_sample = events[0][0]
    total = len(events)
    sequence = book.sequence
    # Bound once: this loop runs for every replayed event.
    set_clock, apply_book, trade = clock.set, replay.book, replay.trade
    best_bid, best_ask = book.best_bid, book.best_ask
    pending, send_due, step = host.pending, host.send_due, host.step
    wants_books = host.wants_books
    index, event = 0, events[0]
    try:  # free until something raises: the counterparty's limits are said, not raised
        for index, event in enumerate(events):
            stamp = event[0]
            set_clock(stamp)
            kind = event[1]
            if kind == BOOK:
                apply_book(event[2], event[3], event[4])
            elif trades_only:
                replay.prepare_print(event[2], event[3], event[4])
            else:
                trade(event[2], event[3], event[4])
            if not started:
                if best_bid() is None and best_ask() is None:
                    continue
                host.start()
                started = True
            quotes[0] = (best_bid(), best_ask())
            if pending:
                for side, price in send_due(stamp, index):
                    replay.strategy_joined(side, price)
            else:
                host.event_index = index  # what send_due records: orders placed now wait for it
            if kind == TRADE and trades_only:
                replay.take_print(event[2], event[3], event[4])
            if wants_books and book.sequence != sequence:
                sequence = book.sequence
                host.book_changed(stamp)
            step()
            if stamp >= next_sample:
                samples.append(sample(stamp))
                next_sample = stamp - stamp % interval + interval
            if progress is not None and index % progress_every == 0:
                progress(index, total)
    except InsufficientBalance as exc:
        raise replay.ran_out(exc, index, event, trades_only) from None
    if started:
        host.stop("end of data")
    end = events[-1][0]
    # The account as it ends, after the strategy stopped. The last stamp's sample may have
    # been taken at its first event, before later events of that stamp (a generated market
    # has several) filled the strategy: the final one stands.
    last = sample(end)
    if samples and samples[-1].timestamp == end:
        samples[-1] = last
    else:
        samples.append(last)
    if progress is not None:
        progress(total, total)
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
    figures["final_mark"] = last_mark[0]
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


def _bare(
    exchange: Exchange,
    replay: MarketReplay,
    book: Any,
    data: MarketData,
    progress: Progress | None,
    progress_every: int,
) -> BacktestResult:
    """The market alone through the engine (no strategy): what a backtest costs without one."""
    clock = exchange.clock
    events = data.events
    trades_only = data.trades_only
    apply_book, trade = replay.book, replay.trade
    index, event = 0, events[0]
    try:
        for index, event in enumerate(events):
            clock.set(event[0])  # type: ignore[attr-defined]  # a SimulatedClock
            if event[1] == BOOK:
                apply_book(event[2], event[3], event[4])
            elif trades_only:
                replay.prepare_print(event[2], event[3], event[4])
                replay.take_print(event[2], event[3], event[4])
            else:
                trade(event[2], event[3], event[4])
            if progress is not None and index % progress_every == 0:
                progress(index, len(events))
    except InsufficientBalance as exc:
        raise replay.ran_out(exc, index, event, trades_only) from None
    report = {"events": len(events), "sequence": book.sequence, "state": exchange.state_hash()}
    return BacktestResult(report, [], [], [])


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
