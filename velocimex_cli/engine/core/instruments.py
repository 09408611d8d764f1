"""Venues and instruments: the default catalogue and symbol normalisation.

Prices and quantities live inside the engine as integer ticks and lots. Ledger amounts are
integers in units of 10**-8 of an asset (`LEDGER_SCALE`), so every instrument's tick x lot and
lot are whole numbers of ledger units and no conversion ever rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import cast

from velocimex_cli.engine.core.fees import lock_rate, rate_of
from velocimex_cli.wire.errors import InvalidParameter

LEDGER_DECIMALS = 8
LEDGER_SCALE = 10**LEDGER_DECIMALS


class VenueKind(StrEnum):
    EQUITY = "equity"
    CRYPTO = "crypto"


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    kind: VenueKind


@dataclass(frozen=True, slots=True)
class Instrument:
    index: int
    venue: Venue
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    reference_price: Decimal
    # The least price x quantity an order may have, in the quote asset (a mirrored venue's
    # rule; None: no such rule).
    min_notional: Decimal | None = None
    # The venue's own fee rates as fractions (0.00075 = 7.5 bps; a mirrored venue's market),
    # both or neither; None: the exchange-wide rates of the engine's configuration (fees.py).
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    # Derived integer scales (filled in by __post_init__).
    price_decimals: int = field(init=False)
    quantity_decimals: int = field(init=False)
    lot_units: int = field(init=False)
    notional_units: int = field(init=False)
    min_lots: int = field(init=False)
    # The own fee rates in fees.RATE_UNITs, and the one a buy locks (None: the exchange's).
    maker_rate: int | None = field(init=False)
    taker_rate: int | None = field(init=False)
    lock_rate: int | None = field(init=False)

    def __post_init__(self) -> None:
        lot_units = self.lot_size * LEDGER_SCALE
        notional_units = self.tick_size * self.lot_size * LEDGER_SCALE
        if lot_units != lot_units.to_integral_value() or notional_units != int(notional_units):
            raise ValueError(f"{self.symbol}: tick x lot is finer than the ledger scale")
        min_lots = self.min_quantity / self.lot_size
        if min_lots != min_lots.to_integral_value():
            raise ValueError(f"{self.symbol}: minimum quantity is not a whole number of lots")
        # Finite sizes (checked above): the exponent is an int, not a NaN/Infinity letter.
        tick_exponent = cast(int, self.tick_size.as_tuple().exponent)
        lot_exponent = cast(int, self.lot_size.as_tuple().exponent)
        object.__setattr__(self, "price_decimals", max(0, -tick_exponent))
        object.__setattr__(self, "quantity_decimals", max(0, -lot_exponent))
        object.__setattr__(self, "lot_units", int(lot_units))
        object.__setattr__(self, "notional_units", int(notional_units))
        object.__setattr__(self, "min_lots", int(min_lots))
        maker, taker = self.maker_fee, self.taker_fee
        if (maker is None) != (taker is None):
            raise ValueError(f"{self.symbol}: a maker fee needs a taker fee, and the reverse")
        rates = None if maker is None or taker is None else (rate_of(maker), rate_of(taker))
        object.__setattr__(self, "maker_rate", None if rates is None else rates[0])
        object.__setattr__(self, "taker_rate", None if rates is None else rates[1])
        object.__setattr__(self, "lock_rate", None if rates is None else lock_rate(*rates))

    @property
    def exchange(self) -> str:
        return self.venue.name

    @property
    def key(self) -> str:
        """EXCHANGE:SYMBOL, the instrument's name in subscriptions and logs."""
        return f"{self.venue.name}:{self.symbol}"

    # -- exact conversions between integer ticks/lots and decimals -------------------------
    def price_of(self, ticks: int) -> Decimal:
        """Exact, with the tick's digits: 15050 ticks of 0.01 -> Decimal("150.50").

        (`int * Decimal` converts the int exactly, as Decimal(ticks) does, without building
        it first: the same Decimal, digits and exponent, at half the cost.)"""
        return ticks * self.tick_size

    def quantity_of(self, lots: int) -> Decimal:
        return lots * self.lot_size

    def ticks_of(self, price: Decimal) -> int | None:
        """Whole ticks for a price, or None when the price is off the tick."""
        ticks = price / self.tick_size
        return int(ticks) if ticks == ticks.to_integral_value() else None

    def lots_of(self, quantity: Decimal) -> int | None:
        lots = quantity / self.lot_size
        return int(lots) if lots == lots.to_integral_value() else None


# The largest price in ticks and quantity in lots an order may carry. Far beyond any real market
# (10^13 USD on a cent tick), and small enough that every book figure fits a machine integer.
MAX_STEPS = 10**15

EQUITY_TICK = Decimal("0.01")


def default_instruments() -> list[Instrument]:
    """The simulated catalogue, indexed from 0."""
    return _catalogue()


