"""The strategy context's operations, declared once.

Each `Operation` names one thing a strategy may ask of its context (context.StrategyContext
documents them for strategy authors): its arguments as the strategy passes them, each with the
check that turns it into what the engine takes (and the bounded type the worker protocol
carries it as), its result type, and whether it is a read or a command. Everything else is
driven from `OPERATIONS`:

- `ContextCalls`: the strategy-facing methods, built here. Each binds the strategy's
  arguments, checks them and hands the checked values to `_perform`. The in-process context
  (engine_context.LocalContext: backtests, tests) performs them on the engine directly; the
  worker's proxy (worker.RemoteContext) sends them to the node as a protocol message. So a
  strategy's argument mistake is the same INVALID_PARAMETER in a backtest and live.
- protocol.py: one message per operation (its fields: the arguments' wire types), which the
  node decodes and serves with the engine side (engine_context.EngineContext, one method per
  operation taking the checked values in declared order).

Adding an operation is one entry here plus its behaviour in EngineContext (and its line in
StrategyContext for strategy authors; a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from inspect import Parameter, Signature
from typing import Annotated, Any, Literal

from msgspec import Meta

from velocimex_cli.engine.drivers.strategies.context import (
    BalanceInfo,
    BookSnapshot,
    FeeRates,
    InstrumentSpec,
    OrderInfo,
    PositionInfo,
)
from velocimex_cli.engine.drivers.strategies.timers import interval_micros
from velocimex_cli.wire.errors import ApiError, InternalError, InvalidParameter, rebuild_error
from velocimex_cli.wire.numbers import parse_decimal

MAX_TEXT = 1000  # a name, an id, a symbol, a side: far more than any real one
MAX_LOG_MESSAGE = 2000
MAX_REASON = 500
MAX_DECIMAL_DIGITS = 100
MAX_DEPTH = 1000
MAX_INTERVAL_MICROS = 10 * 366 * 86_400 * 1_000_000  # ten years: no real timer is longer

# The bounded types the worker protocol carries the checked values as.
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
LogText = Annotated[str, Meta(max_length=MAX_LOG_MESSAGE)]
ReasonText = Annotated[str, Meta(max_length=MAX_REASON)]
Micros = Annotated[int, Meta(gt=0, le=MAX_INTERVAL_MICROS)]
Depth = Annotated[int, Meta(ge=1, le=MAX_DEPTH)]
UtcTime = Annotated[datetime, Meta(tz=True)]


# -- the checks: a strategy's argument -> the value the engine takes ---------------------------
def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def text(name: str, value: object) -> str:
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    if isinstance(value, str):
        rule = f"{name} is at most {MAX_TEXT} characters"
    else:
        rule = f"{name} must be text, not {type(value).__name__} {_shown(value)}"
    raise InvalidParameter(name, _shown(value), rule)


def optional_text(name: str, value: object) -> str | None:
    return None if value is None else text(name, value)


def any_text(name: str, value: object) -> str:
    """An id or an asset: whatever the strategy passes, as its text."""
    return text(name, str(value))


def number(name: str, value: object) -> Decimal:
    """A quantity or price as the engine's order entry reads it (an int, a Decimal, decimal
    text, a float through its repr)."""
    found = parse_decimal(value)
    if found is None:
        raise InvalidParameter(name, _shown(value), f"{name} must be a number")
    if len(found.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise InvalidParameter(
            name, _shown(value), f"{name} has more than {MAX_DECIMAL_DIGITS} digits"
        )
    return found


def optional_number(name: str, value: object) -> Decimal | None:
    return None if value is None else number(name, value)


def flag(name: str, value: object) -> bool:
    return bool(value)


def interval(name: str, value: object) -> int:
    micros = interval_micros(value, name)
    if micros > MAX_INTERVAL_MICROS:
        raise InvalidParameter(name, _shown(value), f"{name} is at most ten years")
    return micros


def depth(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEPTH:
        raise InvalidParameter(name, value, f"{name} must be a whole number from 1 to {MAX_DEPTH}")
    return value


def log_message(name: str, value: object) -> str:
    message = str(value)
    if len(message) > MAX_LOG_MESSAGE:
        message = message[: MAX_LOG_MESSAGE - 3] + "..."
    return message


def reason(name: str, value: object) -> str:
    return str(value)[:MAX_REASON]


# -- the declaration ---------------------------------------------------------------------------
REQUIRED: Any = Parameter.empty


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument: its name in the strategy's call, its wire type, its check, its default
    (REQUIRED: none), whether it is keyword-only, and the protocol field's name if another."""

    name: str
    wire: Any
    check: Callable[[str, Any], Any]
    default: Any = REQUIRED
    keyword_only: bool = False
    field: str = ""

    @property
    def field_name(self) -> str:
        return self.field or self.name


