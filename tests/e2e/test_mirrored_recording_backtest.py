"""A recording of a mirrored market (`vmx stream market --record`, a real `vmx` against the real
engine app under uvicorn, mirroring a scripted venue) carries the venue's terms in its header
and backtests on them: here BINANCE BTC/USDT on a 0.001 tick, where vmx's simulated BTC/USDT
has 0.01, so the venue's prices are off the simulated tick; and the venue's fee rates, which the
backtest's fills pay instead of the engine's."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from tests.engine.api.conftest import LiveServer, settings
from tests.engine.backtest.conftest import orders_on_trades
from tests.engine.drivers.venues.scripted_venue import (
    BINANCE,
    ScriptedSource,
    changes,
    down,
    no_wait,
    snapshot,
    trade,
)
from tests.processes import VMX, Reader, make_env, vmx
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.drivers.venues.feed import MarketSpec

pytestmark = pytest.mark.e2e

D = Decimal
FINE_BTC = MarketSpec(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.001"),
    lot_size=D("0.00001"),
    min_quantity=D("0.00001"),
    min_notional=D("5"),
    taker_fee=D("0.0026"),
    maker_fee=D("0.00075"),
)

BUY_AT_MARKET_ON_FIRST_PRINT = """
from decimal import ROUND_DOWN, Decimal
from velocimex_cli.strategy import Strategy


class BuyOnce(Strategy):
    id = "buy-once"

    def on_start(self):
        self.bought = False

    def on_trade(self, trade):
        if not self.bought:
            self.bought = True
            self.ctx.buy(Decimal("0.01234"))
