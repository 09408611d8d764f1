"""The strategy worker protocol: every message between the engine and a strategy's worker
process, declared once here and used by both ends.

Strategy code is untrusted, and its worker shares a socket with the engine: the strategy can
write anything to it. So nothing the worker sends is unpickled or evaluated. Each message is a
msgspec Struct encoded with MessagePack behind its 4-byte length (isolation.Channel), and the
engine decodes what a worker sends only into the fixed set of types below: a tagged union per
direction, typed fields, bounded strings and lists, a bounded frame. Anything else (garbage, a
pickle, an unknown message or context call, a wrong field type, an oversized frame) is a
`ProtocolViolation`, which ends that deployment (or refuses the upload being checked).

node -> worker
    Run (first, once): the worker function and its arguments.
    OnStart, OnBook, OnTrade, OnOrder, OnFill, OnTimer, OnStop ("hook" messages): run one
        hook; `known` answers the reads the worker reported for that hook last time.
    Reply / Raise: the answer to the context call the worker is blocked on (a Raise names the
        exact ApiError class, so the strategy can catch OrderNotOpen, InsufficientBalance...).
    Quit.
worker -> node (deployment)
    Ready (the strategy is built: its validated parameters and the hooks it overrides),
    Call (one context call: a `Request`, one per operation of operations.py, typed arguments),
    Done (the hook returned, with the reads it made before its first order or cancel),
    Failed (the start or a hook raised: message, traceback, and the API error if it was one).
worker -> node (upload check)
    Described (what GET /v1/strategies shows of the file), Failed.

Money stays Decimal and time timezone-aware UTC across: typed Decimal fields travel as their
exact text (a Decimal subclass such as the ledger's PlainDecimal arrives as a plain Decimal of
the same value), datetimes as MessagePack timestamps (decoded as UTC). Where a value has no fixed
type (parameters, error details, parameter descriptions: a `Value`), a Decimal travels as an
extension of its own (DECIMAL_EXT) so that it does not come back as a str.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union

import msgspec
from msgspec import Meta, Raw, Struct

from velocimex_cli.engine.drivers.strategies.base import STRATEGY_ID
from velocimex_cli.engine.drivers.strategies.context import (
    BookTop,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    TradeTick,
)
from velocimex_cli.engine.drivers.strategies.operations import (
    MAX_DECIMAL_DIGITS,
    MAX_TEXT,
    OPERATIONS,
    Operation,
    Text,
    api_error_of,
)
from velocimex_cli.engine.drivers.strategies.params import PARAM_NAME
from velocimex_cli.wire.errors import ERROR_CLASSES, ApiError, rebuild_error

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.engine_context import LocalContext

# Frames: the engine reads at most this much of one message from a worker (checked on the
# length header, before any of the body is kept); a worker at most MAX_TO_WORKER from the node.
MAX_FROM_WORKER = 1 << 20
MAX_TO_WORKER = 64 << 20
MAX_FAILURE = 600  # a failure's one-line message
MAX_TRACEBACK = 4000
MAX_ERROR_MESSAGE = 2000
MAX_DESCRIPTION = 10_000
MAX_PARAMS = 100
MAX_CHOICES = 1000
MAX_KNOWN = 16  # reads reported per hook
MAX_VALUE_DEPTH = 6
DECIMAL_EXT = 1  # MessagePack extension code of a Decimal inside a Value: its ASCII text

HookName = Literal["on_start", "on_book", "on_trade", "on_order", "on_fill", "on_timer", "on_stop"]
ErrorName = Literal[
    "ApiError", "AuthenticationError", "InvalidParameter", "OrderNotOpen", "IdempotencyConflict",
    "RiskLimitExceeded", "RateLimitExceeded", "InsufficientBalance", "MarketClosed",
    "InternalError", "NotFound", "PermissionDenied", "StorageUnavailable",
]  # fmt: skip
# A Value: None, bool, int, float (passed through as given, e.g. a parameter from a Python
# caller: never computed with), str, Decimal, an aware datetime, or a list / str-keyed dict of
# Values, at most MAX_VALUE_DEPTH deep (checked by check_value on decoding).
Value = Any


class ProtocolViolation(Exception):
    """What a worker sent is not a message of this protocol, or not one it may send now."""


# ------------------------------------------------------------------------------ plain values
def pack_value(value: Any, depth: int = 0) -> Any:
    """`value` ready for a Value field: Decimals as DECIMAL_EXT, tuples as lists, dict keys as
    str; anything else that is not plain data becomes its str()."""
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)  # beyond what MessagePack carries as a number
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return msgspec.msgpack.Ext(DECIMAL_EXT, str(value).encode("ascii"))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if depth < MAX_VALUE_DEPTH:
        if isinstance(value, list | tuple):
            return [pack_value(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {str(key): pack_value(item, depth + 1) for key, item in value.items()}
    return str(value)


def check_value(value: Any, depth: int = 0) -> None:
    """Raise ValueError unless `value` is a Value (decoded, or packed for sending)."""
    if value is None or isinstance(value, bool | int | float | str | Decimal | datetime):
        return
    if isinstance(value, msgspec.msgpack.Ext) and value.code == DECIMAL_EXT:
        return
    if depth >= MAX_VALUE_DEPTH:
        raise ValueError(f"a value nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"a value's key is a {type(key).__name__}, not text")
            check_value(item, depth + 1)
    else:
        raise ValueError(f"a value of type {type(value).__name__}")


def _decimal_from_ext(code: int, data: memoryview) -> Decimal:
    if code != DECIMAL_EXT or len(data) > MAX_DECIMAL_DIGITS + 20:
        raise ValueError(f"unknown MessagePack extension {code} ({len(data)} bytes)")
    return Decimal(bytes(data).decode("ascii"))


def _check_decimal(name: str, value: Decimal | None) -> None:
    if value is not None and len(value.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"{name} has more than {MAX_DECIMAL_DIGITS} digits")


# ------------------------------------------------------------------------------ errors
class ErrorBody(Struct, array_like=True):
    """An API error crossing the pipe: its exact class, message and details."""

    type: ErrorName
    message: Annotated[str, Meta(max_length=MAX_ERROR_MESSAGE)]
    details: dict[Text, Value]

    def __post_init__(self) -> None:
        check_value(self.details)

    @classmethod
    def of(cls, exc: ApiError) -> ErrorBody:
        """The body of `exc`: its class, or the nearest one the protocol names (a subclass of
        the engine's own, such as a strategy's, travels as its nearest named ancestor)."""
        name = next(k.__name__ for k in type(exc).__mro__ if ERROR_CLASSES.get(k.__name__) is k)
        message = str(exc.message)
        if len(message) > MAX_ERROR_MESSAGE:
            message = message[: MAX_ERROR_MESSAGE - 3] + "..."
        details = exc.details if isinstance(exc.details, dict) else {}
        return cls(name, message, pack_value(details))  # type: ignore[arg-type]  # an ErrorName (tested)

    @classmethod
    def of_exception(cls, exc: BaseException) -> ErrorBody:
        """Any exception as an API error: TypeError and ValueError are the caller's
        INVALID_PARAMETER, anything else unexpected an INTERNAL_ERROR."""
        return cls.of(api_error_of(exc))

    def exception(self) -> ApiError:
        return rebuild_error(ERROR_CLASSES[self.type], self.message, self.details)

    def body(self) -> dict[str, Any]:
        """The API's error response body ({"error": {"code", "message", "details"}})."""
        return self.exception().to_body()


