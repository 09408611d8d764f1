"""An instrument with fee rates of its own (a mirrored venue's market) is charged those, exactly,
by the C core and by the pure-Python one alike; every other instrument keeps the exchange-wide
rates of the engine's configuration.

The same script runs under each core (tests/core_variants.py) through the exchange's public
functions, with no listener attached, so the C core's `place`, `cancel` and settlement take the
fills (the script counts the placements the C path took). The figures are computed by hand below
from the rates, as Decimals.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.core_variants import run_script

MAKER, TAKER = D("0.00075"), D("0.0026")  # 7.5 and 26 basis points: not whole basis points

RUN = r"""
import dataclasses, json
from decimal import Decimal as D

from tests.conftest import FakeClock
from tests.core_variants import count_native_places
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.orders import NATIVE
from velocimex_cli.engine.core.instruments import (
    Catalogue, Instrument, Venue, VenueKind, default_instruments,
)

rows = [dataclasses.replace(i, index=n) for n, i in
        enumerate(i for i in default_instruments() if i.exchange != "BINANCE")]
rows.append(Instrument(
    index=len(rows), venue=Venue("BINANCE", VenueKind.CRYPTO), symbol="BTC/USDT", base="BTC",
    quote="USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_quantity=D("0.00001"),
    reference_price=D("100"), maker_fee=D("0.00075"), taker_fee=D("0.0026"),
))
config = EngineConfig(
    always_open=True, catalogue=Catalogue(rows),
    sandbox_funds={"USDT": D(10_000), "USD": D(100_000), "BTC": D(10)},
)
exchange = Exchange(config, FakeClock())
taken = count_native_places()
for name in ("maker", "taker"):
    exchange.ensure_account(name)

def order(exchange_name, symbol, side, quantity, price):
    return {"exchange": exchange_name, "symbol": symbol, "side": side, "type": "limit",
            "quantity": D(quantity), "price": D(price)}

def balances(name):
    return {row["asset"]: [str(row["total"]), str(row["locked"])]
            for row in exchange.balances(name)}

out = {"native": NATIVE}
rest, _ = exchange.place_order("maker", order("BINANCE", "BTC/USDT", "buy", "0.5", "100.00"))
out["resting"] = balances("maker")["USDT"]
exchange.place_order("taker", order("BINANCE", "BTC/USDT", "sell", "0.2", "100.00"))
out["after_fill"] = {name: balances(name) for name in ("maker", "taker")}
out["fills"] = {name: [[str(f["price"]), str(f["quantity"]), str(f["fee"]), f["liquidity"]]
                       for f in exchange.list_fills(name)] for name in ("maker", "taker")}
exchange.cancel_order("maker", rest["order_id"])
out["canceled"] = balances("maker")["USDT"]
# a simulated instrument beside it keeps the exchange-wide rates (1 and 2 bps by default)
exchange.place_order("maker", order("KRAKEN", "BTC/USD", "buy", "1", "60000.0"))
exchange.place_order("taker", order("KRAKEN", "BTC/USD", "sell", "1", "60000.0"))
out["simulated_fees"] = {name: str(exchange.list_fills(name)[0]["fee"])
                         for name in ("maker", "taker")}
out["fee_account"] = {row["asset"]: str(row["total"]) for row in exchange.balances("fees")}
out["listed"] = [[r["exchange"], r["symbol"], str(r["maker_fee"]), str(r["taker_fee"]),
                  r["fee_source"]] for r in exchange.instruments()
                 if r["exchange"] in ("BINANCE", "KRAKEN") and r["symbol"].startswith("BTC/")]
out["c_placements"] = taken[0]
out["state"] = exchange.state_hash()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def runs() -> dict[bool, Any]:
    return {pure: run_script(RUN, [], pure) for pure in (False, True)}


def test_a_venue_priced_instrument_is_charged_its_own_rates_exactly(runs: dict[bool, Any]) -> None:
    c_core = runs[False]
    assert c_core["native"], "the C core is not built: this test is about it too"
    assert c_core["c_placements"] == 4  # every placement took the C path
    for run in runs.values():
        # The resting buy locks its notional plus the fee at the higher rate (the taker's).
        notional = D("0.5") * D("100.00")
        assert D(run["resting"][1]) == notional + notional * TAKER
        # The fill: 0.2 at 100.00 = 20 USDT; the maker pays 7.5 bps, the taker 26 bps.
        filled = D("0.2") * D("100.00")
        maker_fee, taker_fee = filled * MAKER, filled * TAKER
        assert (maker_fee, taker_fee) == (D("0.015"), D("0.052"))
        maker, taker = run["after_fill"]["maker"], run["after_fill"]["taker"]
        assert D(maker["USDT"][0]) == 10_000 - filled - maker_fee
        assert D(maker["USDT"][1]) == (notional - filled) * (1 + TAKER)  # the rest's lock
        assert D(maker["BTC"][0]) == 10 + D("0.2")
        assert D(taker["USDT"][0]) == 10_000 + filled - taker_fee
        assert D(taker["BTC"][0]) == 10 - D("0.2")
        assert run["fills"]["maker"] == [["100.00", "0.20000", "0.015", "maker"]]
        assert run["fills"]["taker"] == [["100.00", "0.20000", "0.052", "taker"]]
        assert D(run["canceled"][1]) == 0  # the cancel released exactly what was locked
        # The simulated market beside it: 60,000 USD at 1 and 2 bps, as before.
        assert {k: D(v) for k, v in run["simulated_fees"].items()} == {"maker": 6, "taker": 12}
        assert D(run["fee_account"]["USDT"]) == maker_fee + taker_fee
        assert D(run["fee_account"]["USD"]) == D(18)
        assert run["listed"] == [
            ["KRAKEN", "BTC/USD", "0.0001", "0.0002", "engine"],
            ["BINANCE", "BTC/USDT", "0.00075", "0.0026", "venue"],
        ]


def test_both_cores_end_in_the_same_state(runs: dict[bool, Any]) -> None:
    c_core, pure = runs[False], runs[True]
    assert {k: v for k, v in c_core.items() if k not in ("native", "c_placements")} == {
        k: v for k, v in pure.items() if k not in ("native", "c_placements")
    }
    assert pure["c_placements"] == 0


@pytest.mark.parametrize(
    ("maker", "taker", "problem"),
    [
        ("-0.0001", "0.001", "below 0"),
        ("0.2", "0.001", "above 0.1"),
        ("0.000000001", "0.001", "finer than 0.00000001"),
        ("0.001", None, "a maker fee needs a taker fee"),
    ],
)
def test_an_instrument_refuses_fee_rates_it_cannot_charge_exactly(
    maker: str, taker: str | None, problem: str
) -> None:
    from velocimex_cli.engine.core.instruments import Instrument, Venue, VenueKind

    with pytest.raises(ValueError, match=problem):
        Instrument(
            index=0, venue=Venue("BINANCE", VenueKind.CRYPTO), symbol="BTC/USDT", base="BTC",
            quote="USDT", tick_size=D("0.01"), lot_size=D("0.00001"),
            min_quantity=D("0.00001"), reference_price=D("100"), maker_fee=D(maker),
            taker_fee=None if taker is None else D(taker),
        )  # fmt: skip
