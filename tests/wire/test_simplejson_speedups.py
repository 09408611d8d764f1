"""The one simplejson internal (its C encoder built once, wire/simplejson_speedups.py) is checked
against the installed simplejson: an upgrade that changes it fails here, loudly, instead of
making the engine slower or its JSON different."""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest
import simplejson

from velocimex_cli.wire import jsonfmt, simplejson_speedups
from velocimex_cli.wire.simplejson_speedups import SpeedupsUnavailable, prebuilt

WIRE_VALUES = [
    {"status": "ok", "data": {"order_id": "7", "price": Decimal("150.50"), "reason": None}},
    {"bids": [[Decimal("60000.00"), Decimal("0.00001")]], "sequence": 2**40, "ok": True},
    {"error": {"code": "INVALID_PARAMETER", "message": 'bad "q"\n', "details": {"v": "é"}}},
    [1.5, -0, Decimal("1E-8"), Decimal("-0"), (1, 2), {}, [], "", Decimal("Infinity")],
]


def test_the_installed_simplejson_is_the_tested_series_and_builds_the_encoder() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpeedupsUnavailable)  # any fallback fails this test
        encode = prebuilt(jsonfmt._ENCODER)
    assert encode is not None
    assert jsonfmt.FAST_ENCODER
    for value in WIRE_VALUES:
        public = simplejson.dumps(value, use_decimal=True, ensure_ascii=False, allow_nan=True)
        assert encode(value) == public
        assert jsonfmt.dumps(value) == encode(value)


def test_another_series_is_refused_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simplejson, "__version__", "4.4.0")
    with pytest.warns(SpeedupsUnavailable, match="not the tested series"):
        assert prebuilt(jsonfmt._ENCODER) is None


def test_an_encoder_with_other_options_is_not_prebuilt() -> None:
    checking = simplejson.JSONEncoder(use_decimal=True, ensure_ascii=True)
    with pytest.warns(SpeedupsUnavailable, match="options"):
        assert prebuilt(checking) is None


def test_the_pinned_series_is_the_one_checked() -> None:
    from pathlib import Path

    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    major, minor = simplejson_speedups.SERIES
    assert f'"simplejson>={major}.{minor},<{major}.{minor + 1}"' in pyproject