# ------------------------------------------------------------------------------ context calls
class Request(Struct, frozen=True, array_like=True, tag_field="method"):
    """One context call and its arguments: one subclass per operation of
    operations.OPERATIONS (its tag the operation's name, its fields the operation's arguments
    in their wire types), built below, never written by hand."""

    operation: ClassVar[Operation]
    result: ClassVar[Any] = None  # the type the answer decodes as

    def apply(self, context: LocalContext) -> Any:
        """Serve this call with the engine side of `context` (the host's LocalContext)."""
        return getattr(context.engine, self.operation.name)(*msgspec.structs.astuple(self))


def _check_decimals(self: Request) -> None:
    for name in self.operation_decimals:  # type: ignore[attr-defined]  # set by _request_class
        _check_decimal(name, getattr(self, name))


def _request_class(operation: Operation) -> type[Request]:
    namespace: dict[str, Any] = {
        "operation": operation,
        "result": operation.result,
        "__doc__": f"ctx.{operation.name}: {operation.kind}.",
    }
    decimals = tuple(
        arg.field_name for arg in operation.args if arg.wire in (Decimal, Decimal | None)
    )
    if decimals:  # at most MAX_DECIMAL_DIGITS digits, checked on decoding
        namespace["operation_decimals"] = decimals
        namespace["__post_init__"] = _check_decimals
    # defstruct builds a subclass of Request (bases below), which its stub cannot say.
    return msgspec.defstruct(  # type: ignore[return-value]  # a Request subclass
        operation.message_name,
        [(arg.field_name, arg.wire) for arg in operation.args],
        bases=(Request,),
        tag=operation.name,
        frozen=True,
        array_like=True,
        namespace=namespace,
        module=__name__,
    )


