"""Inside a deployment's worker process: load the strategy, run its hooks, proxy its context.

The worker imports no engine: its `RemoteContext` turns every context call into a typed request
(protocol.py) to the node, which runs it against the engine (same order entry as a manual order)
and answers with the result or the API error, raised here into the strategy as its own class
(OrderNotOpen, InsufficientBalance, ...). An argument the protocol cannot carry (text where a
number goes, an object of no known kind, a name longer than any real one) is refused here with
INVALID_PARAMETER before anything is sent (the checks of operations.py, the same a backtest's
context makes), so an honest worker never sends what the node would refuse as a protocol
violation. See isolation.py for the protocol.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from velocimex_cli.engine.drivers.strategies.isolation import (
    Channel,
    format_failure,
    limit_memory,
    silence_worker,
)
from velocimex_cli.engine.drivers.strategies.operations import ContextCalls, Operation
from velocimex_cli.engine.drivers.strategies.protocol import (
    FROM_CHECK,
    FROM_DEPLOYMENT,
    MAX_FAILURE,
    MAX_FROM_WORKER,
    MAX_KNOWN,
    REQUEST_OF,
    TO_WORKER,
    Call,
    Decoder,
    DeploySpec,
    Described,
    Done,
    ErrorBody,
    Failed,
    HookName,
    Known,
    ProtocolViolation,
    Quit,
    Raise,
    Ready,
    Request,
    StrategyDescription,
    answer_decoder,
    encode,
    known_answer,
    pack_value,
)
from velocimex_cli.wire.errors import InvalidParameter

# Context reads a hook gets answered as of its start, until its first order or cancel (as in a
# backtest, where nothing else moves while a hook runs): once the worker has reported them for
# a hook, the node sends their answers with each call of that hook, saving a round trip each.
KNOWN_READS = frozenset(cls.operation.name for cls in REQUEST_OF.values() if cls.operation.ahead)
_UNKNOWN: Any = object()


class NodeGone(Exception):
    """The node closed the pipe: the worker exits."""


class RemoteContext(ContextCalls):
    """The StrategyContext over the worker's pipe: each operation (operations.py), checked,
    sent to the node as its protocol message; the answer returned, or its API error raised."""

    def __init__(self, channel: Channel, deployment_id: str) -> None:
        self._channel = channel
        self._deployment_id = deployment_id
        self._attributes = {}
        self._known: dict[Request, Any] = {}  # read -> its answer as of the hook's start
        self._reading = True  # the hook has not placed or canceled yet
        self.asked: list[Request] = []  # the reads the hook made until then

    @property
    def deployment_id(self) -> str:
        return self._deployment_id

    def begin_hook(self, known: list[Known]) -> None:
        self._known = {entry.request: entry.answer for entry in known} if known else {}
        self._reading = True
        self.asked = []

    def _perform(self, operation: Operation, values: tuple[Any, ...]) -> Any:
        kind = REQUEST_OF[operation.name]
        request = kind(*values)
        if operation.trades:
            self._known = {}
            self._reading = False
        elif self._reading and operation.ahead:
            if len(self.asked) < MAX_KNOWN and request not in self.asked:
                self.asked.append(request)
            answer = self._known.get(request, _UNKNOWN)
            if answer is not _UNKNOWN:
                return known_answer(request, answer)
        try:
            frame = checked_frame(Call(request), FROM_DEPLOYMENT)
        except ValueError as exc:
            method = operation.name
            raise InvalidParameter(
                method, None, f"ctx.{method}: the engine cannot take these arguments ({exc})"
            ) from None
        try:
            self._channel.send_frame(frame)
            answer = self._channel.receive(answer_decoder(kind))
        except (EOFError, OSError, ProtocolViolation) as exc:
            raise NodeGone(str(exc)) from None
        if isinstance(answer, Raise):
            raise answer.error.exception()
        return answer.value


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


def _overridden(cls: type[Any]) -> list[HookName]:
    """The hooks the class overrides: the node forwards only those (the others do nothing)."""
    from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy

    # HOOKS' keys are exactly HookName's values (the protocol's message tests hold them so).
    hooks = [hook for hook in HOOKS if getattr(cls, hook) is not getattr(Strategy, hook)]
    return cast("list[HookName]", hooks)


def _describe(exc: BaseException) -> Failed:
    from velocimex_cli.wire.errors import ApiError

    message, text = format_failure(exc)
    return Failed(message, text, ErrorBody.of(exc) if isinstance(exc, ApiError) else None)
