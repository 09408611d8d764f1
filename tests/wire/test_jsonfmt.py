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


FLAT_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
)


def _object_text(pairs: list[tuple[str, object]]) -> str:
    """A JSON object written pair by pair, so a key may repeat (as a careless client sends)."""
    return "{" + ", ".join(f"{jsonfmt.dumps(k)}: {jsonfmt.dumps(v)}" for k, v in pairs) + "}"


def _reference(text: str) -> object:
    """What loads_unique answers: simplejson's reading with a repeated key refused."""

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise jsonfmt.DuplicateKey(next(k for i, (k, _) in enumerate(pairs) if k in
                                            {key for key, _ in pairs[:i]}))  # fmt: skip
        return dict(pairs)

    return simplejson.loads(text, parse_float=Decimal, object_pairs_hook=unique)


KEYS = st.sampled_from(["price", "side", 'a"b', "é", "x\\y", ""])


@given(st.lists(st.tuples(KEYS, FLAT_SCALARS), max_size=6))
def test_loads_unique_reads_flat_objects_as_simplejson_and_refuses_repeated_keys(
    pairs: list[tuple[str, object]],
) -> None:
    text = _object_text(pairs)
    try:
        expected = _reference(text)
    except jsonfmt.DuplicateKey as error:
        try:
            jsonfmt.loads_unique(text.encode())
        except jsonfmt.DuplicateKey as refused:
            assert refused.key == error.key
        else:
            raise AssertionError(f"a repeated key was accepted: {text}") from None
        return
    value = jsonfmt.loads_unique(text.encode())
    assert value == expected
    assert isinstance(value, dict) and isinstance(expected, dict)
    assert [type(v) for v in value.values()] == [type(v) for v in expected.values()]


def test_loads_unique_refuses_a_repeated_key_whatever_its_values() -> None:
    for text in (
        b'{"price": 1, "price": 2}',
        b'{"side": "buy", "side": "sell"}',
        b'{"side": "buy", "qty": 1, "side": 1}',
        b'{"a": {"b": 1, "b": 2}}',
    ):
        try:
            jsonfmt.loads_unique(text)
        except jsonfmt.DuplicateKey:
            continue
        raise AssertionError(f"{text!r} was accepted")


def test_loads_unique_words_its_errors_as_simplejson() -> None:
    for text in (b'{"a": NaN}', b'{"a": 1,}', b'{"a": 01}', b"\xff"):
        try:
            expected = repr(_reference(text.decode("latin-1")))
        except (ValueError, UnicodeDecodeError) as error:
            expected = str(error)
        try:
            got = repr(jsonfmt.loads_unique(text))
        except (ValueError, UnicodeDecodeError) as error:
            got = str(error)
        if text == b"\xff":  # not UTF-8: refused before any JSON is read
            assert "utf-8" in got
        else:
            assert got == expected