REQUESTS: tuple[type[Request], ...] = tuple(_request_class(op) for op in OPERATIONS)
REQUEST_OF: dict[str, type[Request]] = {cls.operation.name: cls for cls in REQUESTS}
globals().update({cls.__name__: cls for cls in REQUESTS})  # protocol.PlaceOrder, ...
if TYPE_CHECKING:  # the checker sees the base; msgspec decodes by the tagged union below
    AnyRequest = Request
    ReadRequest = Request
else:
    AnyRequest = Union[REQUESTS]  # noqa: UP007
    ReadRequest = Union[tuple(cls for cls in REQUESTS if cls.operation.ahead)]  # noqa: UP007


# ------------------------------------------------------------------------------ node -> worker
class Message(Struct, array_like=True, tag_field="kind"):
    """A message of either direction: encoded as an array led by its tag."""


class Known(Struct, array_like=True):
    """A read the worker made in this hook last time, answered as of now (its answer encoded
    on its own: the worker decodes it with the read's result type only if it asks again)."""

    request: AnyRequest
    answer: Raw


class Hook(Message):
    """Run one hook of the strategy (the subclasses: one per hook)."""

    known: list[Known]

    def call(self, strategy: Any) -> None:
        raise NotImplementedError


class OnStart(Hook, tag="on_start"):
    def call(self, strategy: Any) -> None:
        strategy.on_start()


class OnBook(Hook, tag="on_book"):
    book: BookTop

    def call(self, strategy: Any) -> None:
        strategy.on_book(self.book)


class OnTrade(Hook, tag="on_trade"):
    trade: TradeTick

    def call(self, strategy: Any) -> None:
        strategy.on_trade(self.trade)


class OnOrder(Hook, tag="on_order"):
    order: OrderInfo

    def call(self, strategy: Any) -> None:
        strategy.on_order(self.order)


class OnFill(Hook, tag="on_fill"):
    fill: FillInfo

    def call(self, strategy: Any) -> None:
        strategy.on_fill(self.fill)


class OnTimer(Hook, tag="on_timer"):
    name: str

    def call(self, strategy: Any) -> None:
        strategy.on_timer(self.name)


class OnStop(Hook, tag="on_stop"):
    def call(self, strategy: Any) -> None:
        strategy.on_stop()


# hook name -> its message, built as HOOK_MESSAGES[name](known, *the hook's arguments)
HOOK_MESSAGES: dict[str, type[Hook]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]  # every hook message has a str tag
    for cls in (OnStart, OnBook, OnTrade, OnOrder, OnFill, OnTimer, OnStop)
}

T = TypeVar("T")


class Reply(Message, Generic[T], tag="reply"):
    """The answer to the worker's context call."""

    value: T


