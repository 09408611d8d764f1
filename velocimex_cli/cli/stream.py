"""`vmx stream market|orders`: live messages as NDJSON for pipelines (`vmx order watch` too).

stdout gets one JSON object per line, flushed per line: the data messages exactly as the server
sent them (ticker, book_snapshot, book_delta, book_status, trade, order, fill). The connection's
state goes to stderr ("connection lost …, reconnecting in 0.4 s (attempt 2)", "live again"), and
so does a mirrored exchange's `book_status`, in words ("BINANCE BTC/USDT feed down: …").
When the reader goes away (`| head -5`) the command exits 0 quietly. `--record FILE` also
writes every message received, with its receive time, to a recording
(velocimex_cli.client.recording).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    CountOption,
    DurationOption,
    JsonFlag,
    OutputOption,
    RecordOption,
    output_format,
    sub_app,
)
from velocimex_cli.output.iostreams import silence_stdout

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.client.recording import Recorder
    from velocimex_cli.client.streams import StreamClient

DATA_TYPES = frozenset(
    {"ticker", "book_snapshot", "book_delta", "book_status", "trade", "order", "fill"}
)
ORDERS = "orders stream"
ORDERS_OUTAGE = (
    "; updates sent while it was down are not replayed: "
    "`vmx order list --status all` shows where every order stands"
)
FIRST_CONNECT_ATTEMPTS = 3  # before the first connection; once live, it retries for ever


@dataclass
class MarketOptions:
    instruments: list[str]
    channels: list[str] | None
    count: int | None
    duration: float | None
    record: str | None


@dataclass
class OrdersOptions:
    count: int | None
    duration: float | None
    record: str | None
    ndjson: bool = False  # asked for explicitly: no live table even on a terminal


def stream_client(factory: Factory) -> StreamClient:
    """A WebSocket client for the profile's API (the embedded engine started if need be)."""
    from velocimex_cli.client.streams import StreamClient

    api = factory.client()  # starts the local engine and provisions its key when needed
    profile = factory.profile()
    # The REST client's TLS context: a stream trusts exactly the certificates REST does.
    return StreamClient(api.base_url, profile.api_key, profile.api_secret, verify=api.verify)


class NdjsonOut:
    """One JSON object per line on stdout, flushed; False once the reader has gone away."""

    def __init__(self, out: Any, count: int | None) -> None:
        from velocimex_cli.wire import jsonfmt

        self.dumps = jsonfmt.dumps
        self.out = out
        self.left = count
        self.closed = False

    def write(self, value: dict[str, Any]) -> bool:
        """Write a line; False when no more lines are wanted (count reached, reader gone)."""
        if self.closed:
            return False
        try:
            self.out.write(self.dumps(value) + "\n")
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            silence_stdout()
            return False
        if self.left is not None:
            self.left -= 1
            if self.left <= 0:
                return False
        return True


class ConnectionReporter:
    """Says on stderr what the connection does; quiet while all is well."""

    def __init__(self, factory: Factory, what: str, after_outage: str = "") -> None:
        self.factory = factory
        self.what = what
        self.after_outage = after_outage  # said when live again after a lost connection
        self.ever_live = False
        self.troubled = False

    def __call__(self, message: dict[str, Any]) -> None:
        from velocimex_cli.wire.errors import Unreachable

        state = message["state"]
        if state == "live":
            if self.troubled:
                self.factory.io.status(f"{self.what}: live again{self.after_outage}")
            self.ever_live, self.troubled = True, False
        elif state == "reconnecting":
            self.troubled = True
            attempt, error = message["attempt"], message.get("error") or "connection lost"
            if not self.ever_live and attempt > FIRST_CONNECT_ATTEMPTS:
                raise Unreachable(self.factory.client().base_url, error)
            self.factory.io.status(
                f"{self.what}: {error}; reconnecting in {message['retry_in']:.1f} s "
                f"(attempt {attempt})"
            )


def stream_output(json_flag: bool, output: str | None) -> str:
    """Streams print NDJSON whatever is asked: --json and -o json|ndjson say so (and make
    errors JSON on stderr); a table or CSV of a stream is not a thing (see `vmx watch`)."""
    fmt = output_format(json_flag, output)
    if fmt in ("table", "csv"):
        raise typer.BadParameter(
            f"a stream prints NDJSON, one message per line; {fmt} is not available "
            "(`vmx watch` draws a live view)",
            param_hint="'--output'",
        )
    return fmt or "ndjson"


def check_limits(count: int | None, duration: float | None) -> None:
    if count is not None and count < 1:
        raise CommandError(f"--count must be at least 1, not {count}")
    if duration is not None and not duration > 0:
        raise CommandError(f"--duration must be a number of seconds above 0, not {duration}")


def open_recorder(path: str | None, **header: Any) -> Recorder | None:
    if path is None:
        return None
    from velocimex_cli.client.recording import Recorder, RecordingError

    try:
        return Recorder.open(path, **header)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None


async def pump(
    stream: Any,
    out: NdjsonOut,
    recorder: Recorder | None,
    report: ConnectionReporter,
    factory: Factory,
) -> None:
    """Print data messages, record every message, report the connection, until done."""
    data = DATA_TYPES
    async with stream:
        async for message in stream:
            if recorder is not None:
                recorder.write(message)
            kind = message["type"]
            if kind in data:
                del message["received_at"]
                if not out.write(message):
                    return
                if kind == "book_status":
                    factory.io.status(f"{report.what}: {book_status_words(message)}")
            elif kind == "connection":
                report(message)
            elif kind == "error":
                error = message.get("error") or {}
                factory.io.status(f"{report.what}: server says: {error.get('message')}")


