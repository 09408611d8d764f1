"""simplejson's C encoder built once: the one use of a simplejson internal.

`simplejson.JSONEncoder.encode` builds a new C encoder (`simplejson._speedups.make_encoder`)
on every call, which is about a fifth of the cost of encoding an order's answer (measured with
`python -m benchmarks api` and a timeit of one order body: 47 us public, 37 us prebuilt, on
the loaded 2-core machine of 2026-12-06). Every REST answer and stream message the engine sends
is encoded here, so the encoder is built once, with the options of the public encoder it
stands for.

`make_encoder` is private and its positional arguments are simplejson's own business: this
module is verified against the series pyproject.toml pins (SERIES). `prebuilt` checks itself
against the public encoder when it is built; if simplejson is not the tested series, lacks the
C speedups or disagrees, it warns (SpeedupsUnavailable, once) and returns None, and jsonfmt uses
the public encoder. tests/wire/test_simplejson_speedups.py fails on any of those, so an upgrade
of simplejson is noticed by the suite, not by a slower or different engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import simplejson

SERIES = (4, 3)  # the simplejson minor series this module was checked against

# What a wire value can hold: every kind the prebuilt encoder must write as the public one does.
PROBE: Any = {
    "a": [1, Decimal("150.50"), Decimal("1E-8"), None, True, False, 'é\n"\u2028', {"b": 1.5}],
    "c": (2, -0, 10**20, Decimal("Infinity")),
    "": {},
}


class SpeedupsUnavailable(UserWarning):
    """simplejson's prebuilt C encoder is not used: encoding takes the public, slower path."""


def _version() -> str:
    """simplejson's version as it states it (its stub does not declare __version__)."""
    return str(getattr(simplejson, "__version__", "0.0"))


def series() -> tuple[int, ...]:
    return tuple(int(part) for part in _version().split(".")[:2])


def prebuilt(public: simplejson.JSONEncoder) -> Callable[[Any], str] | None:
    """`public.encode` as one C encoder built once, or None (with a warning) when simplejson is
    not the tested series or its C encoder does not write PROBE exactly as `public` does.

    `public` must not check for cycles nor escape non-ASCII text (jsonfmt's options): the
    prebuilt encoder does neither.
    """
    why = _unusable(public)
    if why is not None:
        warnings.warn(f"simplejson: {why}; using the public encoder", SpeedupsUnavailable, 2)
        return None
    from simplejson._speedups import encode_basestring, make_encoder

    key_memo: dict[str, str] = {}
    e = public
    bits = 53 if e.bigint_as_string else e.int_as_string_bitcount
    # The call JSONEncoder.iterencode makes (simplejson 4.3), made once with `public`'s options.
    encoder = make_encoder(
        None, e.default, encode_basestring, e.indent, e.key_separator, e.item_separator,
        e.sort_keys, e.skipkeys, e.allow_nan, key_memo, e.use_decimal, e.namedtuple_as_object,
        e.tuple_as_array, bits, e.item_sort_key, e.encoding, e.for_json, e.ignore_nan, Decimal,
        e.iterable_as_array,
    )  # fmt: skip

    def encode(value: Any) -> str:
        if len(key_memo) > 4096:  # the memo of encoded keys grows with distinct keys
            key_memo.clear()
        return "".join(encoder(value, 0))

    if encode(PROBE) != public.encode(PROBE):
        warnings.warn(
            "simplejson: the prebuilt C encoder disagrees with the public one; using the public"
            " encoder",
            SpeedupsUnavailable,
            2,
        )
        return None
    return encode


def _unusable(public: simplejson.JSONEncoder) -> str | None:
    if series() != SERIES:
        return f"version {_version()} is not the tested series {SERIES}"
    try:
        from simplejson._speedups import make_encoder  # noqa: F401
    except ImportError:
        return "the C speedups are not built"
    if public.check_circular or public.ensure_ascii or public.encoding != "utf-8":
        return "the encoder's options are not the ones this module builds"
    return None
