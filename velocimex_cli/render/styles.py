"""The colours of a side and of a status, the same in every table and board."""

from __future__ import annotations

SIDE_STYLE = {"buy": "green", "sell": "red", "bid": "green", "ask": "red"}
STATUS_STYLE = {
    "open": "cyan",
    "partially_filled": "yellow",
    "filled": "green",
    "canceled": "dim",
    "rejected": "red",
    "closed": "red",
    "halted": "bold red",  # a mirrored exchange whose feed is down
}