@dataclass(frozen=True, slots=True)
class Operation:
    """One context operation.

    kind: a read (answers, changes nothing) or a command (acts).
    ahead: a read the node may answer as of a hook's start, sent with the hook (see
        worker.RemoteContext): the answers that stay true while nothing trades.
    trades: a command that places or cancels orders: the hook's reads known ahead end there.
    attribute: read as `ctx.<name>` (a property), not called.
    """

    name: str
    kind: Literal["read", "command"]
    args: tuple[Arg, ...] = ()
    result: Any = None
    ahead: bool = False
    trades: bool = False
    attribute: bool = False
    message: str = ""  # the protocol message's class name, when not the name in CamelCase

    @property
    def message_name(self) -> str:
        return self.message or "".join(part.title() for part in self.name.split("_"))

    @property
    def signature(self) -> Signature:
        """The strategy-facing signature (with `self`)."""
        parameters = [Parameter("self", Parameter.POSITIONAL_OR_KEYWORD)]
        for arg in self.args:
            kind = Parameter.KEYWORD_ONLY if arg.keyword_only else Parameter.POSITIONAL_OR_KEYWORD
            parameters.append(Parameter(arg.name, kind, default=arg.default))
        return Signature(parameters)


def _read(name: str, args: tuple[Arg, ...], result: Any, **more: Any) -> Operation:
    return Operation(name, "read", args, result, **more)


def _command(name: str, args: tuple[Arg, ...], result: Any = None, **more: Any) -> Operation:
    return Operation(name, "command", args, result, **more)


_WHERE = (
    Arg("exchange", Text | None, optional_text, None),
    Arg("symbol", Text | None, optional_text, None),
)
_INSTRUMENT = (Arg("exchange", Text, text), Arg("symbol", Text, text))
_EXCLUDE_OWN = (Arg("exclude_own", bool, flag, False, keyword_only=True),)

OPERATIONS: tuple[Operation, ...] = (
    _read("instrument", (), InstrumentSpec, attribute=True, message="GetInstrument"),
    _read("instrument_for", _INSTRUMENT, InstrumentSpec),
    _command("subscribe", _INSTRUMENT, InstrumentSpec),
    _read("now", (), UtcTime),
    _command(
        "set_timer",
        (
            Arg("name", Text, text),
            Arg("interval", Micros, interval, field="interval_micros"),
            Arg("repeat", bool, flag, True, keyword_only=True),
        ),
    ),
    _command("cancel_timer", (Arg("name", Text, text),)),
    _command(
        "place_order",
        (
            Arg("side", Text, text),
            Arg("quantity", Decimal, number),
            Arg("price", Decimal | None, optional_number, None),
            Arg("time_in_force", Text | None, optional_text, None, keyword_only=True),
            Arg("post_only", bool, flag, False, keyword_only=True),
            Arg("exchange", Text | None, optional_text, None, keyword_only=True),
            Arg("symbol", Text | None, optional_text, None, keyword_only=True),
        ),
        OrderInfo,
        trades=True,
    ),
    _command("cancel", (Arg("order_id", Text, any_text),), OrderInfo, trades=True),
    _command("cancel_all", _WHERE, int, trades=True),
    _read("open_orders", _WHERE, list[OrderInfo], ahead=True),
    _read("position", _WHERE, PositionInfo, ahead=True),
    _read("balances", (), dict[str, BalanceInfo], ahead=True),
    _read("balance", (Arg("asset", Text, any_text),), BalanceInfo, ahead=True),
    _read("fee_rates", _WHERE, FeeRates, ahead=True, message="GetFeeRates"),
    _read("best_bid", _WHERE + _EXCLUDE_OWN, Decimal | None, ahead=True),
    _read("best_ask", _WHERE + _EXCLUDE_OWN, Decimal | None, ahead=True),
    _read("mid", _WHERE + _EXCLUDE_OWN, Decimal | None, ahead=True),
    _read(
        "book", (*_WHERE, Arg("depth", Depth, depth, 10), *_EXCLUDE_OWN), BookSnapshot, ahead=True
    ),
    _command("log", (Arg("message", LogText, log_message), Arg("level", Text, text, "info"))),
    _command("stop", (Arg("reason", ReasonText, reason, "completed"),)),
)
OPERATION: dict[str, Operation] = {operation.name: operation for operation in OPERATIONS}


