"""The order request's contract, shared by the client's local validation and the engine."""

from __future__ import annotations

import re

SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCE = ("gtc", "ioc", "fok")

# The fields of POST /v1/trading/orders; any other field is rejected as INVALID_PARAMETER.
ORDER_FIELDS = frozenset(
    {
        "exchange",
        "symbol",
        "side",
        "type",
        "quantity",
        "price",
        "time_in_force",
        "post_only",
        "client_order_id",
    }
)

# \A...\Z, not ^...$: `$` also matches before a trailing newline, which would let "id\n" in.
CLIENT_ORDER_ID = re.compile(r"\A[A-Za-z0-9_.:\-]{1,64}\Z")
# The same rule as a JSON Schema pattern (ECMA-262: there `$` is the end of the text).
CLIENT_ORDER_ID_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
CLIENT_ORDER_ID_RULE = "1-64 characters of letters, digits and _ . : -"
