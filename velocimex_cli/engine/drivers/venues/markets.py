"""A mirrored venue's markets as the engine's instruments, and the specs kept across restarts.

The engine's exchange for a venue (`VenueMirror.exchange`, "BINANCE") replaces the simulated
one of that name. Its instruments are the venue's markets as `load_markets` states them (tick,
lot, minimum quantity and notional, and the maker and taker fee rates a paper fill pays: the
venue's own, or the user's tier from the venue config's `vmx` entry, `with_fee_tier`); the rest
of the catalogue stays simulated and keeps its order, so the mirrored instruments come after it.
A venue's rate the engine cannot charge exactly (below 0, above 10%, finer than 10^-8) is not
used: that market then pays the engine's exchange-wide rates, and a warning says so.

The specs last loaded are kept in the data directory (`venue_markets.json`), so a restart with
no network still knows the markets its users' resting orders are on, and uses them until the
venue answers again. A symbol whose spec was never loaded starts as the simulated instrument
of the same name when there is one (halted until the feed is whole), so an order stored on it
still loads; the venue's spec replaces it once loaded, as long as no user order rests on it.
The simulated exchange's other symbols stay listed, halted ("not mirrored"): orders stored on
them load, rest and can be canceled.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from velocimex_cli.engine.core.fees import FeeRateError, rate_of
from velocimex_cli.engine.core.instruments import (
    Catalogue,
    Instrument,
    Venue,
    VenueKind,
    default_instruments,
)
from velocimex_cli.engine.drivers.venues.feed import MarketSpec
from velocimex_cli.engine.drivers.venues.spec import FeeTier, VenueMirror

log = logging.getLogger("vmx.engine.venues")

SPECS_FILE = "venue_markets.json"
NOT_MIRRORED = "not mirrored: add it to --mirror (or engine_mirror) to trade it"
_FIELDS = ("base", "quote", "tick_size", "lot_size", "min_quantity", "min_notional",
           "taker_fee", "maker_fee")  # fmt: skip


class SpecError(ValueError):
    """A venue's market the engine cannot trade (its numbers finer than the ledger holds)."""


def instrument_of(spec: MarketSpec, index: int, venue: Venue) -> Instrument:
    """The engine's instrument for a venue's market: its tick and lot as stated, its minimum
    quantity rounded up to a whole number of lots (the least the venue accepts), its fee rates
    as stated (both, else neither: the engine's). SpecError when the engine cannot trade it
    (`chargeable` first drops fee rates the engine cannot charge)."""
    try:
        if spec.tick_size <= 0 or spec.lot_size <= 0:
            raise SpecError(f"{spec.symbol}: the venue states no usable tick or lot size")
        own_fees = spec.maker_fee is not None and spec.taker_fee is not None
        for name, rate in (("maker_fee", spec.maker_fee), ("taker_fee", spec.taker_fee)):
            if own_fees and rate is not None:
                try:
                    rate_of(rate)
                except FeeRateError as exc:
                    raise SpecError(f"{spec.symbol}: its {name} {exc}") from None
        minimum = spec.lot_size
        if spec.min_quantity is not None and spec.min_quantity > spec.lot_size:
            lots = (spec.min_quantity / spec.lot_size).to_integral_value(ROUND_CEILING)
            minimum = lots * spec.lot_size
        return Instrument(
            index=index,
            venue=venue,
            symbol=spec.symbol,
            base=spec.base,
            quote=spec.quote,
            tick_size=spec.tick_size,
            lot_size=spec.lot_size,
            min_quantity=minimum,
            reference_price=spec.tick_size,
            min_notional=spec.min_notional or None,
            maker_fee=spec.maker_fee if own_fees else None,
            taker_fee=spec.taker_fee if own_fees else None,
        )
    except (ValueError, InvalidOperation) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"{spec.symbol}: the engine cannot trade this market ({exc})") from None


def same_terms(instrument: Instrument, spec: MarketSpec) -> bool:
    """Whether `instrument` already trades on `spec`'s terms (fees included)."""
    fresh = instrument_of(spec, instrument.index, instrument.venue)
    return _terms(fresh) == _terms(instrument)


def _terms(i: Instrument) -> tuple[Decimal | None, ...]:
    return (i.tick_size, i.lot_size, i.min_quantity, i.min_notional, i.maker_fee, i.taker_fee)


def with_fee_tier(spec: MarketSpec, tier: FeeTier | None) -> MarketSpec:
    """`spec` at the user's own fee tier (the venue config's `vmx` maker_fee/taker_fee), when
    one is configured."""
    if tier is None:
        return spec
    return replace(spec, maker_fee=tier.maker_fee, taker_fee=tier.taker_fee)


