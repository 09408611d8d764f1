"""The market messages an import writes, as JSON text built from checked pieces.

They are the messages a recording of the live stream holds (wire/streams.py: `trade`,
`book_snapshot`, `book_delta`), so `vmx backtest --data` and `vmx replay` read an imported
recording as they read a recorded one. Built as text: every piece is already known to be a
plain number, a plain name or a fixed word (fields.py), and formatting them is several times
faster than building a dict per row and encoding it. Book messages carry no `checksum` (the
publishers' files have none, and readers skip the check when it is absent).
"""

from __future__ import annotations

import json

from velocimex_cli.engine.core.instruments import Catalogue, canonical_symbol

_CATALOGUE: list[Catalogue] = []


def catalogue() -> Catalogue:
    if not _CATALOGUE:
        _CATALOGUE.append(Catalogue())
    return _CATALOGUE[0]


def known_split(exchange: str, joined: str) -> str | None:
    """BTCUSDT -> BTC/USDT when the engine lists such an instrument on `exchange`."""
    wanted = joined.upper()
    for instrument in catalogue().instruments:
        if instrument.venue.name == exchange and instrument.symbol.replace("/", "") == wanted:
            return instrument.symbol
    return None


def known_on(exchange: str) -> str:
    symbols = [i.symbol for i in catalogue().instruments if i.venue.name == exchange]
    return ", ".join(symbols) if symbols else "none"


def instrument_symbol(symbol: str) -> str:
    """A symbol given with its separator (BTC-USD, btc/usd) in the engine's spelling."""
    return canonical_symbol(symbol)


def trade_prefix(exchange: str, symbol: str) -> str:
    """The start of a trade message of one instrument, up to its trade id's text."""
    names = json.dumps(exchange), json.dumps(symbol)
    return f'{{"type":"trade","exchange":{names[0]},"symbol":{names[1]},"trade_id":"'


def book_fields(exchange: str, symbol: str) -> str:
    names = json.dumps(exchange), json.dumps(symbol)
    return f'"exchange":{names[0]},"symbol":{names[1]}'


def level(price: str, quantity: str) -> str:
    return f'{{"price":{price},"quantity":{quantity}}}'


def change(side: str, price: str, quantity: str) -> str:
    return f'{{"side":"{side}","price":{price},"quantity":{quantity}}}'
