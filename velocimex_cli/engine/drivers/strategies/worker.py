"""Inside a deployment's worker process: load the strategy, run its hooks, proxy its context.

The worker imports no engine: its `RemoteContext` turns every context call into a typed request
(protocol.py) to the node, which runs it against the engine (same order entry as a manual order)
and answers with the result or the API error, raised here into the strategy as its own class
(OrderNotOpen, InsufficientBalance, ...). An argument the protocol cannot carry (text where a
number goes, an object of no known kind, a name longer than any real one) is refused here with
INVALID_PARAMETER before anything is sent, so an honest worker never sends what the node would
refuse as a protocol violation. See isolation.py for the protocol.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from velocimex_cli.engine.drivers.strategies.isolation import (
    Channel,
    format_failure,
    limit_memory,
    silence_worker,
)
from velocimex_cli.engine.drivers.strategies.protocol import (
    FROM_CHECK,
    FROM_DEPLOYMENT,
    MAX_DECIMAL_DIGITS,
    MAX_FAILURE,
    MAX_FROM_WORKER,
    MAX_KNOWN,
    MAX_LOG_MESSAGE,
    MAX_REASON,
    MAX_TEXT,
    REQUESTS,
    TO_WORKER,
    Balance,
    Balances,
    BestAsk,
    BestBid,
    Book,
    Call,
    Cancel,
    CancelAll,
    CancelTimer,
    Decoder,
    DeploySpec,
    Described,
    Done,
    ErrorBody,
    Failed,
    GetFeeRates,
    GetInstrument,
    InstrumentFor,
    Known,
    Log,
    Mid,
    Now,
    OpenOrders,
    PlaceOrder,
    Position,
    ProtocolViolation,
    Quit,
    Raise,
    Ready,
    Request,
    SetTimer,
    Stop,
    StrategyDescription,
    Subscribe,
    answer_decoder,
    encode,
    known_answer,
    pack_value,
)
from velocimex_cli.engine.drivers.strategies.timers import interval_micros
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal

# Context reads a hook gets answered as of its start, until its first order or cancel (as in a
# backtest, where nothing else moves while a hook runs): once the worker has reported them for
# a hook, the node sends their answers with each call of that hook, saving a round trip each.
KNOWN_READS = frozenset(cls.__struct_config__.tag for cls in REQUESTS if cls.read)
_UNKNOWN: Any = object()


class NodeGone(Exception):
    """The node closed the pipe: the worker exits."""


class RemoteContext:
    """The StrategyContext protocol over the worker's pipe."""

    def __init__(self, channel: Channel, deployment_id: str) -> None:
        self._channel = channel
        self._deployment_id = deployment_id
        self._instrument: Any = None
        self._known: dict[Request, Any] = {}  # read -> its answer as of the hook's start
        self._reading = True  # the hook has not placed or canceled yet
        self.asked: list[Request] = []  # the reads the hook made until then

    def begin_hook(self, known: list[Known]) -> None:
        self._known = {entry.request: entry.answer for entry in known} if known else {}
        self._reading = True
        self.asked = []

    def _call(self, request: Request) -> Any:
        kind = type(request)
        if kind.writes:
            self._known = {}
            self._reading = False
        elif self._reading and kind.read:
            if len(self.asked) < MAX_KNOWN and request not in self.asked:
                self.asked.append(request)
            answer = self._known.get(request, _UNKNOWN)
            if answer is not _UNKNOWN:
                return known_answer(request, answer)
        try:
            frame = checked_frame(Call(request), FROM_DEPLOYMENT)
        except ValueError as exc:
            method = kind.__struct_config__.tag
            raise InvalidParameter(
                method, None, f"ctx.{method}: the engine cannot take these arguments ({exc})"
            ) from None
        try:
            self._channel.send_frame(frame)
            answer = self._channel.receive(answer_decoder(kind))
        except (EOFError, OSError, ProtocolViolation) as exc:
            raise NodeGone(str(exc)) from None
        if type(answer) is Raise:
            raise answer.error.exception()
        return answer.value

    @property
    def deployment_id(self) -> str:
        return self._deployment_id

    @property
    def instrument(self) -> Any:
        if self._instrument is None:
            self._instrument = self._call(GetInstrument())
        return self._instrument

    def instrument_for(self, exchange: str, symbol: str) -> Any:
        return self._call(InstrumentFor(_text("exchange", exchange), _text("symbol", symbol)))

    def subscribe(self, exchange: str, symbol: str) -> Any:
        return self._call(Subscribe(_text("exchange", exchange), _text("symbol", symbol)))

    def now(self) -> datetime:
        return self._call(Now())

    def set_timer(self, name: str, interval: Any, *, repeat: bool = True) -> None:
        self._call(SetTimer(_text("name", name), interval_micros(interval), bool(repeat)))

    def cancel_timer(self, name: str) -> None:
        self._call(CancelTimer(_text("name", name)))

    def place_order(
        self,
        side: str,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: str | None = None,
        post_only: bool = False,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> Any:
        return self._call(
            PlaceOrder(
                _text("side", side),
                _number("quantity", quantity),
                None if price is None else _number("price", price),
                _optional_text("time_in_force", time_in_force),
                bool(post_only),
                _optional_text("exchange", exchange),
                _optional_text("symbol", symbol),
            )
        )

    def buy(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("buy", quantity, price, **options)

    def sell(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("sell", quantity, price, **options)

    def cancel(self, order_id: str) -> Any:
        return self._call(Cancel(_text("order_id", str(order_id))))

    def cancel_all(self, exchange: str | None = None, symbol: str | None = None) -> int:
        return self._call(CancelAll(*_place(exchange, symbol)))

    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Any]:
        return self._call(OpenOrders(*_place(exchange, symbol)))

    def position(self, exchange: str | None = None, symbol: str | None = None) -> Any:
        return self._call(Position(*_place(exchange, symbol)))

    def balances(self) -> dict[str, Any]:
        return self._call(Balances())

    def balance(self, asset: str) -> Any:
        return self._call(Balance(_text("asset", str(asset))))

    def fee_rates(self) -> Any:
        return self._call(GetFeeRates())

    def best_bid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call(BestBid(*_place(exchange, symbol), bool(exclude_own)))

    def best_ask(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call(BestAsk(*_place(exchange, symbol), bool(exclude_own)))

    def mid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call(Mid(*_place(exchange, symbol), bool(exclude_own)))

    def book(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        depth: int = 10,
        *,
        exclude_own: bool = False,
    ) -> Any:
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 1000:
            raise InvalidParameter("depth", depth, "depth must be a whole number from 1 to 1000")
        return self._call(Book(*_place(exchange, symbol), depth, bool(exclude_own)))

    def log(self, message: str, level: str = "info") -> None:
        text = str(message)
        if len(text) > MAX_LOG_MESSAGE:
            text = text[: MAX_LOG_MESSAGE - 3] + "..."
        self._call(Log(text, _text("level", level)))

    def stop(self, reason: str = "completed") -> None:
        self._call(Stop(str(reason)[:MAX_REASON]))


# -- the arguments a strategy passes, made what the protocol carries ----------------------------
def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(name: str, value: object) -> str:
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    if isinstance(value, str):
        rule = f"{name} is at most {MAX_TEXT} characters"
    else:
        rule = f"{name} must be text, not {type(value).__name__} {_shown(value)}"
    raise InvalidParameter(name, _shown(value), rule)


def _optional_text(name: str, value: object) -> str | None:
    return None if value is None else _text(name, value)


def _place(exchange: object, symbol: object) -> tuple[str | None, str | None]:
    return _optional_text("exchange", exchange), _optional_text("symbol", symbol)


def _number(name: str, value: object) -> Decimal:
    """A quantity or price as the engine's order entry reads it (an int, a Decimal, decimal
    text, a float through its repr)."""
    number = parse_decimal(value)
    if number is None:
        raise InvalidParameter(name, _shown(value), f"{name} must be a number")
    if len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise InvalidParameter(
            name, _shown(value), f"{name} has more than {MAX_DECIMAL_DIGITS} digits"
        )
    return number


# -- the worker's own messages ---------------------------------------------------------------
def checked_frame(message: Any, decoder: Decoder[Any]) -> bytes:
    """`message` encoded, once the node's own decoder has accepted it (ValueError saying why
    not: the node would take it for a protocol violation)."""
    try:
        frame = encode(message)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
    if len(frame) > MAX_FROM_WORKER:
        raise ValueError(f"{len(frame)} bytes, more than the {MAX_FROM_WORKER} a message may take")
    try:
        decoder.decode(frame)
    except ProtocolViolation as exc:
        raise ValueError(str(exc)) from None
    return frame


def _send(channel: Channel, message: Any, decoder: Decoder[Any] = FROM_DEPLOYMENT) -> bool:
    """Send a message of the worker's own; one the node would not take is sent as a failure
    saying so (a Failed without its API error, if only the error's details did not fit)."""
    try:
        frame = checked_frame(message, decoder)
    except ValueError as exc:
        if isinstance(message, Failed) and message.error is not None:
            return _send(channel, Failed(message.message, message.traceback, None), decoder)
        text = f"the worker could not report its {type(message).__name__.lower()}: {exc}"
        frame = encode(Failed(text[:MAX_FAILURE], "", None))
    try:
        channel.send_frame(frame)
    except (OSError, ValueError):
        return False
    return True


def run_worker(channel: Channel, spec: DeploySpec, memory_bytes: int) -> None:
    """The worker's main: build the strategy, then run hooks until told to quit."""
    silence_worker()
    limit_memory(memory_bytes)
    out_of_memory = False
    context = RemoteContext(channel, spec.deployment_id)
    try:
        strategy = _build(context, spec)
    except NodeGone:
        return
    except MemoryError:
        out_of_memory = True
    except BaseException as exc:  # the class, its parameters or its __init__ failed
        _send(channel, _describe(exc))
        return
    if out_of_memory:  # reported outside the handler: the traceback held the memory
        _send(channel, _out_of_memory(memory_bytes))
        return
    ready = Ready(pack_value(strategy.config.to_json()), _overridden(type(strategy)))
    if not _send(channel, ready):
        return
    while True:
        try:
            message = channel.receive(TO_WORKER)
        except (EOFError, OSError, ProtocolViolation):
            return
        if type(message) is Quit:
            return
        context.begin_hook(message.known)  # type: ignore[union-attr]  # not Quit: a hook
        try:
            message.call(strategy)  # type: ignore[union-attr]  # not Quit: a hook
        except NodeGone:
            return
        except MemoryError:
            out_of_memory = True
        except BaseException as exc:
            _send(channel, _describe(exc))
            return
        if out_of_memory:
            _send(channel, _out_of_memory(memory_bytes))
            return
        if not _send(channel, Done(context.asked)):
            return


def run_check(
    channel: Channel,
    source: str,
    filename: str,
    memory_bytes: int,
) -> None:
    """Load a user file and describe its class (`vmx strategy add`), away from the engine."""
    silence_worker()
    limit_memory(memory_bytes)
    from velocimex_cli.engine.drivers.strategies.registry import describe_source

    try:
        described = describe_source(source, filename)
    except BaseException as exc:
        _send(channel, _describe(exc), FROM_CHECK)
        return
    try:
        description = StrategyDescription.of(described)
    except msgspec.ValidationError as exc:
        text = f"{filename}: the strategy's description does not fit: {exc}"
        _send(channel, Failed(text[:MAX_FAILURE], "", None), FROM_CHECK)
        return
    _send(channel, Described(description), FROM_CHECK)


def _out_of_memory(memory_bytes: int) -> Failed:
    limit = memory_bytes // 2**20
    return Failed(f"MemoryError: the strategy went past its memory limit ({limit} MiB)", "", None)


def _build(context: RemoteContext, spec: DeploySpec) -> Any:
    from velocimex_cli.engine.drivers.strategies.registry import load_class

    cls = load_class(spec.strategy_id, spec.source)
    config = cls.validate(spec.params)
    cls.check(config, spec.instrument)
    return cls(context, config)


def _overridden(cls: type[Any]) -> list[str]:
    """The hooks the class overrides: the node forwards only those (the others do nothing)."""
    from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy

    return [hook for hook in HOOKS if getattr(cls, hook) is not getattr(Strategy, hook)]


def _describe(exc: BaseException) -> Failed:
    from velocimex_cli.wire.errors import ApiError

    message, text = format_failure(exc)
    return Failed(message, text, ErrorBody.of(exc) if isinstance(exc, ApiError) else None)
