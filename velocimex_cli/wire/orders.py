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

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
CLIENT_ORDER_ID_RULE = "1-64 characters of letters, digits and _ . : -"
