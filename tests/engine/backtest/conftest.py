"""Fixtures for backtests: the real `vmx` app in-process, data files written per test."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.cli.factory import Factory
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt

START = 1_767_225_600  # 2026-01-01T00:00:00Z
BUY_ON_FIRST_TRADE = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy


class BuyOnFirstTrade(Strategy):
    id = "buy-on-first-trade"
    description = "Buys 0.01 at market on the first trade it sees, then holds."

    def on_start(self):
        self.bought = False

    def on_trade(self, trade):
        if not self.bought:
            self.bought = True
            self.ctx.buy(Decimal("0.01"))
"""

BID_AT_FIRST_PRINT = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy


class BidAtFirstPrint(Strategy):
    id = "bid-at-first-print"

    def on_start(self):
        self.placed = False

    def on_trade(self, trade):
        if not self.placed:
            self.placed = True
            self.ctx.buy(Decimal("0.01"), trade.price)
"""

ORDERS_ON_TRADES = """
from decimal import Decimal
from velocimex_cli.strategy import Strategy

ORDERS = {orders!r}  # the n-th trade seen (from 1) -> [(side, quantity, price or None)]


class OrdersOnTrades(Strategy):
    id = "orders-on-trades"

    def on_start(self):
        self.seen = 0

    def on_trade(self, trade):
        self.seen += 1
        for side, quantity, price in ORDERS.get(self.seen, ()):
            self.ctx.place_order(side, Decimal(quantity), None if price is None else Decimal(price))
"""


def orders_on_trades(orders: dict[int, list[tuple[str, str, str | None]]]) -> str:
    """A strategy's source that places `orders[n]` ((side, quantity, price or None for a
    market order)) when it sees its n-th trade (from 1)."""
    return ORDERS_ON_TRADES.format(orders=orders)


@dataclass
class Vmx:
    home: Path
    runner: CliRunner

    def run(self, *args: str, stderr_tty: bool = False, columns: int | None = None) -> Result:
        """`columns`: stdout is a terminal that wide."""
        io = IOStreams(stdout_tty=columns is not None, stderr_tty=stderr_tty, stdin_tty=False)
        env = {"VMX_HOME": str(self.home), "NO_COLOR": "1", "FORCE_COLOR": None}
        if columns is not None:
            env["COLUMNS"] = str(columns)
        return self.runner.invoke(
            vmx_app,
            list(args),
            env=env,
            obj=Factory(io),
            prog_name="vmx",
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return jsonfmt.loads(result.stdout)


@pytest.fixture
def vmx(tmp_path: Path) -> Vmx:
    home = tmp_path / "home"
    home.mkdir()
    return Vmx(home, CliRunner())


def write_trades(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    """(seconds after START, price, quantity, side) rows as a CSV of trades."""
    lines = ["timestamp,price,quantity,side"]
    lines += [f"{START + s},{p},{q},{side}" for s, p, q, side in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_recording(
    path: Path, messages: Iterable[tuple[int, dict[str, Any]]], **more: Any
) -> Path:
    """A recording (docs/api.md, "Recordings") of (ms after START, message) pairs; `more`
    header keys replace or add to the usual ones."""
    header: dict[str, Any] = {
        "format": "vmx-recording",
        "version": 1,
        "vmx_version": "test",
        "started_at": "2026-01-01T00:00:00.000000Z",
        "stream": "market",
        "instruments": ["BINANCE:BTC/USDT"],
        "channels": ["book", "trades"],
        "api_url": None,
        **more,
    }
    lines = [jsonfmt.dumps(header)]
    for ms, message in messages:
        lines.append(jsonfmt.dumps({"t": ms * 1_000_000, "msg": message}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# A Binance data file's day (2026-09-01T00:00:00Z) in milliseconds, its rows' time base.
DAY_MS = 1_788_220_800_000


def write_csv(path: Path, lines: list[str], *, gz: bool = False) -> Path:
    """`lines` as a data file (gzipped with `gz`), as a publisher ships it."""
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A recording's header and its entries."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return jsonfmt.loads(lines[0]), [jsonfmt.loads(line) for line in lines[1:]]


def level(price: str, quantity: str) -> dict[str, Any]:
    return {"price": jsonfmt.Decimal(price), "quantity": jsonfmt.Decimal(quantity)}


def snapshot(bids: list[dict[str, Any]], asks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "book_snapshot",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": 1,
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "bids": bids,
        "asks": asks,
        "checksum": 0,
    }


def delta(sequence: int, *changes: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "type": "book_delta",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": sequence,
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "changes": [
            {"side": side, "price": jsonfmt.Decimal(p), "quantity": jsonfmt.Decimal(q)}
            for side, p, q in changes
        ],
        "checksum": 0,
    }


def trade(trade_id: int, price: str, quantity: str, side: str) -> dict[str, Any]:
    return {
        "type": "trade",
        "trade_id": str(trade_id),
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "price": jsonfmt.Decimal(price),
        "quantity": jsonfmt.Decimal(quantity),
        "side": side,
        "timestamp": "2026-01-01T00:00:00.000000Z",
    }