"""


@dataclass
class Mirror:
    source: ScriptedSource
    env: dict[str, str]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    source = ScriptedSource([FINE_BTC])
    app = create_app(
        settings(
            data_dir=tmp_path / "engine",
            mirrors=(BINANCE,),
            venue_sources=lambda mirror, config, clock: source,
            venue_retry_sleep=no_wait,
        )
    )
    with LiveServer(app) as live:
        deadline = time.monotonic() + 15
        while "BTC/USDT" not in source.queues:  # the markets loaded, the watch began
            assert time.monotonic() < deadline, "the mirror never watched BTC/USDT"
            time.sleep(0.01)
        created = app.state.runtime.keys.create("alice", "test", ("read", "trade"))
        env = make_env(
            tmp_path / "home",
            VMX_API_URL=live.url,
            VMX_API_KEY=created.api_key,
            VMX_API_SECRET=created.api_secret,
        )
        yield Mirror(source, env)


@contextmanager
def recording(mirror: Mirror, path: Path) -> Iterator[Reader]:
    """`vmx stream market BINANCE:BTC/USDT -c book -c trades --record path` against the mirror,
    from its first book snapshot (seed the venue's book first) until the block ends; then
    stopped as a stream is (SIGINT), and it must exit 0."""
    process = subprocess.Popen(
        [*VMX, "stream", "market", "BINANCE:BTC/USDT", "-c", "book", "-c", "trades",
         "--duration", "60", "--record", str(path)],
        env=mirror.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    reader = Reader(process)
    try:
        reader.wait_for(lambda: any('"book_snapshot"' in line for line in reader.lines))
        yield reader
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0, "".join(reader.err)


def test_a_recording_of_a_mirrored_market_backtests_on_the_venues_terms(
    mirror: Mirror, tmp_path: Path
) -> None:
    source = mirror.source
    source.push(snapshot([("60000.005", "1")], [("60000.017", "1")]))
    recorded = tmp_path / "binance.ndjson"
    with recording(mirror, recorded) as reader:
        source.push(trade("60000.005", "0.2", "sell", t=1.0))  # the strategy buys at market
        source.push(changes(asks=[("60000.013", "0.5")], t=1.1))  # and gets 60000.013
        source.push(trade("60000.013", "0.1", "buy", t=1.2))
        source.push(changes(bids=[("60000.009", "0.3")], t=1.3))
        reader.wait_for(lambda: any("60000.009" in line for line in reader.lines))

    header = json.loads(recorded.read_text(encoding="utf-8").splitlines()[0])
    assert header["terms"] == {
        "BINANCE:BTC/USDT": {
            "base": "BTC",
            "quote": "USDT",
            "tick_size": 0.001,
            "lot_size": 0.00001,
            "min_quantity": 0.00001,
            "min_notional": 5,  # the venue's, as the engine lists it
            "maker_fee": 0.00075,
            "taker_fee": 0.0026,
        }
    }

    strategy = tmp_path / "buy_once.py"
    strategy.write_text(BUY_AT_MARKET_ON_FIRST_PRINT, encoding="utf-8")
    fills = tmp_path / "fills.csv"
    ran = vmx(
        mirror.env, "backtest", str(strategy), "--data", str(recorded), "--trades", str(fills),
        "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout, parse_float=D)
    assert report["options"]["exchange"] == "BINANCE"
    assert report["terms"]["tick_size"] == D("0.001")
    assert (report["terms"]["maker_fee"], report["terms"]["taker_fee"]) == (
        D("0.00075"),
        D("0.0026"),
    )
    assert report["orders_rejected"] == 0, report["first_rejection"]
    rows = fills.read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 1, rows
    columns = fills.read_text(encoding="utf-8").splitlines()[0].split(",")
    fill = dict(zip(columns, rows[0].split(","), strict=True))
    assert (fill["side"], D(fill["price"]), D(fill["quantity"])) == (
        "buy",
        D("60000.013"),
        D("0.01234"),
    )
    # a taker fill at the venue's 0.26%, rounded down to the ledger's 10^-8 USDT
    fee = (D("60000.013") * D("0.01234") * D("0.0026")).quantize(D("1e-8"), ROUND_DOWN)
    assert fee == D("1.92504041")
    assert D(fill["fee"]) == fee and fill["fee_asset"] == "USDT"

    # An order under the venue's minimum notional (0.00001 x 60000.013 = 0.60000013 USDT, the
    # venue's minimum 5): the live engine refuses it, and the backtest of its recording refuses
    # it on arrival in the same words.
    small = ["buy", "0.00001", "60000.013"]
    live = vmx(mirror.env, "order", "place", "BINANCE", "BTC/USDT", *small[:2], "--price",
               small[2], "-y")  # fmt: skip
    assert live.returncode == 2, live.stdout
    said = (
        "BINANCE:BTC/USDT: price x quantity is 0.60000013 USDT, below the venue's minimum "
        "notional of 5 USDT; order more"
    )
    assert said in live.stderr
    small_strategy = tmp_path / "small.py"
    small_strategy.write_text(orders_on_trades({1: [tuple(small)]}), encoding="utf-8")
    refused = vmx(mirror.env, "backtest", str(small_strategy), "--data", str(recorded), "--json")
    assert refused.returncode == 0, refused.stderr
    report = json.loads(refused.stdout, parse_float=D)
    assert report["orders_rejected"] == 1
    assert report["first_rejection"] == said


def test_a_recording_through_a_feed_outage_backtests_halted_until_the_snapshot(
    mirror: Mirror, tmp_path: Path
) -> None:
    """The venue's feed stalls mid-recording: the engine sends `book_status` (not valid) on
    the book channel, prints the venue's trades meanwhile, and after the next snapshot says
    valid again. The backtest of that recording refuses the market buy that arrives while the
    feed is down (MARKET_CLOSED, the engine's reason) and fills the ones before and after."""
    source = mirror.source
    source.push(snapshot([("60000.005", "1")], [("60000.017", "1")]))
    recorded = tmp_path / "outage.ndjson"
    with recording(mirror, recorded) as reader:
        source.push(trade("60000.005", "0.2", "sell", t=1.0))  # a market buy
        source.push(changes(asks=[("60000.013", "0.5")], t=1.1))  # it arrives: 60000.013
        source.push(down("stalled: no book update for 30 s"))
        reader.wait_for(lambda: any('"book_status"' in line for line in reader.lines))
        source.push(trade("60000.013", "0.1", "buy", t=1.2))  # a market buy, while down
        source.push(trade("60000.013", "0.05", "buy", t=1.25))  # it arrives: refused
        source.push(snapshot([("60000.009", "1")], [("60000.020", "1")], t=1.3))  # whole again
        source.push(trade("60000.020", "0.1", "buy", t=1.4))  # a market buy
        source.push(changes(bids=[("60000.010", "0.3")], t=1.5))  # it arrives: 60000.020
        last = re.compile(r"60000\.010?\b")  # the bid of 60000.010 (as the stream writes it)
        reader.wait_for(lambda: any(last.search(line) for line in reader.lines))

    lines = [json.loads(line) for line in recorded.read_text(encoding="utf-8").splitlines()]
    statuses = [entry["msg"] for entry in lines[1:] if entry["msg"]["type"] == "book_status"]
    assert [s["valid"] for s in statuses] == [False, True], statuses
    reason = statuses[0]["reason"]
    assert "stalled" in reason

    strategy = tmp_path / "orders.py"
    buy = [("buy", "0.01234", None)]
    # The trades it sees: the venue's first, its own fill, the two while down, the last.
    strategy.write_text(orders_on_trades({1: buy, 3: buy, 5: buy}), encoding="utf-8")
    fills = tmp_path / "fills.csv"
    ran = vmx(
        mirror.env, "backtest", str(strategy), "--data", str(recorded), "--trades", str(fills),
        "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout, parse_float=D)
    assert report["orders_rejected"] == 1
    assert report["first_rejection"].startswith(
        f"BINANCE:BTC/USDT is halted ({reason}): a market order needs the venue's book"
    )
    rows = fills.read_text(encoding="utf-8").splitlines()
    columns = rows[0].split(",")
    prices = [D(dict(zip(columns, row.split(","), strict=True))["price"]) for row in rows[1:]]
    assert prices == [D("60000.013"), D("60000.020")]
