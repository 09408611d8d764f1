"""Paper fills on a mirrored venue pay the venue's own fee rates (or the user's own tier from the
venue config), not the engine's: taker and maker, exact to the ledger unit, the lock of a
resting buy at the higher of the two, the markets listing saying which rates apply. Through the
real engine app mirroring a scripted venue (scripted_venue.py)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engine.drivers.venues.scripted_venue import (
    BTC,
    D,
    Mirrored,
    ScriptedSource,
    snapshot,
    trade,
)
from velocimex_cli.engine.drivers.venues.spec import MirrorSpecError, venue_config

# Kraken-like first-tier rates: neither is a whole number of basis points.
VENUE_MAKER, VENUE_TAKER = D("0.00075"), D("0.0026")
SPEC = dataclasses.replace(BTC, maker_fee=VENUE_MAKER, taker_fee=VENUE_TAKER)
USDT_FUNDS = D(100_000)  # the engine's sandbox funds


def usdt(engine: Mirrored) -> tuple[Decimal, Decimal]:
    """The user's USDT (total, locked)."""
    rows = engine.get("/v1/account/balance")["balances"]
    row = next(r for r in rows if r["asset"] == "USDT")
    return D(str(row["total"])), D(str(row["locked"]))


def fills(engine: Mirrored) -> list[dict[str, Any]]:
    return engine.get("/v1/trading/fills")["fills"]


def listed(engine: Mirrored, exchange: str, symbol: str) -> dict[str, Any]:
    rows = engine.get("/v1/markets")["markets"]
    return next(r for r in rows if (r["exchange"], r["symbol"]) == (exchange, symbol))


def mirrored_at(tmp_path: Path, **settings: Any) -> Mirrored:
    return Mirrored(ScriptedSource((SPEC,)), tmp_path / "engine", **settings)


def test_a_taker_fill_and_a_maker_fill_pay_the_venues_rates(tmp_path: Path) -> None:
    with mirrored_at(tmp_path) as engine:
        engine.wait_loaded()
        engine.source.push(snapshot([("99.00", "5")], [("100.00", "5")]))
        row = listed(engine, "BINANCE", "BTC/USDT")
        assert (D(str(row["maker_fee"])), D(str(row["taker_fee"]))) == (VENUE_MAKER, VENUE_TAKER)
        assert row["fee_source"] == "venue"
        simulated = listed(engine, "KRAKEN", "BTC/USD")  # not mirrored: the engine's rates
        assert (D(str(simulated["maker_fee"])), D(str(simulated["taker_fee"]))) == (
            D("0.0001"),
            D("0.0002"),
        )
        assert simulated["fee_source"] == "engine"

        # A dry run estimates the fee at the venue's taker rate.
        body = {"exchange": "BINANCE", "symbol": "BTC/USDT", "type": "limit", "side": "buy",
                "price": "100.00", "quantity": "0.5"}  # fmt: skip
        checked = engine.client.post(
            "/v1/trading/orders/validate", json=body, headers=engine.headers
        )
        assert checked.status_code == 200, checked.text
        estimate = checked.json()["data"]["estimate"]
        assert D(str(estimate["fee"])) == D("0.5") * D("100.00") * VENUE_TAKER

        # Taker: a marketable buy of 0.5 takes the venue's ask at 100.00.
        taken = engine.order(side="buy", price="100.00", quantity="0.5")
        assert taken.status_code == 201, taken.text
        notional = D("0.5") * D("100.00")
        taker_fee = notional * VENUE_TAKER
        assert taker_fee == D("0.13")
        [fill] = fills(engine)
        assert fill["liquidity"] == "taker" and D(str(fill["fee"])) == taker_fee
        assert fill["fee_asset"] == "USDT"
        assert usdt(engine) == (USDT_FUNDS - notional - taker_fee, 0)

        # A resting buy at 99.50 locks its notional plus the fee at the higher rate.
        placed = engine.order(side="buy", price="99.50", quantity="1")
        assert placed.status_code == 201, placed.text
        resting = D("99.50")
        total_before = usdt(engine)[0]
        assert usdt(engine)[1] == resting + resting * VENUE_TAKER
        # Maker: a venue print at 99.50 reaches it (nothing rests ahead of it) and fills 0.2.
        engine.source.push(trade("99.50", "0.2", "sell", t=2))
        maker = [f for f in fills(engine) if f["liquidity"] == "maker"]
        assert len(maker) == 1 and D(str(maker[0]["quantity"])) == D("0.2")
        made = D("0.2") * D("99.50")
        maker_fee = made * VENUE_MAKER
        assert maker_fee == D("0.014925")
        assert D(str(maker[0]["fee"])) == maker_fee
        total, locked = usdt(engine)
        assert total == total_before - made - maker_fee
        assert locked == (resting - made) * (1 + VENUE_TAKER)  # the rest's lock, exactly
        positions = engine.get("/v1/account/positions")["positions"]
        btc = next(p for p in positions if p["symbol"] == "BTC/USDT")
        assert D(str(btc["realized_pnl"])) == -(taker_fee + maker_fee)  # fees are realized


