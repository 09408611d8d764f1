"""Candles on the wire (an extension): the intervals, the route's limits, how long each is kept.

`GET /v1/markets/{exchange}/candles/{symbol}?interval=1m&limit=100` answers
`{"exchange", "symbol", "interval", "candles": [...]}`, oldest first; each candle is
`{"time", "open", "high", "low", "close", "volume", "quote_volume", "trades"}` with `time` the
ISO UTC open time of its period and the numbers exact decimals as the other market routes send
them. Both sides read the names and bounds from here.
"""

from __future__ import annotations

from typing import Final

# Interval name -> its length in seconds. Periods are aligned to the Unix epoch (UTC), so a
# 1d candle runs from 00:00 to 24:00 UTC and a 5m one from a minute divisible by five.
INTERVALS: Final[dict[str, int]] = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
DEFAULT_INTERVAL: Final = "1m"
DEFAULT_LIMIT: Final = 100
# Enough for every candle an interval keeps (5m: 14 days = 4,032), so the whole window is
# reachable; 5,000 candles are about 1 MB of JSON.
MAX_LIMIT: Final = 5000

# How long the engine keeps each interval's candles in its data directory (days): older ones
# are deleted as their series goes on.
RETENTION_DAYS: Final[dict[str, int]] = {"1m": 2, "5m": 14, "1h": 90, "1d": 5 * 366}

CANDLE_FIELDS: Final = (
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
)
