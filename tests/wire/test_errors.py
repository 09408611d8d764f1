"""Every API error class pickles and unpickles intact (the backtest sweep's process pool
pickles the errors its runs raise) and is known by its name (the strategy protocol names the
class it raises)."""

from __future__ import annotations

import inspect
import pickle
from decimal import Decimal

import pytest

from velocimex_cli.wire import errors
from velocimex_cli.wire.errors import ApiError, InvalidParameter

CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, ApiError) and cls.__module__ == errors.__name__
]


def example(cls: type[ApiError]) -> ApiError:
    """An instance built the way the engine builds one of that class."""
    if issubclass(cls, InvalidParameter):
        return cls("quantity", "0", "quantity must be above 0", minimum=Decimal("0.001"))
    return cls(f"a {cls.__name__}", {"asset": "USDT", "required": Decimal("10.50")})


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_api_error_pickles_intact(cls: type[ApiError]) -> None:
    error = example(cls)
    error.seen_by = "a sweep worker"  # type: ignore[attr-defined]
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert again.code == error.code and again.http_status == error.http_status
    assert again.message == error.message and str(again) == str(error)
    assert again.details == error.details
    assert all(type(again.details[k]) is type(v) for k, v in error.details.items())
    assert again.seen_by == "a sweep worker"


def test_every_error_class_is_known_by_name() -> None:
    from velocimex_cli.wire.errors import ERROR_CLASSES

    assert set(ERROR_CLASSES) == {cls.__name__ for cls in CLASSES}
    assert all(ERROR_CLASSES[cls.__name__] is cls for cls in CLASSES)
