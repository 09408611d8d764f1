"""The order request (POST /v1/trading/orders), declared once: its fields, its rules and the
message for each mistake.

Three things are derived from `ORDER`, so they cannot drift apart:

- the client's pre-check (client/orders.py): what `vmx order place` refuses before sending;
- the engine's entry (engine/core/entry.parse_order): what the engine refuses, over HTTP and
  from in-process drivers alike;
- the OpenAPI request schema (`ORDER.json_schema()`, served in /openapi.json).

`check_order` is the one implementation of the rules: every mistake raises the same
`InvalidParameter` (code INVALID_PARAMETER, `details.parameter` and `details.value`) wherever it
is made. What needs the market (an unknown symbol, the tick and lot sizes, the minimum quantity,
the balance) is the engine's to check; the schema's description says so.

To add a field or a rule: add it to `FIELDS` or `CROSS_RULES` with an example of the mistake
(`mistakes()` feeds tests/cli/test_order_schema.py, which checks the three derivations).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import MAX_NUMBER_TEXT, parse_decimal

SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCE = ("gtc", "ioc", "fok")

NAME_MAX = 64  # characters of an exchange, a symbol, a client order id
# Prices and quantities: positive, below MAX_AMOUNT, at most MAX_DECIMALS decimal places (the
# ledger's precision: no tick or lot size is finer). The market's own tick and lot sizes are
# checked by the engine.
MAX_AMOUNT = Decimal(10) ** 15
MAX_DECIMALS = 8
# A number field may also be sent as a string of the same digits (what a JSON number cannot
# hold exactly in some languages): plain decimal notation, an optional exponent, ASCII only; no
# minus sign, as prices and quantities are positive (the JSON number form says it with
# exclusiveMinimum, which a string is not subject to).
NUMBER_TEXT = r"^[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?$"

EXCHANGE_PATTERN = "^[A-Za-z0-9_.-]{1,64}$"
SYMBOL_PATTERN = "^[A-Za-z0-9/_.-]{1,64}$"
# The same rule as CLIENT_ORDER_ID, as a JSON Schema pattern (ECMA-262: `$` ends the text).
CLIENT_ORDER_ID_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
CLIENT_ORDER_ID_RULE = "1-64 characters of letters, digits and _ . : -"
# \A...\Z, not ^...$: `$` also matches before a trailing newline, which would let "id\n" in.
CLIENT_ORDER_ID = re.compile(r"\A[A-Za-z0-9_.:\-]{1,64}\Z")

Kind = Literal["name", "choice", "amount", "flag"]


@dataclass(frozen=True)
class OrderField:
    """One field of the order request: its kind, its bounds, and the sentence for a bad value.

    `bad` is an example of a wrong value (for the tests derived from the declaration).
    """

    name: str
    kind: Kind
    rule: str  # what a wrong value is told: "side must be one of: buy, sell"
    bad: Any
    required: bool = False
    nullable: bool = False  # null is the same as leaving the field out
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # an anchored ECMA pattern (names)
    description: str = ""
    example: Any = None
    match: Callable[[str], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        inner = (self.pattern or "").removeprefix("^").removesuffix("$")
        object.__setattr__(self, "match", re.compile(inner).fullmatch)

    def json_schema(self) -> dict[str, Any]:
        """This field as a JSON Schema (OpenAPI 3.1): every bound the check enforces."""
        schema: dict[str, Any]
        if self.kind == "name":
            schema = {
                "type": "string",
                "minLength": 1,
                "maxLength": NAME_MAX,
                "pattern": self.pattern,
            }
        elif self.kind == "choice":
            schema = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "amount":
            schema = {
                "type": ["number", "string"],
                "pattern": NUMBER_TEXT,  # applies to the string form
                "maxLength": MAX_NUMBER_TEXT,
                "exclusiveMinimum": 0,
                "exclusiveMaximum": int(MAX_AMOUNT),
                "multipleOf": Decimal(1).scaleb(-MAX_DECIMALS),
            }
        else:
            schema = {"type": "boolean"}
        if self.nullable:
            schema["type"] = [*_as_list(schema["type"]), "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        schema["x-rule"] = self.rule
        if self.description:
            schema["description"] = self.description
        if self.example is not None:
            schema["example"] = self.example
        return schema


def _as_list(kinds: str | list[str]) -> list[str]:
    return [kinds] if isinstance(kinds, str) else kinds


def _name_rule(name: str, characters: str) -> str:
    return f"{name} must be 1 to {NAME_MAX} characters of {characters}"


def _choice_rule(name: str, choices: tuple[str, ...]) -> str:
    return f"{name} must be one of: {', '.join(choices)}"


FIELDS: tuple[OrderField, ...] = (
    OrderField(
        "exchange", "name", _name_rule("exchange", "letters, digits and _ . -"), "NAS DAQ",
        required=True, pattern=EXCHANGE_PATTERN, example="NASDAQ",
    ),
    OrderField(
        "symbol", "name", _name_rule("symbol", "letters, digits and / _ . -"), "AAPL?",
        required=True, pattern=SYMBOL_PATTERN, example="AAPL",
    ),
    OrderField(
        "side", "choice", _choice_rule("side", SIDES), "hold", required=True, choices=SIDES
    ),
    OrderField(
        "type", "choice", _choice_rule("type", ORDER_TYPES), "stop", choices=ORDER_TYPES,
        description="Default: limit with a price, market without.",
    ),
    OrderField(
        "quantity", "amount", "quantity must be a number", "ten", required=True, example=100
    ),
    OrderField(
        "price", "amount", "price must be a number", "cheap", nullable=True,
        description="Required for a limit order; a market order takes none.", example=150.50,
    ),
    OrderField(
        "time_in_force", "choice", _choice_rule("time_in_force", TIME_IN_FORCE), "day",
        nullable=True, choices=TIME_IN_FORCE,
        description="Default gtc for a limit order, ioc for a market order.",
    ),
    OrderField(
        "post_only", "flag", "post_only must be true or false", "yes",
        description="Limit gtc orders only.",
    ),
    OrderField(
        "client_order_id", "name", f"client_order_id must be {CLIENT_ORDER_ID_RULE}", "a b",
        nullable=True, pattern=CLIENT_ORDER_ID_PATTERN,
        description="Idempotency key: the same id from the same account returns the original"
        " order (200) and places nothing.",
    ),
)  # fmt: skip
BY_NAME = {item.name: item for item in FIELDS}
# The fields of POST /v1/trading/orders; any other field is refused.
ORDER_FIELDS = frozenset(BY_NAME)
ALLOWED = ", ".join(BY_NAME)


# One sentence per mistake that is not a field's own bad value.
def unknown_field(key: object) -> str:
    return f"Unknown field {str(key)[:100]!r}; allowed fields: {ALLOWED}"


def required(name: str) -> str:
    return f"{name} is required"


NOT_AN_OBJECT = "the order must be a JSON object"
NOT_POSITIVE = "{name} must be greater than zero"
TOO_LARGE = f"{{name}} must be less than {MAX_AMOUNT:f}"
TOO_PRECISE = f"{{name}} must have at most {MAX_DECIMALS} decimal places"


class CrossRule(NamedTuple):
    """A rule between fields: its parameter, its sentence, how /openapi.json says it (a JSON
    Schema `if`/`then`), and an example that breaks it (`VALID_ORDER` with `example` set and the
    fields of `drop` left out)."""

    parameter: str
    message: str
    when: dict[str, Any]
    then: dict[str, Any]
    example: dict[str, Any]
    drop: tuple[str, ...] = ()


# How the schema says "a limit order" and "a market order": a type given, or none and the price
# given (limit) or not (market), as check_order decides.
_NO_PRICE: dict[str, Any] = {
    "anyOf": [
        {"not": {"required": ["price"]}},
        {"properties": {"price": {"type": "null"}}},
    ]
}
_IS_LIMIT: dict[str, Any] = {"required": ["type"], "properties": {"type": {"const": "limit"}}}
_IS_MARKET: dict[str, Any] = {
    "anyOf": [
        {"required": ["type"], "properties": {"type": {"const": "market"}}},
        {"allOf": [{"not": {"required": ["type"]}}, _NO_PRICE]},
    ]
}
LIMIT_NEEDS_PRICE = CrossRule(
    "price",
    "a limit order needs a price",
    _IS_LIMIT,
    {"required": ["price"], "properties": {"price": {"not": {"type": "null"}}}},
    {"type": "limit"},
    drop=("price",),
)
MARKET_TAKES_NO_PRICE = CrossRule(
    "price",
    "a market order takes no price",
    {"required": ["type"], "properties": {"type": {"const": "market"}}},
    {"properties": {"price": {"type": "null"}}},
    {"type": "market", "price": Decimal(150)},
)
MARKET_CANNOT_REST = CrossRule(
    "time_in_force",
    "a market order cannot rest: use ioc or fok",
    _IS_MARKET,
    {"properties": {"time_in_force": {"not": {"const": "gtc"}}}},
    {"type": "market", "time_in_force": "gtc"},
    drop=("price",),
)
POST_ONLY_RESTS = CrossRule(
    "post_only",
    "post_only applies to resting (gtc) limit orders only",
    {"required": ["post_only"], "properties": {"post_only": {"const": True}}},
    {  # a limit order is one with a price (a market order with one is refused on its own)
        "required": ["price"],
        "properties": {
            "price": {"not": {"type": "null"}},
            "time_in_force": {"enum": ["gtc", None]},
        },
    },
    {"time_in_force": "ioc", "post_only": True},
)
CROSS_RULES = (LIMIT_NEEDS_PRICE, MARKET_TAKES_NO_PRICE, MARKET_CANNOT_REST, POST_ONLY_RESTS)


class CheckedOrder(NamedTuple):
    """An order request that passed `check_order`: names as given, numbers as Decimal, the
    time in force resolved (gtc for a limit order, ioc for a market order by default)."""

    exchange: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str
    post_only: bool
    client_order_id: str | None


def _bad(item: OrderField, value: Any, message: str | None = None) -> InvalidParameter:
    shown = value[:100] if isinstance(value, str) else value
    return InvalidParameter(item.name, shown, message or item.rule)


# Names already found to match their field's pattern (the same few exchanges and symbols come
# in every order): a set lookup instead of a regex on the engine's order-entry path.
_KNOWN_NAMES: dict[str, set[str]] = {"exchange": set(), "symbol": set()}
_KNOWN_MAX = 4096


def _name(item: OrderField, value: Any) -> str:
    if value.__class__ is str:
        known = _KNOWN_NAMES.get(item.name)
        if known is not None and value in known:
            return value
        if item.match(value) is not None:
            if known is not None and len(known) < _KNOWN_MAX:
                known.add(value)
            return value
    raise _bad(item, value)


def _choice(item: OrderField, value: Any) -> str:
    if value.__class__ is str and value in item.choices:
        return value
    raise _bad(item, value)


_ZERO = Decimal(0)
_QUANTUM = Decimal(1).scaleb(-MAX_DECIMALS)


def _amount(item: OrderField, value: Any) -> Decimal:
    number = parse_decimal(value)
    if number is None:
        raise _bad(item, value)
    if number <= _ZERO:
        raise _bad(item, value, NOT_POSITIVE.format(name=item.name))
    if number >= MAX_AMOUNT:
        raise _bad(item, value, TOO_LARGE.format(name=item.name))
    if number.quantize(_QUANTUM) != number:  # exact: below 10^15, 8 places fit 28 digits
        raise _bad(item, value, TOO_PRECISE.format(name=item.name))
    return number


_EXCHANGE, _SYMBOL, _SIDE, _TYPE, _QUANTITY, _PRICE, _TIF, _POST_ONLY, _CLIENT_ID = FIELDS


def check_order(request: Any) -> CheckedOrder:
    """The order request checked against the declaration, or the InvalidParameter of its first
    mistake (fields in declaration order, then the rules between them)."""
    return CheckedOrder._make(checked_fields(request))


def checked_fields(request: Any) -> tuple[Any, ...]:
    """`check_order` as a plain tuple in CheckedOrder's order (the engine's entry path: a
    named tuple costs more to build than the rest of a field's check)."""
    if request.__class__ is not dict and not isinstance(request, dict):
        raise InvalidParameter("body", type(request).__name__, NOT_AN_OBJECT)
    for key in request:
        if key not in ORDER_FIELDS:
            raise InvalidParameter(str(key)[:100], request[key], unknown_field(key))
    get = request.get
    exchange = get("exchange")
    if exchange is None:
        raise InvalidParameter("exchange", "", required("exchange"))
    exchange = _name(_EXCHANGE, exchange)
    symbol = get("symbol")
    if symbol is None:
        raise InvalidParameter("symbol", "", required("symbol"))
    symbol = _name(_SYMBOL, symbol)
    side = get("side")
    if side is None:
        raise InvalidParameter("side", "", required("side"))
    side = _choice(_SIDE, side)
    type_ = get("type")
    if type_ is not None:
        type_ = _choice(_TYPE, type_)
    quantity = get("quantity")
    if quantity is None:
        raise InvalidParameter("quantity", "", required("quantity"))
    quantity = _amount(_QUANTITY, quantity)
    price = get("price")
    if price is not None:
        price = _amount(_PRICE, price)
    tif = get("time_in_force")
    if tif is not None:
        tif = _choice(_TIF, tif)
    post_only = get("post_only", False)
    if post_only is not True and post_only is not False:
        raise _bad(_POST_ONLY, post_only)
    client_id = get("client_order_id")
    if client_id is not None:
        client_id = _name(_CLIENT_ID, client_id)
    if type_ is None:
        type_ = "market" if price is None else "limit"
    if type_ == "limit":
        if price is None:
            raise InvalidParameter("price", None, LIMIT_NEEDS_PRICE.message)
        if tif is None:
            tif = "gtc"
    else:
        if price is not None:
            raise InvalidParameter("price", get("price"), MARKET_TAKES_NO_PRICE.message)
        if tif is None:
            tif = "ioc"
        elif tif == "gtc":
            raise InvalidParameter(
                "time_in_force", get("time_in_force"), MARKET_CANNOT_REST.message
            )
    if post_only and (type_ != "limit" or tif != "gtc"):
        raise InvalidParameter("post_only", True, POST_ONLY_RESTS.message)
    return exchange, symbol, side, type_, quantity, price, tif, post_only, client_id