def test_the_users_own_fee_tier_from_the_venue_config_replaces_the_venues(
    tmp_path: Path,
) -> None:
    tier = {"binance": {"vmx": {"maker_fee": "0.0002", "taker_fee": "0.0004"}}}
    with mirrored_at(tmp_path, venue_config=venue_config(tier, "test")) as engine:
        engine.wait_loaded()
        engine.source.push(snapshot([("99.00", "5")], [("100.00", "5")]))
        row = listed(engine, "BINANCE", "BTC/USDT")
        assert (D(str(row["maker_fee"])), D(str(row["taker_fee"]))) == (D("0.0002"), D("0.0004"))
        taken = engine.order(side="buy", price="100.00", quantity="0.5")
        assert taken.status_code == 201, taken.text
        [fill] = fills(engine)
        assert D(str(fill["fee"])) == D("50") * D("0.0004")
    # Restarted while the venue cannot be reached, the market is the one kept on disk: the
    # venue's rates as it stated them, at the user's tier while one is configured.
    down = ScriptedSource((SPEC,), unreachable="binance unreachable")
    with Mirrored(down, tmp_path / "engine", venue_config=venue_config(tier, "test")) as engine:
        row = listed(engine, "BINANCE", "BTC/USDT")
        assert (D(str(row["maker_fee"])), D(str(row["taker_fee"]))) == (D("0.0002"), D("0.0004"))
    with Mirrored(down, tmp_path / "engine") as engine:
        row = listed(engine, "BINANCE", "BTC/USDT")
        assert (D(str(row["maker_fee"])), D(str(row["taker_fee"]))) == (VENUE_MAKER, VENUE_TAKER)
        assert row["fee_source"] == "venue"


@pytest.mark.parametrize(
    ("tuning", "message"),
    [
        ({"maker_fee": "0.0002"}, "binance.vmx: maker_fee needs taker_fee too"),
        ({"taker_fee": "0.0004"}, "binance.vmx: taker_fee needs maker_fee too"),
        ({"maker_fee": "-0.0001", "taker_fee": "0.0004"}, "maker_fee -0.0001 is below 0"),
        ({"maker_fee": "0.0002", "taker_fee": "2"}, "taker_fee 2 is above 0.1 (10%)"),
        ({"maker_fee": "0.000000001", "taker_fee": "0.0004"}, "finer than 0.00000001"),
        ({"maker_fee": "2 bps", "taker_fee": "0.0004"}, "maker_fee must be a fraction such as"),
        ({"maker_fee": True, "taker_fee": "0.0004"}, "maker_fee must be a fraction such as"),
    ],
)
def test_a_fee_tier_that_cannot_be_charged_is_refused_naming_the_key(
    tuning: dict[str, Any], message: str
) -> None:
    with pytest.raises(MirrorSpecError, match="--venue-config FILE: ") as refused:
        venue_config({"binance": {"vmx": tuning}}, "FILE")
    assert message in str(refused.value)