def _catalogue() -> list[Instrument]:
    nasdaq = Venue("NASDAQ", VenueKind.EQUITY)
    nyse = Venue("NYSE", VenueKind.EQUITY)
    binance = Venue("BINANCE", VenueKind.CRYPTO)
    coinbase = Venue("COINBASE", VenueKind.CRYPTO)
    kraken = Venue("KRAKEN", VenueKind.CRYPTO)
    rows: list[tuple[Venue, str, str, str, str, str, str, str]] = [
        # venue, symbol, base, quote, tick, lot, min quantity, reference price
        (nasdaq, "AAPL", "AAPL", "USD", "0.01", "1", "1", "190.00"),
        (nasdaq, "MSFT", "MSFT", "USD", "0.01", "1", "1", "420.00"),
        (nasdaq, "NVDA", "NVDA", "USD", "0.01", "1", "1", "120.00"),
        (nasdaq, "AMZN", "AMZN", "USD", "0.01", "1", "1", "185.00"),
        (nasdaq, "GOOGL", "GOOGL", "USD", "0.01", "1", "1", "170.00"),
        (nyse, "IBM", "IBM", "USD", "0.01", "1", "1", "180.00"),
        (nyse, "JPM", "JPM", "USD", "0.01", "1", "1", "200.00"),
        (nyse, "KO", "KO", "USD", "0.01", "1", "1", "62.00"),
        (binance, "BTC/USDT", "BTC", "USDT", "0.01", "0.00001", "0.0001", "60000.00"),
        (binance, "ETH/USDT", "ETH", "USDT", "0.01", "0.0001", "0.001", "3000.00"),
        (binance, "SOL/USDT", "SOL", "USDT", "0.01", "0.001", "0.01", "150.00"),
        (coinbase, "BTC/USD", "BTC", "USD", "0.01", "0.00001", "0.0001", "60000.00"),
        (coinbase, "ETH/USD", "ETH", "USD", "0.01", "0.0001", "0.001", "3000.00"),
        (kraken, "BTC/USD", "BTC", "USD", "0.1", "0.0001", "0.0001", "60000.0"),
        (kraken, "ETH/USD", "ETH", "USD", "0.01", "0.001", "0.001", "3000.00"),
    ]
    return [
        Instrument(
            index=i,
            venue=venue,
            symbol=symbol,
            base=base,
            quote=quote,
            tick_size=Decimal(tick),
            lot_size=Decimal(lot),
            min_quantity=Decimal(minimum),
            reference_price=Decimal(reference),
        )
        for i, (venue, symbol, base, quote, tick, lot, minimum, reference) in enumerate(rows)
    ]


def canonical_symbol(symbol: str) -> str:
    """ "btc-usdt" -> "BTC/USDT"; "aapl" -> "AAPL"."""
    return symbol.strip().upper().replace("-", "/")


class Catalogue:
    """The instruments an engine trades, looked up case-insensitively with alias spellings."""

    def __init__(
        self, instruments: list[Instrument] | None = None, venues: tuple[Venue, ...] = ()
    ) -> None:
        """`instruments` (default: the simulated catalogue) must be indexed 0, 1, ... in order;
        `venues` are listed even while they have no instrument yet (a mirrored venue whose
        markets have not loaded)."""
        self.instruments: list[Instrument] = _catalogue() if instruments is None else instruments
        self.venues: dict[str, Venue] = {}
        self._by_key: dict[tuple[str, str], Instrument] = {}
        self._spellings: dict[tuple[object, object], Instrument] = {}  # as given
        for instrument in self.instruments:
            self.venues.setdefault(instrument.venue.name, instrument.venue)
            self._by_key[(instrument.venue.name, instrument.symbol)] = instrument
        for venue in venues:
            self.venues.setdefault(venue.name, venue)

    def add(self, instrument: Instrument) -> None:
        """One more instrument (a mirrored market loaded after start); its index must be the
        next one. Use `Exchange.add_instrument`, which gives it a book."""
        if instrument.index != len(self.instruments):
            raise ValueError(f"{instrument.key}: index {instrument.index} is not the next one")
        if (instrument.venue.name, instrument.symbol) in self._by_key:
            raise ValueError(f"{instrument.key} is listed already")
        self.instruments.append(instrument)
        self.venues.setdefault(instrument.venue.name, instrument.venue)
        self._by_key[(instrument.venue.name, instrument.symbol)] = instrument

    def replace(self, instrument: Instrument) -> None:
        """Trade the instrument at `instrument.index` on `instrument`'s terms (a mirrored
        market whose venue stated them once loaded); same venue and symbol."""
        old = self.instruments[instrument.index]
        if (old.venue.name, old.symbol) != (instrument.venue.name, instrument.symbol):
            raise ValueError(f"{instrument.key} cannot replace {old.key}")
        self.instruments[instrument.index] = instrument
        self._by_key[(instrument.venue.name, instrument.symbol)] = instrument
        self._spellings.clear()

    def venue(self, exchange: object) -> Venue:
        if not isinstance(exchange, str) or not exchange.strip():
            raise InvalidParameter("exchange", exchange, "exchange is required")
        venue = self.venues.get(exchange.strip().upper())
        if venue is None:
            raise InvalidParameter(
                "exchange",
                exchange,
                f"Unknown exchange {exchange!r}; known: {', '.join(self.venues)}",
            )
        return venue

    def find(self, exchange: object, symbol: object) -> Instrument:
        # Fast path: the spellings clients actually send, remembered as given (hashable only).
        try:
            found = self._spellings.get((exchange, symbol))
        except TypeError:
            found = None
        if found is not None:
            return found
        instrument = self._resolve(exchange, symbol)
        if len(self._spellings) < 4096:
            self._spellings[(exchange, symbol)] = instrument
        return instrument

    def _resolve(self, exchange: object, symbol: object) -> Instrument:
        venue = self.venue(exchange)
        if not isinstance(symbol, str) or not symbol.strip():
            raise InvalidParameter("symbol", symbol, "symbol is required")
        instrument = self._by_key.get((venue.name, canonical_symbol(symbol)))
        if instrument is None:
            known = ", ".join(i.symbol for i in self.instruments if i.venue is venue)
            raise InvalidParameter(
                "symbol", symbol, f"Unknown symbol {symbol!r} on {venue.name}; known: {known}"
            )
        return instrument

    def assets(self) -> list[str]:
        seen: dict[str, None] = {}
        for instrument in self.instruments:
            seen.setdefault(instrument.quote, None)
            seen.setdefault(instrument.base, None)
        return list(seen)