class Raise(Message, tag="raise"):
    """The context call failed: raise this API error into the strategy."""

    error: ErrorBody


class Quit(Message, tag="quit"):
    pass


class DeploySpec(Struct, array_like=True):
    """What a deployment's worker builds its strategy from."""

    deployment_id: str
    strategy_id: str
    source: str | None  # a user strategy's file; None for a built-in
    params: dict[str, Value]  # as the deploy request gave them (pack_value)
    instrument: InstrumentSpec


class DeployArguments(Struct, array_like=True, tag="deploy"):
    spec: DeploySpec
    memory_bytes: int

    def positional(self) -> tuple[Any, ...]:
        return (self.spec, self.memory_bytes)


class CheckArguments(Struct, array_like=True, tag="check"):
    source: str
    filename: str
    memory_bytes: int

    def positional(self) -> tuple[Any, ...]:
        return (self.source, self.filename, self.memory_bytes)


class PlainArguments(Struct, array_like=True, tag="plain"):
    """Any other worker function's arguments: plain values (pack_value)."""

    values: list[Value]

    def positional(self) -> tuple[Any, ...]:
        return tuple(self.values)


class Run(Message, tag="run"):
    """The first message: the worker function to run (module and name) and its arguments."""

    module: str
    function: str
    arguments: DeployArguments | CheckArguments | PlainArguments

    @classmethod
    def of(cls, target: Callable[..., None], args: tuple[Any, ...]) -> Run:
        name = target.__name__
        arguments: DeployArguments | CheckArguments | PlainArguments
        if name == "run_worker":
            arguments = DeployArguments(*args)
        elif name == "run_check":
            arguments = CheckArguments(*args)
        else:
            arguments = PlainArguments([pack_value(arg) for arg in args])
        return cls(target.__module__, name, arguments)


# ------------------------------------------------------------------------------ worker -> node
class Ready(Message, tag="ready"):
    """The strategy is built: its validated parameters, the hooks its class overrides."""

    params: Annotated[dict[Text, Value], Meta(max_length=MAX_PARAMS)]
    hooks: Annotated[list[HookName], Meta(max_length=len(HOOK_MESSAGES))]

    def __post_init__(self) -> None:
        check_value(self.params)


class Call(Message, tag="call"):
    request: AnyRequest


class Done(Message, tag="done"):
    """The hook returned; these are the reads it made before its first order or cancel."""

    reads: Annotated[list[ReadRequest], Meta(max_length=MAX_KNOWN)]


class Failed(Message, tag="failed"):
    """The start, the hook or the check raised."""

    message: Annotated[str, Meta(max_length=MAX_FAILURE)]
    traceback: Annotated[str, Meta(max_length=MAX_TRACEBACK + 10)]
    error: ErrorBody | None  # when it was an API error


class ParamDescription(Struct, forbid_unknown_fields=True):
    """One declared parameter as GET /v1/strategies lists it (params.Param.describe)."""

    name: Annotated[str, Meta(pattern=PARAM_NAME.pattern)]
    type: Literal["int", "decimal", "str", "bool", "choice"]
    value_type: Literal["int", "decimal", "str", "bool"]
    required: bool
    default: Value
    min: Value
    max: Value
    choices: Annotated[list[Value], Meta(max_length=MAX_CHOICES)] | None
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION)]

    def __post_init__(self) -> None:
        check_value([self.default, self.min, self.max, self.choices])


class StrategyDescription(Struct, forbid_unknown_fields=True):
    """A strategy class as GET /v1/strategies lists it (base.Strategy.describe)."""

    strategy_id: Annotated[str, Meta(pattern=STRATEGY_ID.pattern)]
    name: Annotated[str, Meta(max_length=MAX_TEXT)]
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION)]
    params: Annotated[list[ParamDescription], Meta(max_length=MAX_PARAMS)]

    @classmethod
    def of(cls, described: dict[str, Any]) -> StrategyDescription:
        """Check a description against the protocol (msgspec.ValidationError says how it
        does not fit) and pack its values for sending."""
        return msgspec.convert(pack_value(described), cls)

    def to_dict(self) -> dict[str, Any]:
        described = msgspec.structs.asdict(self)
        described["params"] = [msgspec.structs.asdict(param) for param in self.params]
        return described