def book_status_words(message: dict[str, Any]) -> str:
    """A mirrored exchange's `book_status` for people."""
    name = f"{message.get('exchange')} {message.get('symbol')}"
    if message.get("valid"):
        return f"{name} feed whole again: the book is the venue's (a fresh snapshot follows)"
    return (
        f"{name} feed down: {message.get('reason') or 'no reason given'}; the book is not "
        "the venue's until its next snapshot"
    )


def run_stream(
    factory: Factory,
    make_stream: Any,
    what: str,
    count: int | None,
    duration: float | None,
    recorder: Recorder | None,
) -> int:
    import asyncio
    import contextlib

    out = NdjsonOut(factory.io.stdout, count)
    report = ConnectionReporter(factory, what, ORDERS_OUTAGE if what == ORDERS else "")

    async def main() -> None:
        task = asyncio.ensure_future(pump(make_stream(), out, recorder, report, factory))
        with contextlib.suppress(TimeoutError):  # --duration elapsed
            await asyncio.wait_for(task, duration)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a stream is stopped
    finally:
        if recorder is not None:
            recorder.close()
    return 0


def recorded_terms(
    factory: Factory, instruments: list[str] | None, markets: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The terms a recording's header carries (wire/recording_terms.py): the engine's markets
    listing (`markets`, else fetched once) cut to `instruments` (None: every market). When
    the listing cannot be had, or lists an instrument on terms a recording may not hold, the
    recording goes on without them and stderr says what a backtest of it will use instead."""
    from velocimex_cli.wire.errors import ApiError
    from velocimex_cli.wire.recording_terms import terms_of_markets

    fallback = "a backtest of the recording uses vmx's built-in terms for them"
    if markets is None:
        try:
            markets = factory.client().markets().get("markets", [])
        except ApiError as exc:
            factory.io.status(
                f"warning: the instruments' terms are not recorded (the markets listing: "
                f"{exc.message}); {fallback}"
            )
            return None
    terms, problems = terms_of_markets(markets or [], instruments)
    for problem in problems:
        factory.io.status(f"warning: terms not recorded: {problem}; {fallback}")
    return terms or None


def run_market(factory: Factory, opts: MarketOptions) -> int:
    check_limits(opts.count, opts.duration)
    client = stream_client(factory)
    terms = None
    if opts.record is not None:
        terms = recorded_terms(factory, opts.instruments or None)
    recorder = open_recorder(
        opts.record,
        stream="market",
        instruments=opts.instruments or None,
        channels=opts.channels,
        api_url=client.api_url,
        terms=terms,
    )
    return run_stream(
        factory,
        lambda: client.stream_market(opts.instruments or None, opts.channels),
        "market stream",
        opts.count,
        opts.duration,
        recorder,
    )


def run_orders(factory: Factory, opts: OrdersOptions) -> int:
    check_limits(opts.count, opts.duration)
    client = stream_client(factory)
    recorder = open_recorder(opts.record, stream="orders", api_url=client.api_url)
    return run_stream(factory, client.stream_orders, ORDERS, opts.count, opts.duration, recorder)


CHANNEL_HELP = "ticker, book or trades; repeat for several (default: all three)."

app = sub_app("Live streams as NDJSON: market data and your orders.")


def _channels(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    from velocimex_cli.wire.streams import CHANNELS

    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in CHANNELS:
                raise typer.BadParameter(
                    f"{part!r} is not a channel; use ticker, book or trades",
                    param_hint="'--channel'",
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def _instruments(values: list[str]) -> list[str]:
    for value in values:
        exchange, _, symbol = value.partition(":")
        if not exchange or not symbol:
            raise typer.BadParameter(
                f"{value!r} is not EXCHANGE:SYMBOL (e.g. BINANCE:BTC/USDT)",
                param_hint="'INSTRUMENTS'",
            )
    return values


@app.command("market")
def market_command(
    ctx: typer.Context,
    instruments: Annotated[
        list[str] | None,
        typer.Argument(
            help="EXCHANGE:SYMBOL ... (none: the default feed, every ticker).",
            autocompletion=completers.instruments,
        ),
    ] = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", "-c", help=CHANNEL_HELP)] = None,
    count: CountOption = None,
    duration: DurationOption = None,
    record: RecordOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Market data as NDJSON: tickers, book snapshots and deltas, trades."""
    fmt = stream_output(json, output)
    opts = MarketOptions(
        instruments=_instruments(instruments or []),
        channels=_channels(channel),
        count=count,
        duration=duration,
        record=record,
    )
    execute(ctx, run_market, opts, output=errors_as(fmt, json, output))


@app.command("orders")
def orders_command(
    ctx: typer.Context,
    count: CountOption = None,
    duration: DurationOption = None,
    record: RecordOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your account's order updates and fills as NDJSON."""
    fmt = stream_output(json, output)
    opts = OrdersOptions(count=count, duration=duration, record=record)
    execute(ctx, run_orders, opts, output=errors_as(fmt, json, output))


def errors_as(fmt: str, json_flag: bool, output: str | None) -> str | None:
    """Errors as JSON only when JSON was asked for; else as the configured output says."""
    return fmt if json_flag or output is not None else None
