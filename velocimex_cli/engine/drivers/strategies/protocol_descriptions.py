"""A strategy as GET /v1/strategies lists it, checked against the protocol: what an upload
check's worker answers (protocol.py's `Described`), and what the registry keeps of a built-in.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from velocimex_cli.engine.drivers.strategies.base import STRATEGY_ID
from velocimex_cli.engine.drivers.strategies.operations import MAX_TEXT
from velocimex_cli.engine.drivers.strategies.params import PARAM_NAME
from velocimex_cli.engine.drivers.strategies.protocol_values import Value, check_value, pack_value

MAX_DESCRIPTION = 10_000
MAX_PARAMS = 100
MAX_CHOICES = 1000


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
