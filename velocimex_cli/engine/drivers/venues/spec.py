"""What to mirror: `binance:BTC/USDT,ETH/USDT` (a ccxt exchange id, then its unified symbols).

The same text is accepted by `vmx engine serve|start --mirror` (repeatable, one venue each) and by
the persisted `engine_mirror` setting (venues separated by spaces or `;`). The engine's exchange
is the venue's upper-case id (`binance` -> `BINANCE`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

_VENUE = re.compile(r"[a-z][a-z0-9]{1,31}")
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}")
MAX_SYMBOLS = 64  # per venue: one watch each
MAX_VENUE_CONFIG_BYTES = 1 << 20
# A venue config entry's key read by vmx, not merged into ccxt's config: how the source watches
# the feed, in seconds (`stall_after`: no message on a book's connection for that long drops it,
# on a trade connection of its own it is probed (ccxt_watchdog.py); `backoff`, `max_backoff`: the
# first and the longest wait between retries), and the user's own fee tier at the venue
# (`maker_fee`, `taker_fee`: fractions such as "0.0002", both together), charged on paper fills
# instead of the rates the venue states for its first tier.
TUNING_KEY = "vmx"
TUNINGS = ("stall_after", "backoff", "max_backoff")
FEE_KEYS = ("maker_fee", "taker_fee")
MAX_TUNING_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class FeeTier:
    """A user's own fee rates at a venue (fractions of the notional: 0.0002 = 2 bps)."""

    maker_fee: Decimal
    taker_fee: Decimal


class MirrorSpecError(ValueError):
    """A `--mirror` value, an `engine_mirror` setting or a venue config file that cannot be
    used; the message says what is wrong and what to write instead."""


@dataclass(frozen=True, slots=True)
class VenueMirror:
    venue: str  # the ccxt exchange id, lower case: "binance"
    symbols: tuple[str, ...]  # ccxt unified spot symbols: ("BTC/USDT", "ETH/USDT")

    @property
    def exchange(self) -> str:
        """The engine's exchange name for this venue."""
        return self.venue.upper()

    def text(self) -> str:
        return f"{self.venue}:{','.join(self.symbols)}"


def parse_mirror(text: str) -> VenueMirror:
    """One venue: `binance:BTC/USDT,ETH/USDT`."""
    venue, sep, symbols_text = text.strip().partition(":")
    venue = venue.strip().lower()
    example = "write it as VENUE:SYMBOL[,SYMBOL...], e.g. binance:BTC/USDT,ETH/USDT"
    if not sep or not venue:
        raise MirrorSpecError(f"--mirror {text!r} names no venue: {example}")
    if not _VENUE.fullmatch(venue):
        raise MirrorSpecError(f"--mirror {text!r}: {venue!r} is not a ccxt exchange id; {example}")
    symbols: list[str] = []
    for raw in symbols_text.split(","):
        symbol = raw.strip().upper()
        if not symbol:
            continue
        if not _SYMBOL.fullmatch(symbol):
            raise MirrorSpecError(
                f"--mirror {text!r}: {raw.strip()!r} is not a spot symbol such as BTC/USDT"
            )
        if symbol not in symbols:
            symbols.append(symbol)
    if not symbols:
        raise MirrorSpecError(f"--mirror {text!r} names no symbol: {example}")
    if len(symbols) > MAX_SYMBOLS:
        raise MirrorSpecError(f"--mirror {text!r}: at most {MAX_SYMBOLS} symbols per venue")
    return VenueMirror(venue, tuple(symbols))


def parse_mirrors(texts: Iterable[str]) -> tuple[VenueMirror, ...]:
    """Several venues (repeated `--mirror`, or the setting split on spaces and `;`); a venue
    named twice is refused (say all its symbols in one value)."""
    mirrors: list[VenueMirror] = []
    for text in texts:
        for part in re.split(r"[;\s]+", text.strip()):
            if part:
                mirrors.append(parse_mirror(part))
    seen: set[str] = set()
    for mirror in mirrors:
        if mirror.venue in seen:
            raise MirrorSpecError(
                f"{mirror.venue} is mirrored twice: name all its symbols once, "
                f"e.g. {mirror.venue}:BTC/USDT,ETH/USDT"
            )
        seen.add(mirror.venue)
    if any(m.exchange == "NASDAQ" for m in mirrors):
        raise MirrorSpecError("NASDAQ stays simulated: it cannot be mirrored")
    return tuple(mirrors)