def chargeable(spec: MarketSpec, venue: str) -> MarketSpec:
    """`spec` without fee rates the engine cannot charge exactly (logged: the market pays the
    engine's exchange-wide rates instead)."""
    for name in ("maker_fee", "taker_fee"):
        rate = getattr(spec, name)
        try:
            if rate is not None:
                rate_of(rate)
        except FeeRateError as exc:
            log.warning("%s %s: the venue's %s %s; it pays the engine's fee rates instead",
                        venue, spec.symbol, name, exc)  # fmt: skip
            return replace(spec, maker_fee=None, taker_fee=None)
    return spec


# ------------------------------------------------------------------ the specs kept on disk
def spec_json(spec: MarketSpec) -> dict[str, str | None]:
    return {
        name: (None if value is None else str(value))
        for name in _FIELDS
        for value in (getattr(spec, name),)
    }


def spec_from_json(symbol: str, data: Mapping[str, Any]) -> MarketSpec:
    def number(name: str) -> Decimal | None:
        value = data.get(name)
        return None if value is None else Decimal(str(value))

    tick, lot = number("tick_size"), number("lot_size")
    if tick is None or lot is None:
        raise ValueError(f"{symbol}: no tick or lot size")
    return MarketSpec(
        symbol=symbol,
        base=str(data["base"]),
        quote=str(data["quote"]),
        tick_size=tick,
        lot_size=lot,
        min_quantity=number("min_quantity"),
        min_notional=number("min_notional"),
        taker_fee=number("taker_fee"),
        maker_fee=number("maker_fee"),
    )


class SpecFile:
    """`venue_markets.json` in the data directory: venue -> symbol -> spec (strings)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.path = None if data_dir is None else data_dir / SPECS_FILE

    def load(self) -> dict[str, dict[str, MarketSpec]]:
        """What was kept; a missing or unreadable file is nothing kept (logged)."""
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                venue: {symbol: spec_from_json(symbol, data) for symbol, data in markets.items()}
                for venue, markets in raw.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
            log.warning("cannot read %s (%s): the venues' markets load from the venues", self.path,
                        exc)  # fmt: skip
            return {}

    def save(self, venue: str, specs: Iterable[MarketSpec]) -> None:
        """Keep `specs` for `venue` (the others kept as they were); written atomically."""
        if self.path is None:
            return
        kept = {v: {s.symbol: s for s in m.values()} for v, m in self.load().items()}
        markets = kept.setdefault(venue, {})
        for spec in specs:
            markets[spec.symbol] = spec
        text = json.dumps(
            {v: {s: spec_json(spec) for s, spec in m.items()} for v, m in kept.items()},
            indent=1,
            sort_keys=True,
        )
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("cannot keep the markets of %s in %s (%s)", venue, self.path, exc)


# ------------------------------------------------------------------ the catalogue
def mirrored_catalogue(
    mirrors: Iterable[VenueMirror],
    kept: Mapping[str, Mapping[str, MarketSpec]],
    tiers: Mapping[str, FeeTier] | None = None,
) -> tuple[Catalogue, dict[str, str]]:
    """The engine's catalogue with `mirrors` replacing the simulated exchanges of their names,
    and the instruments halted from the start (key -> reason): the simulated symbols a
    mirrored exchange no longer trades. Mirrored symbols come from the specs `kept` (at the
    user's fee tier of `tiers`, venue -> tier, where one is set), else from the simulated
    instrument of the same name (until the venue's spec replaces it)."""
    tiers = tiers or {}
    mirrors = list(mirrors)
    names = {m.exchange for m in mirrors}
    simulated = default_instruments()
    rows: list[Instrument] = []

    def add(instrument: Instrument) -> None:
        rows.append(_reindexed(instrument, len(rows)))

    for instrument in simulated:
        if instrument.exchange not in names:
            add(instrument)
    halted: dict[str, str] = {}
    venues = []
    for mirror in mirrors:
        venue = Venue(mirror.exchange, VenueKind.CRYPTO)
        venues.append(venue)
        specs = kept.get(mirror.venue, {})
        stand_ins = {i.symbol: i for i in simulated if i.exchange == mirror.exchange}
        for symbol in mirror.symbols:
            spec = specs.get(symbol)
            if spec is not None:
                spec = chargeable(with_fee_tier(spec, tiers.get(mirror.venue)), mirror.venue)
                try:
                    rows.append(instrument_of(spec, len(rows), venue))
                    continue
                except SpecError as exc:
                    log.warning("the kept market %s of %s is not used: %s", symbol, mirror, exc)
            stand_in = stand_ins.get(symbol)
            if stand_in is not None:
                add(_on_venue(stand_in, venue))
        for symbol, instrument in stand_ins.items():
            if symbol not in mirror.symbols:
                add(_on_venue(instrument, venue))
                halted[f"{mirror.exchange}:{symbol}"] = NOT_MIRRORED
    return Catalogue(rows, tuple(venues)), halted


def _reindexed(instrument: Instrument, index: int) -> Instrument:
    return instrument if instrument.index == index else replace(instrument, index=index)


def _on_venue(instrument: Instrument, venue: Venue) -> Instrument:
    return replace(instrument, venue=venue)
