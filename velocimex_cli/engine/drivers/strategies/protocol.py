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

This module declares the messages and the codec; what travels inside them is declared beside
it: plain values and API errors in protocol_values.py, the context calls (one `Request` per
operation) in protocol_requests.py, a strategy's description in protocol_descriptions.py.
Every name a caller needs is importable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

import msgspec
from msgspec import Meta, Raw, Struct

from velocimex_cli.engine.drivers.strategies.context import (
    BookTop,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    TradeTick,
)
from velocimex_cli.engine.drivers.strategies.operations import Text
from velocimex_cli.engine.drivers.strategies.protocol_descriptions import (
    MAX_PARAMS,
    StrategyDescription,
)
from velocimex_cli.engine.drivers.strategies.protocol_requests import (
    REQUEST_OF,
    REQUESTS,
    AnyRequest,
    ReadRequest,
    Request,
)
from velocimex_cli.engine.drivers.strategies.protocol_values import (
    ErrorBody,
    ErrorName,
    Value,
    check_value,
    decimal_from_ext,
    pack_value,
)

# Frames: the engine reads at most this much of one message from a worker (checked on the
# length header, before any of the body is kept); a worker at most MAX_TO_WORKER from the node.
MAX_FROM_WORKER = 1 << 20
MAX_TO_WORKER = 64 << 20
MAX_FAILURE = 600  # a failure's one-line message
MAX_TRACEBACK = 4000
MAX_KNOWN = 16  # reads reported per hook

HookName = Literal["on_start", "on_book", "on_trade", "on_order", "on_fill", "on_timer", "on_stop"]


class ProtocolViolation(Exception):
    """What a worker sent is not a message of this protocol, or not one it may send now."""


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
        self._decode = msgspec.msgpack.Decoder(kind, ext_hook=decimal_from_ext).decode
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
        kind = Union[Reply[request.result], Raise]  # type: ignore[name-defined]  # the result type, known at run time  # noqa: UP007
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
    "REQUEST_OF",
    "RUN",
    "TO_WORKER",
    "Call",
    "CheckArguments",
    "DeployArguments",
    "DeploySpec",
    "Described",
    "Done",
    "ErrorBody",
    "ErrorName",
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