def json_schema() -> dict[str, Any]:
    """The order request as a JSON Schema (OpenAPI 3.1), derived from FIELDS and CROSS_RULES.

    `x-rule` (a field's error sentence) is vmx's own keyword; /openapi.json drops it.
    """
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [item.name for item in FIELDS if item.required],
        "properties": {item.name: item.json_schema() for item in FIELDS},
        "allOf": [{"if": rule.when, "then": rule.then} for rule in CROSS_RULES],
        "description": "What needs the market is checked by the engine, not by this schema: the"
        " exchange and symbol must be listed (GET /v1/markets), the price a multiple of the"
        " tick size, the quantity a multiple of the lot size and at least the minimum"
        " quantity, and the account must hold what the order locks.",
    }


VALID_ORDER: dict[str, Any] = {
    "exchange": "NASDAQ",
    "symbol": "AAPL",
    "side": "buy",
    "type": "limit",
    "quantity": Decimal(1),
    "price": Decimal("150.50"),
}


class Mistake(NamedTuple):
    """An order request with one mistake, the parameter at fault and the sentence it gets."""

    what: str
    request: dict[str, Any]
    parameter: str
    message: str


def mistakes() -> Iterator[Mistake]:
    """One request per rule of the declaration, each breaking only that rule (from a valid
    limit order, `VALID_ORDER`)."""
    for item in FIELDS:
        yield Mistake(
            f"bad {item.name}", {**VALID_ORDER, item.name: item.bad}, item.name, item.rule
        )
        if item.required:
            request = {key: value for key, value in VALID_ORDER.items() if key != item.name}
            yield Mistake(f"no {item.name}", request, item.name, required(item.name))
        if item.kind == "amount":
            for what, value, template in (
                ("negative", Decimal("-1"), NOT_POSITIVE),
                ("zero", Decimal(0), NOT_POSITIVE),
                ("huge", MAX_AMOUNT, TOO_LARGE),
                ("too precise", Decimal(1).scaleb(-MAX_DECIMALS - 1), TOO_PRECISE),
            ):
                yield Mistake(
                    f"{what} {item.name}",
                    {**VALID_ORDER, item.name: value},
                    item.name,
                    template.format(name=item.name),
                )
    yield Mistake(
        "unknown field", {**VALID_ORDER, "leverage": 10}, "leverage", unknown_field("leverage")
    )
    for rule in CROSS_RULES:
        request = {**VALID_ORDER, **rule.example}
        for name in rule.drop:
            del request[name]
        yield Mistake(rule.message, request, rule.parameter, rule.message)
