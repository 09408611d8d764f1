"""The instrument a backtest replays its data on: the terms the recording's header carries
(wire/recording_terms.py) when it has them for the instrument, else the engine's built-in
catalogue (recordings made before the header carried terms, CSVs of trades, the simulator).

Recorded terms become an instrument by the rule a mirrored venue's markets follow
(drivers/venues/markets.py `instrument_of`: tick and lot as stated, the minimum quantity
rounded up to whole lots, the venue's fee rates when the header gives them), at the
catalogue's place for an instrument it lists (so the replay's engine trades that one on the
recorded terms instead) and after it for one it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from velocimex_cli.engine.backtest.data import DataError
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import (
    Catalogue,
    Instrument,
    Venue,
    VenueKind,
)
from velocimex_cli.engine.drivers.venues.feed import MarketSpec
from velocimex_cli.engine.drivers.venues.markets import SpecError, instrument_of
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.recording_terms import RecordedTerms, TermsProblem, read_terms


def header_terms(path: Path, header: Mapping[str, Any]) -> dict[str, RecordedTerms]:
    """A recording header's terms by "EXCHANGE:SYMBOL", each one an instrument the engine can
    trade; DataError naming the file, line 1 and the entry otherwise."""
    try:
        found = read_terms(header)
    except TermsProblem as exc:
        raise DataError(path, 1, f"the header's {exc.problem}") from None
    catalogue = Catalogue()
    for terms in found.values():
        instrument_on_terms(path, terms, catalogue)
    return found


def instrument_on_terms(
    path: Path | None, terms: RecordedTerms, catalogue: Catalogue | None = None
) -> Instrument:
    """The engine's instrument trading on `terms`; DataError (naming `path`, line 1; a
    ValueError without a path) when the engine cannot trade them (a tick x lot finer than
    the ledger's 10^-8 of an asset)."""
    catalogue = catalogue or Catalogue()
    try:
        listed: Instrument | None = catalogue.find(terms.exchange, terms.symbol)
    except InvalidParameter:  # the catalogue lacks the exchange or the symbol
        listed = None
    if listed is not None:
        index, venue = listed.index, listed.venue
    else:
        index = len(catalogue.instruments)
        venue = catalogue.venues.get(terms.exchange) or Venue(terms.exchange, VenueKind.CRYPTO)
    spec = MarketSpec(
        symbol=terms.symbol,
        base=terms.base,
        quote=terms.quote,
        tick_size=terms.tick_size,
        lot_size=terms.lot_size,
        min_quantity=terms.min_quantity,
        min_notional=terms.min_notional,
        taker_fee=terms.taker_fee,
        maker_fee=terms.maker_fee,
    )
    try:
        return instrument_of(spec, index, venue)
    except SpecError as exc:
        problem = (
            str(exc)
            if "fee" in str(exc)
            else f"{exc} (the engine keeps amounts in whole 10^-8 of an asset: the lot size "
            "and tick size x lot size must be multiples of 0.00000001)"
        )
        if path is None:
            raise ValueError(problem) from None
        where = f"the header's terms[{terms.key!r}]"
        raise DataError(path, 1, f"{where} cannot be traded: {problem}") from None


def recorded_terms(instrument: Instrument) -> dict[str, Any]:
    """What a report says of the terms it was replayed on (from the recording's header)."""
    return {
        "source": "recording",
        "exchange": instrument.exchange,
        "symbol": instrument.symbol,
        "base": instrument.base,
        "quote": instrument.quote,
        "tick_size": instrument.tick_size,
        "lot_size": instrument.lot_size,
        "min_quantity": instrument.min_quantity,
        "min_notional": instrument.min_notional,
        # the fee rates of the recording, when it gave them (else the engine's: not listed)
        **(
            {"maker_fee": instrument.maker_fee, "taker_fee": instrument.taker_fee}
            if instrument.taker_fee is not None
            else {}
        ),
    }


def trade_on(exchange: Exchange, instrument: Instrument) -> None:
    """Make a fresh backtest exchange (its books empty) trade `instrument`: in place of the
    catalogue's instrument at its index, or as one more. When its terms state a minimum
    notional (a mirrored venue's, recorded), the strategy's orders under it are refused as the
    live engine refuses them: the instrument passes the venue gate (core/venue_gate.py), which
    checks users' orders only, so the recorded market's own accounts are not held to it."""
    instruments = exchange.catalogue.instruments
    if instrument.index < len(instruments):
        if instruments[instrument.index] != instrument:
            exchange.replace_instrument(instrument)
    else:
        exchange.add_instrument(instrument)
    if instrument.min_notional is not None:
        exchange.gated.add(instrument.index)


__all__ = [
    "header_terms",
    "instrument_on_terms",
    "recorded_terms",
    "trade_on",
]
