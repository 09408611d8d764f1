"""JSON that keeps decimals exact in both directions.

`dumps` writes Decimal values as JSON numbers with their exact digits (150.50, not 150.5 and
not "150.50"); `loads` reads every non-integer number back as a Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson

# Built once: simplejson.dumps/loads with options build a new encoder/decoder on every call.
# namedtuple_as_object=False skips an `_asdict` probe of every value (40% of an encode); vmx
# writes no named tuples. check_circular=False: wire values are trees built per message.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True, ensure_ascii=False, namedtuple_as_object=False, check_circular=False
)
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)


def dumps(value: Any, *, indent: int | None = None) -> str:
    if indent is not None:
        return simplejson.dumps(value, use_decimal=True, indent=indent, ensure_ascii=False)
    return _ENCODER.encode(value)


def loads(text: str | bytes) -> Any:
    return _DECODER.decode(text.decode() if isinstance(text, bytes) else text)


__all__ = ["Decimal", "dumps", "loads"]