class Described(Message, tag="described"):
    strategy: StrategyDescription


FromDeployment = Union[Ready, Call, Done, Failed]  # noqa: UP007
FromCheck = Union[Described, Failed]  # noqa: UP007
ToWorker = Union[OnStart, OnBook, OnTrade, OnOrder, OnFill, OnTimer, OnStop, Quit]  # noqa: UP007


# ------------------------------------------------------------------------------ the codec
class Decoder(Generic[T]):
    """Decodes one kind of frame into its declared types; anything else is a
    ProtocolViolation saying what was wrong (never an exception of another kind)."""

    __slots__ = ("_decode", "what")

    def __init__(self, kind: Any, what: str) -> None:
        self._decode = msgspec.msgpack.Decoder(kind, ext_hook=_decimal_from_ext).decode
        self.what = what

    def decode(self, frame: bytes | bytearray | memoryview) -> T:
        try:
            return self._decode(frame)
        except Exception as exc:  # msgspec's errors, RecursionError, a bad extension...
            raise ProtocolViolation(f"not {self.what}: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _encode_other(value: Any) -> Any:
    """What msgspec does not encode itself: a Decimal subclass (the ledger's PlainDecimal)
    travels as the Decimal it is."""
    if isinstance(value, Decimal):
        return Decimal(value)
    raise NotImplementedError(f"a {type(value).__name__} has no place in the protocol")


_encoder = msgspec.msgpack.Encoder(enc_hook=_encode_other)
encode = _encoder.encode
encode_into = _encoder.encode_into

FROM_DEPLOYMENT: Decoder[Ready | Call | Done | Failed] = Decoder(
    FromDeployment, "a deployment worker's message (ready, call, done or failed)"
)
FROM_CHECK: Decoder[Described | Failed] = Decoder(
    FromCheck, "an upload check's message (described or failed)"
)
TO_WORKER: Decoder[Hook | Quit] = Decoder(ToWorker, "a hook or quit")
RUN: Decoder[Run] = Decoder(Run, "a run message")
_answers: dict[type[Request], Decoder[Any]] = {}
_known_answers: dict[type[Request], Decoder[Any]] = {}


def answer_decoder(request: type[Request]) -> Decoder[Reply[Any] | Raise]:
    """The decoder of the node's answer to `request`: its Reply typed by the request's result."""
    found = _answers.get(request)
    if found is None:
        kind = Union[Reply[request.result], Raise]  # type: ignore[name-defined]  # noqa: UP007
        found = _answers[request] = Decoder(kind, f"the answer to {request.__name__}")
    return found


def known_answer(request: Request, answer: Raw) -> Any:
    """A Known read's answer decoded as its request's result."""
    cls = type(request)
    found = _known_answers.get(cls)
    if found is None:
        found = _known_answers[cls] = Decoder(cls.result, f"the answer to {cls.__name__}")
    return found.decode(answer)


def known(request: Request, answer: Any) -> Known:
    """A read and its answer, for a hook message."""
    return Known(request, Raw(encode(answer)))


__all__ = [
    "FROM_CHECK",
    "FROM_DEPLOYMENT",
    "HOOK_MESSAGES",
    "MAX_FROM_WORKER",
    "MAX_KNOWN",
    "MAX_TO_WORKER",
    "REQUESTS",
    "RUN",
    "TO_WORKER",
    "Call",
    "CheckArguments",
    "DeployArguments",
    "DeploySpec",
    "Described",
    "Done",
    "ErrorBody",
    "Failed",
    "Hook",
    "Known",
    "ProtocolViolation",
    "Quit",
    "Raise",
    "Ready",
    "Reply",
    "Request",
    "Run",
    "StrategyDescription",
    "answer_decoder",
    "check_value",
    "encode",
    "known",
    "known_answer",
    "pack_value",
]
