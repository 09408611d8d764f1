"""A backtest keeps what existed before it (above all its data) out of the cyclic collector's
full collections while it runs, and leaves a freeze its caller made as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import ClassVar

import pytest

from velocimex_cli.engine.backtest import runner
from velocimex_cli.engine.backtest.generate import simulate
from velocimex_cli.engine.drivers.strategies.base import Strategy


class SeesTheCollector(Strategy):
    id = "sees-the-collector"
    seen: ClassVar[list[int]] = []

    def on_start(self) -> None:
        SeesTheCollector.seen.append(gc.get_freeze_count())


@pytest.fixture
def seen() -> Iterator[list[int]]:
    SeesTheCollector.seen = []
    yield SeesTheCollector.seen
    gc.unfreeze()  # whatever a failing test left frozen


def test_the_data_is_frozen_during_the_run_and_thawed_after(seen: list[int]) -> None:
    assert gc.get_freeze_count() == 0
    data = simulate(("BINANCE", "BTC/USDT"), 60, 3)
    result = runner.run(SeesTheCollector, data, runner.BacktestOptions("BINANCE", "BTC/USDT"))
    assert result.report["strategy_state"] == "stopped"
    assert len(seen) == 1 and seen[0] > 0  # the strategy ran with the old objects frozen
    assert gc.get_freeze_count() == 0  # and they are back in the collector's care


def test_a_callers_freeze_is_left_as_it_was(seen: list[int]) -> None:
    data = simulate(("BINANCE", "BTC/USDT"), 60, 3)
    gc.freeze()
    frozen = gc.get_freeze_count()
    runner.run(SeesTheCollector, data, runner.BacktestOptions("BINANCE", "BTC/USDT"))
    # (frozen objects still die when nothing refers to them: the count may only fall)
    assert len(seen) == 1 and seen[0] <= frozen  # nothing more frozen by the run
    assert frozen - 100 <= gc.get_freeze_count() <= frozen  # nor thawed after it
