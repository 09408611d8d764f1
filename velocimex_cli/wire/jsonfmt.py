"""JSON that keeps decimals exact in both directions.

`dumps` writes Decimal values as JSON numbers with their exact digits (150.50, not 150.5 and
not "150.50"); `loads` reads every non-integer number back as a Decimal.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import simplejson

from velocimex_cli.wire.simplejson_speedups import prebuilt

# Built once: simplejson.dumps/loads with options build a new encoder/decoder on every call.
# namedtuple_as_object=False skips an `_asdict` probe of every value (40% of an encode); vmx
# writes no named tuples. check_circular=False: wire values are trees built per message.
# allow_nan=True: what the prebuilt encoder always wrote (an infinite Decimal as Infinity,
# which the decoder reads back); simplejson 4's default would raise instead.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True,
    ensure_ascii=False,
    namedtuple_as_object=False,
    check_circular=False,
    allow_nan=True,
)
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)


class DuplicateKey(ValueError):
    """An object names the same key twice: which value was meant is unknowable."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key[:100]!r} appears more than once in an object")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


_UNIQUE_DECODER = simplejson.JSONDecoder(parse_float=Decimal, object_pairs_hook=_unique_keys)


# simplejson's C encoder built once (its one private API, adapted in simplejson_speedups.py).
_PREBUILT = prebuilt(_ENCODER)
_encode: Callable[[Any], str] = _PREBUILT or _ENCODER.encode
FAST_ENCODER = _PREBUILT is not None  # False: simplejson changed (a warning said so at import)


def dumps(value: Any, *, indent: int | None = None) -> str:
    if indent is not None:
        return simplejson.dumps(value, use_decimal=True, indent=indent, ensure_ascii=False)
    return _encode(value)


class _Plain(Decimal):
    """A Decimal that simplejson writes without an exponent (0.00000001, not 1E-8): the
    encoder writes a Decimal as its str()."""

    __slots__ = ()

    def __str__(self) -> str:
        return format(self, "f")


def plain_decimals(value: Any) -> Any:
    """`value` with every Decimal whose str() has an exponent made one that writes without
    (what people and scripts read: 0.00000001, not 1E-8; the API's hot path skips this)."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and (exponent > 0 or value.adjusted() < -6):
            return _Plain(value)
        return value
    if isinstance(value, dict):
        return {key: plain_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_decimals(item) for item in value]
    return value


def canonical(value: Any) -> str:
    """One spelling per value (sorted keys, no spaces, numbers as plain decimals, never with an
    exponent): what hashes, caches and reports use."""
    return simplejson.dumps(
        plain_decimals(value),
        use_decimal=True,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def loads(text: str | bytes) -> Any:
    return _DECODER.decode(text.decode() if isinstance(text, bytes) else text)


def loads_unique(text: str | bytes) -> Any:
    """`loads` for what a client sends: an object naming a key twice is a DuplicateKey error,
    not silently its last value.

    A flat object (every value a string, number, boolean or null: an order) is read by msgspec,
    4x faster, when the text is one msgspec reads and it holds no backslash; the result is
    used only if it kept every string of the text (see `_kept_every_key`). Anything else,
    and every mistake, goes to simplejson, which reads it and words its errors as before.
    """
    if text.__class__ is bytes and b"\\" not in text:
        try:
            value = _flat_decoder()(text)
        except ValueError:  # msgspec.DecodeError: simplejson says what is wrong
            pass
        else:
            if value.__class__ is dict and _kept_every_key(value, text):
                return value
    return _UNIQUE_DECODER.decode(text.decode() if isinstance(text, bytes) else text)


_SCALARS = frozenset({str, int, Decimal, bool, type(None)})
_FLAT_DECODE: list[Callable[[bytes], Any]] = []


def _flat_decoder() -> Callable[[bytes], Any]:
    """msgspec's JSON decoder with exact decimals (imported on first use: vmx's start-up does
    not pay for it)."""
    if not _FLAT_DECODE:
        import msgspec

        _FLAT_DECODE.append(msgspec.json.Decoder(float_hook=Decimal).decode)
    return _FLAT_DECODE[0]


def _kept_every_key(value: dict[str, Any], text: bytes) -> bool:
    """Whether `value` (msgspec's reading of `text`) is flat and lost nothing to a repeated key.

    msgspec keeps a repeated key's last value without a word. In a text without backslashes
    every `"` opens or closes a string, so the text holds count('"') / 2 strings (keys and
    string values); a flat object read whole holds as many. A repeated key drops its earlier
    key (and value), so the counts differ and simplejson reads the text again (and refuses
    it). Not flat: simplejson reads it too.
    """
    strings = len(value)
    scalars = _SCALARS
    for item in value.values():
        kind = item.__class__
        if kind not in scalars:
            return False
        if kind is str:
            strings += 1
    return text.count(b'"') == 2 * strings


__all__ = [
    "Decimal", "DuplicateKey", "canonical", "dumps", "loads", "loads_unique", "plain_decimals"
]  # fmt: skip
