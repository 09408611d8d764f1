"""Wire JSON: decimals exact both ways; the fast encoder writes what simplejson's own does."""

from __future__ import annotations

from decimal import Decimal

import simplejson
from hypothesis import given
from hypothesis import strategies as st

from velocimex_cli.wire import jsonfmt

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.floats(allow_nan=False, allow_infinity=False)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(VALUES)
def test_dumps_matches_simplejson_and_round_trips_decimals(value: object) -> None:
    text = jsonfmt.dumps(value)
    assert text == simplejson.dumps(value, use_decimal=True, ensure_ascii=False)
    decoded = jsonfmt.loads(text)
    assert jsonfmt.loads(jsonfmt.dumps(decoded)) == decoded


def test_decimals_keep_their_digits() -> None:
    text = jsonfmt.dumps({"price": Decimal("150.50"), "quantity": Decimal("0.00100")})
    assert text == '{"price": 150.50, "quantity": 0.00100}'
    assert jsonfmt.loads(text) == {"price": Decimal("150.50"), "quantity": Decimal("0.00100")}


def test_unknown_types_are_refused() -> None:
    try:
        jsonfmt.dumps({"x": object()})
    except TypeError as error:
        assert "not JSON serializable" in str(error)
    else:
        raise AssertionError("an object() was encoded")
