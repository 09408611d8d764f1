"""The context calls a strategy's worker may send (protocol.py's `Call` and `Done`): one
msgspec Struct per operation of operations.OPERATIONS, its tag the operation's name, its fields
the operation's arguments in their wire types, built here from that one declaration and never
written by hand (`PlaceOrder`, `Mid`, ... are in this module's namespace).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Union

import msgspec
from msgspec import Struct

from velocimex_cli.engine.drivers.strategies.operations import OPERATIONS, Operation
from velocimex_cli.engine.drivers.strategies.protocol_values import check_decimal

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.engine_context import LocalContext


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
        check_decimal(name, getattr(self, name))


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
globals().update({cls.__name__: cls for cls in REQUESTS})  # protocol_requests.PlaceOrder, ...
if TYPE_CHECKING:  # the checker sees the base; msgspec decodes by the tagged union below
    AnyRequest = Request
    ReadRequest = Request
else:
    AnyRequest = Union[REQUESTS]  # noqa: UP007
    ReadRequest = Union[tuple(cls for cls in REQUESTS if cls.operation.ahead)]  # noqa: UP007
