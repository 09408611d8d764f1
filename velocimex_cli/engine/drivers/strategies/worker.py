"""Inside a deployment's worker process: load the strategy, run its hooks, proxy its context.

The worker imports no engine: its `RemoteContext` turns every context call into a message to
the node, which runs it against the engine (same order entry as a manual order) and answers
with the result or the API error, raised here into the strategy. See isolation.py for the
protocol.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.drivers.strategies.isolation import (
    Channel,
    format_failure,
    limit_memory,
    silence_worker,
)

MAX_LOG_MESSAGE = 2000
# Context reads a hook gets answered as of its start, until its first order or cancel (as in a
# backtest, where nothing else moves while a hook runs): once the worker has reported them for
# a hook, the node sends their answers with each call of that hook, saving a round trip each.
KNOWN_READS = frozenset(
    {"mid", "best_bid", "best_ask", "book", "position", "open_orders", "balances", "balance",
     "fee_rates"}
)  # fmt: skip
WRITES = frozenset({"place_order", "cancel", "cancel_all"})
MAX_KNOWN = 16  # reads reported per hook
_UNKNOWN = object()


class NodeGone(Exception):
    """The node closed the pipe: the worker exits."""


class RemoteContext:
    """The StrategyContext protocol over the worker's pipe."""

    def __init__(self, channel: Channel, deployment_id: str) -> None:
        self._channel = channel
        self._deployment_id = deployment_id
        self._instrument: Any = None
        self._known: dict[Any, Any] = {}  # read -> its answer as of the hook's start
        self._reading = True  # the hook has not placed or cancelled yet
        self.asked: list[Any] = []  # the reads the hook made until then

    def begin_hook(self, known: dict[Any, Any] | None) -> None:
        self._known = known or {}
        self._reading = True
        self.asked = []

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method in WRITES:
            self._known = {}
            self._reading = False
        elif self._reading and method in KNOWN_READS:
            answer = self._known_answer((method, args, tuple(sorted(kwargs.items()))))
            if answer is not _UNKNOWN:
                return answer
        try:
            self._channel.send(("call", method, args, kwargs))
            answer = self._channel.receive()
        except (EOFError, OSError) as exc:
            raise NodeGone(str(exc)) from None
        if answer[0] == "reply":
            return answer[1]
        from velocimex_cli.wire.errors import error_from_body

        raise error_from_body(answer[1])

    def _known_answer(self, read: tuple[Any, ...]) -> Any:
        try:
            answer = self._known.get(read, _UNKNOWN)
        except TypeError:  # an unhashable argument: asked of the node, not reported
            return _UNKNOWN
        if read not in self.asked and len(self.asked) < MAX_KNOWN:
            self.asked.append(read)
        if isinstance(answer, list | dict):
            return answer.copy()  # the strategy may change what it got
        return answer

    @property
    def deployment_id(self) -> str:
        return self._deployment_id

    @property
    def instrument(self) -> Any:
        if self._instrument is None:
            self._instrument = self._call("instrument")
        return self._instrument

    def instrument_for(self, exchange: str, symbol: str) -> Any:
        return self._call("instrument_for", exchange, symbol)

    def subscribe(self, exchange: str, symbol: str) -> Any:
        return self._call("subscribe", exchange, symbol)

    def now(self) -> datetime:
        return self._call("now")

    def set_timer(self, name: str, interval: Any, *, repeat: bool = True) -> None:
        self._call("set_timer", name, interval, repeat=repeat)

    def cancel_timer(self, name: str) -> None:
        self._call("cancel_timer", name)

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
            "place_order",
            side,
            quantity,
            price,
            time_in_force=time_in_force,
            post_only=post_only,
            exchange=exchange,
            symbol=symbol,
        )

    def buy(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("buy", quantity, price, **options)

    def sell(self, quantity: Decimal, price: Decimal | None = None, **options: Any) -> Any:
        return self.place_order("sell", quantity, price, **options)

    def cancel(self, order_id: str) -> Any:
        return self._call("cancel", order_id)

    def cancel_all(self, exchange: str | None = None, symbol: str | None = None) -> int:
        return self._call("cancel_all", exchange, symbol)

    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Any]:
        return self._call("open_orders", exchange, symbol)

    def position(self, exchange: str | None = None, symbol: str | None = None) -> Any:
        return self._call("position", exchange, symbol)

    def balances(self) -> dict[str, Any]:
        return self._call("balances")

    def balance(self, asset: str) -> Any:
        return self._call("balance", asset)

    def fee_rates(self) -> Any:
        return self._call("fee_rates")

    def best_bid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call("best_bid", exchange, symbol, exclude_own=exclude_own)

    def best_ask(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call("best_ask", exchange, symbol, exclude_own=exclude_own)

    def mid(
        self, exchange: str | None = None, symbol: str | None = None, *, exclude_own: bool = False
    ) -> Decimal | None:
        return self._call("mid", exchange, symbol, exclude_own=exclude_own)

    def book(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        depth: int = 10,
        *,
        exclude_own: bool = False,
    ) -> Any:
        return self._call("book", exchange, symbol, depth, exclude_own=exclude_own)

    def log(self, message: str, level: str = "info") -> None:
        text = str(message)
        if len(text) > MAX_LOG_MESSAGE:
            text = text[: MAX_LOG_MESSAGE - 3] + "..."
        self._call("log", text, level)

    def stop(self, reason: str = "completed") -> None:
        self._call("stop", str(reason)[:500])


def run_worker(channel: Channel, spec: dict[str, Any], memory_bytes: int) -> None:
    """The worker's main: build the strategy, then run hooks until told to quit."""
    silence_worker()
    limit_memory(memory_bytes)
    out_of_memory = False
    context = RemoteContext(channel, spec["deployment_id"])
    try:
        strategy = _build(context, spec)
    except NodeGone:
        return
    except MemoryError:
        out_of_memory = True
    except BaseException as exc:  # the class, its parameters or its __init__ failed
        _send(channel, ("failed", *_describe(exc)))
        return
    if out_of_memory:  # reported outside the handler: the traceback held the memory
        _send(channel, ("failed", *_out_of_memory(memory_bytes)))
        return
    _send(channel, ("ready", strategy.config.to_json(), _overridden(type(strategy))))
    while True:
        try:
            message = channel.receive()
        except (EOFError, OSError):
            return
        if message[0] != "hook":
            return  # "quit"
        _, name, args, known = message
        context.begin_hook(known)
        try:
            getattr(strategy, name)(*args)
        except NodeGone:
            return
        except MemoryError:
            out_of_memory = True
        except BaseException as exc:
            _send(channel, ("failed", *_describe(exc)))
            return
        if out_of_memory:
            _send(channel, ("failed", *_out_of_memory(memory_bytes)))
            return
        if not _send(channel, ("done", context.asked)):
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
        _send(channel, ("failed", *_describe(exc)))
        return
    _send(channel, ("described", described))


def _out_of_memory(memory_bytes: int) -> tuple[str, str, None]:
    limit = memory_bytes // 2**20
    return f"MemoryError: the strategy went past its memory limit ({limit} MiB)", "", None


def _build(context: RemoteContext, spec: dict[str, Any]) -> Any:
    from velocimex_cli.engine.drivers.strategies.registry import load_class

    cls = load_class(spec["strategy_id"], spec.get("source"))
    config = cls.validate(spec["params"])
    cls.check(config, spec["instrument"])
    return cls(context, config)


def _overridden(cls: type[Any]) -> list[str]:
    """The hooks the class overrides: the node forwards only those (the others do nothing)."""
    from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy

    return [hook for hook in HOOKS if getattr(cls, hook) is not getattr(Strategy, hook)]


def _describe(exc: BaseException) -> tuple[str, str, dict[str, Any] | None]:
    from velocimex_cli.wire.errors import ApiError

    message, text = format_failure(exc)
    body = None
    if isinstance(exc, ApiError):
        body = {"error": {"code": str(exc.code), "message": exc.message, "details": exc.details}}
    return message, text, body


def _send(channel: Channel, message: tuple[Any, ...]) -> bool:
    try:
        channel.send(message)
    except (OSError, ValueError):
        return False
    return True
