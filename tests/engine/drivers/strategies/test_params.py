"""Parameter declarations and values: exact coercion, clear refusals naming the parameter,
and the JSON listing GET /v1/strategies shows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from velocimex_cli.engine.drivers.strategies.params import (
    Param,
    ParamDeclarationError,
    check_declarations,
    validate_params,
)
from velocimex_cli.wire.errors import InvalidParameter

DECLARED = {
    "window": Param(int, 20, min=2, max=500),
    "amount": Param(Decimal, Decimal("0.001"), min=Decimal("0.0001")),
    "short": Param(bool, False),
    "mode": Param(str, "fast", choices=("fast", "slow")),
    "label": Param(str, "x"),
    "limit": Param(Decimal, description="required"),
}


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("window", "12", 12),
        ("window", 12.0, 12),
        ("window", Decimal("30"), 30),
        ("amount", "0.5", Decimal("0.5")),
        ("amount", 0.1, Decimal("0.1")),  # through its repr, not its binary value
        ("amount", 1, Decimal(1)),
        ("short", "yes", True),
        ("short", "OFF", False),
        ("short", True, True),
        ("mode", "Slow", "slow"),
    ],
)
def test_values_are_coerced_exactly(name: str, given: Any, expected: Any) -> None:
    values = validate_params(DECLARED, {name: given, "limit": "1"})
    assert values[name] == expected
    assert type(values[name]) is type(expected)


@pytest.mark.parametrize(
    ("given", "named", "says"),
    [
        ({"window": 1}, "window", "at least 2"),
        ({"window": 501}, "window", "at most 500"),
        ({"window": "2.5"}, "window", "must be a whole number"),
        ({"window": True}, "window", "must be a whole number"),
        ({"amount": "lots"}, "amount", "must be a number"),
        ({"amount": "NaN"}, "amount", "must be a number"),
        ({"short": "maybe"}, "short", "true or false"),
        ({"mode": "medium"}, "mode", "one of fast, slow"),
        ({"label": 5}, "label", "must be a string"),
        ({"windw": 5}, "windw", "unknown parameter 'windw'; this strategy takes: window"),
        ({}, "limit", "parameter 'limit' is required"),
    ],
)
def test_bad_values_name_the_parameter(given: dict, named: str, says: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_params(DECLARED, {"limit": "1", **given} if named != "limit" else given)
    assert caught.value.details["parameter"] == named
    assert says in caught.value.message


def test_defaults_fill_in_and_values_are_read_only() -> None:
    values = validate_params(DECLARED, {"limit": "2"})
    assert values.window == 20 and values.amount == Decimal("0.001") and values.limit == 2
    with pytest.raises(AttributeError):
        values.window = 3  # type: ignore[misc]
    assert values.to_json()["amount"] == Decimal("0.001")


@pytest.mark.parametrize(
    ("declared", "says"),
    [
        ({"n": Param(float, 1.0)}, "type must be int, Decimal, str or bool"),
        ({"n": Param(int, 5, min=10, max=1)}, "min is above max"),
        ({"n": Param(int, 0, min=1)}, "its default is invalid"),
        ({"n": Param(bool, True, min=1)}, "a bool takes no min or max"),
        ({"n": Param(str, "a", choices=())}, "choices must be a non-empty tuple"),
        ({"n": Param(int, 1, choices=(1, "two"))}, "choice 'two' is not a valid int"),
        ({"class": Param(int, 1)}, "must be a lower-case identifier"),
        ({"n": 3}, "must be declared with Param"),
    ],
)
def test_bad_declarations_are_refused(declared: dict, says: str) -> None:
    with pytest.raises(ParamDeclarationError, match=says):
        check_declarations(declared)


def test_the_listing_shows_types_defaults_and_bounds() -> None:
    assert DECLARED["mode"].describe("mode") == {
        "name": "mode",
        "type": "choice",
        "value_type": "str",
        "required": False,
        "default": "fast",
        "min": None,
        "max": None,
        "choices": ["fast", "slow"],
        "description": "",
    }
    limit = DECLARED["limit"].describe("limit")
    assert limit["required"] is True and limit["default"] is None
    assert limit["type"] == "decimal"