def api_error_of(exc: BaseException) -> ApiError:
    """Any exception an operation raised, as the API error the strategy gets: TypeError and
    ValueError are the caller's INVALID_PARAMETER, anything else unexpected an
    INTERNAL_ERROR."""
    if isinstance(exc, ApiError):
        return exc
    kind = InvalidParameter if isinstance(exc, TypeError | ValueError) else InternalError
    return rebuild_error(kind, f"{type(exc).__name__}: {exc}")


# -- the strategy-facing side ------------------------------------------------------------------
class ContextCalls:
    """A StrategyContext whose operations are built from OPERATIONS: a subclass gives
    `deployment_id` and `_perform` (what to do with an operation's checked values)."""

    _attributes: dict[str, Any]  # attribute operations' answers (they never change)

    @property
    def deployment_id(self) -> str:
        raise NotImplementedError

    def _perform(self, operation: Operation, values: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def buy(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("buy", quantity, price, **options)  # type: ignore[attr-defined]  # generated from OPERATIONS

    def sell(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("sell", quantity, price, **options)  # type: ignore[attr-defined]  # generated from OPERATIONS


def _method(operation: Operation) -> Callable[..., Any]:
    """The strategy-facing method: its signature the declared one (so Python itself binds
    the arguments, and words a wrong call as for any method), each argument checked in
    declared order. Generated as source, as dataclasses does: called per event in a
    backtest, it must cost little more than the call it makes."""
    namespace: dict[str, Any] = {"_operation": operation}
    parameters, values = ["self"], []
    keyword = False
    for index, arg in enumerate(operation.args):
        if arg.keyword_only and not keyword:
            parameters.append("*")
            keyword = True
        namespace[f"_check{index}"] = arg.check
        if arg.default is REQUIRED:
            parameters.append(arg.name)
        else:
            namespace[f"_default{index}"] = arg.default
            parameters.append(f"{arg.name}=_default{index}")
        checked = f"_check{index}({arg.name!r}, {arg.name})"
        if arg.check is optional_text or arg.check is optional_number:
            checked = f"(None if {arg.name} is None else {checked})"
        elif arg.check is flag:
            checked = f"({arg.name} if {arg.name} is True or {arg.name} is False else {checked})"
        values.append(checked + ",")
    source = (
        f"def {operation.name}({', '.join(parameters)}):\n"
        f"    return self._perform(_operation, ({' '.join(values)}))\n"
    )
    exec(compile(source, f"<context operation {operation.name}>", "exec"), namespace)
    method = namespace[operation.name]
    method.__qualname__ = f"ContextCalls.{operation.name}"
    method.__module__ = __name__
    return method


def _attribute(operation: Operation) -> property:
    name = operation.name

    def get(self: ContextCalls) -> Any:
        kept = self._attributes
        if name not in kept:
            kept[name] = self._perform(operation, ())
        return kept[name]

    get.__name__ = name
    return property(get)


for _operation in OPERATIONS:
    setattr(
        ContextCalls,
        _operation.name,
        _attribute(_operation) if _operation.attribute else _method(_operation),
    )


__all__ = [
    "MAX_DECIMAL_DIGITS",
    "MAX_LOG_MESSAGE",
    "MAX_REASON",
    "MAX_TEXT",
    "OPERATION",
    "OPERATIONS",
    "Arg",
    "ContextCalls",
    "Operation",
    "Text",
    "UtcTime",
    "api_error_of",
]
