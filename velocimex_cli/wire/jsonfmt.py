"""JSON that keeps decimals exact in both directions.

`dumps` writes Decimal values as JSON numbers with their exact digits (150.50, not 150.5 and
not "150.50"); `loads` reads every non-integer number back as a Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def dumps(value: Any, *, indent: int | None = None) -> str:
    return simplejson.dumps(value, use_decimal=True, indent=indent, ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    return simplejson.loads(text, use_decimal=True)


__all__ = ["Decimal", "dumps", "loads"]