def load_venue_config(path: Path) -> dict[str, dict[str, Any]]:
    """`--venue-config FILE`: a JSON object of ccxt exchange id -> an object merged into that
    exchange's ccxt constructor config (`urls`, `options`, `timeout`, proxies)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_VENUE_CONFIG_BYTES + 1)
    except OSError as exc:
        raise MirrorSpecError(
            f"--venue-config {path}: cannot read it ({exc.strerror or exc})"
        ) from None
    if len(raw) > MAX_VENUE_CONFIG_BYTES:
        raise MirrorSpecError(f"--venue-config {path}: larger than 1 MiB; is it the right file?")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        where = f" at line {line}, column {column}" if line is not None else ""
        raise MirrorSpecError(f"--venue-config {path}: not valid JSON{where}") from None
    return venue_config(data, str(path))


def venue_config(data: object, source: str) -> dict[str, dict[str, Any]]:
    """Check a venue config's shape: an object of venue id -> object."""
    if not isinstance(data, Mapping):
        raise MirrorSpecError(
            f"--venue-config {source}: must be a JSON object such as "
            '{"binance": {"urls": {...}}}'
        )
    config: dict[str, dict[str, Any]] = {}
    for venue, value in data.items():
        if not isinstance(venue, str) or not _VENUE.fullmatch(venue):
            raise MirrorSpecError(f"--venue-config {source}: {venue!r} is not a ccxt exchange id")
        if not isinstance(value, Mapping):
            raise MirrorSpecError(
                f"--venue-config {source}: the value for {venue!r} must be an object of ccxt "
                "config (urls, options, timeout, ...)"
            )
        entry = dict(value)
        if TUNING_KEY in entry:
            _check_tuning(entry[TUNING_KEY], f"--venue-config {source}: {venue}.{TUNING_KEY}")
        config[venue] = entry
    return config


def fee_tier(entry: Mapping[str, Any]) -> FeeTier | None:
    """The user's fee tier of a venue config entry (checked by `venue_config`), if it has one."""
    from velocimex_cli.wire.numbers import parse_decimal  # (the CLI imports this module)

    tuning = entry.get(TUNING_KEY)
    if not isinstance(tuning, Mapping) or not all(key in tuning for key in FEE_KEYS):
        return None
    maker, taker = (parse_decimal(tuning[key]) for key in FEE_KEYS)
    return None if maker is None or taker is None else FeeTier(maker, taker)


def fee_tiers(config: Mapping[str, Mapping[str, Any]]) -> dict[str, FeeTier]:
    """Each venue's fee tier (venue id -> tier) from a checked venue config."""
    return {venue: tier for venue, entry in config.items() if (tier := fee_tier(entry))}


def _check_fee(key: str, value: object, where: str) -> None:
    """A `vmx` fee rate: a fraction the engine charges exactly, as a string or a JSON number."""
    from velocimex_cli.engine.core.fees import FeeRateError, rate_of  # (only when used)
    from velocimex_cli.wire.numbers import parse_decimal

    example = f'"{key}": "0.0002" for 0.02%'
    number = parse_decimal(value) if isinstance(value, str | int | float) else None
    if number is None:
        raise MirrorSpecError(f"{where}: {key} must be a fraction such as {example}, not {value!r}")
    try:
        rate_of(number)
    except FeeRateError as exc:
        raise MirrorSpecError(f"{where}: {key} {exc}; write it as {example}") from None


def _check_tuning(tuning: object, where: str) -> None:
    """The `vmx` entry: an object of TUNINGS, each a number of seconds > 0, and FEE_KEYS, both
    or neither, each a fraction."""
    example = '{"stall_after": 30, "backoff": 0.5, "max_backoff": 30}'
    if not isinstance(tuning, Mapping):
        raise MirrorSpecError(f"{where} must be an object such as {example}")
    fees = [key for key in FEE_KEYS if key in tuning]
    if len(fees) == 1:
        other = FEE_KEYS[1 - FEE_KEYS.index(fees[0])]
        raise MirrorSpecError(
            f"{where}: {fees[0]} needs {other} too (a fee tier states both), e.g. "
            '{"maker_fee": "0.0002", "taker_fee": "0.0004"}'
        )
    for key, seconds in tuning.items():
        if key in FEE_KEYS:
            _check_fee(key, seconds, where)
            continue
        if key not in TUNINGS:
            raise MirrorSpecError(
                f"{where}: {key!r} is not a setting vmx knows; use {', '.join(TUNINGS + FEE_KEYS)}"
            )
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 < seconds <= MAX_TUNING_SECONDS
        ):
            raise MirrorSpecError(
                f"{where}: {key} must be a number of seconds above 0 and at most "
                f"{MAX_TUNING_SECONDS:g}, not {seconds!r}"
            )
