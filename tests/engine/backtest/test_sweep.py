"""Parameter sweeps: the same results on one process, several, or a Dask cluster; a cache that
computes only what is missing; ranking, CSV and the heatmap."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from tests.engine.backtest.conftest import Vmx, write_trades
from velocimex_cli.wire import jsonfmt

MARKET = ("-e", "BINANCE", "-s", "BTC/USDT", "-p", "order_amount=0.01")


def _zigzag(path: Path) -> Path:
    """Prices that trend up and down in waves, so crossovers of different windows differ."""
    rng = random.Random(5)
    rows = []
    price = 60_000
    for second in range(600):
        price += (7 if (second // 40) % 2 == 0 else -6) + rng.randint(-12, 12)
        rows.append((second, f"{price}.00", "0.05", "buy" if rng.random() < 0.5 else "sell"))
    return write_trades(path, rows)


@pytest.fixture
def sweep_args(tmp_path: Path) -> tuple[str, ...]:
    data = _zigzag(tmp_path / "zigzag.csv")
    return (
        "backtest", "sma-cross", "--data", str(data), *MARKET,
        "--sweep", "fast=2:4:2", "--sweep", "slow=6:10:4",
    )  # fmt: skip


def test_sweep_results_do_not_depend_on_the_number_of_workers(
    vmx: Vmx, sweep_args: tuple[str, ...]
) -> None:
    one = vmx.run(*sweep_args, "-j", "1", "--no-cache", "--json")
    two = vmx.run(*sweep_args, "-j", "2", "--no-cache", "--json")
    assert one.exit_code == 0, one.stderr
    assert one.stdout == two.stdout
    rows = jsonfmt.loads(one.stdout)
    assert {(r["params"]["fast"], r["params"]["slow"]) for r in rows} == {
        (2, 6), (2, 10), (4, 6), (4, 10),
    }  # fmt: skip
    sharpes = [r["metrics"]["sharpe"] for r in rows if r["metrics"]["sharpe"] is not None]
    assert sharpes == sorted(sharpes, reverse=True)
    returns = {r["metrics"]["total_return"] for r in rows}
    assert len(returns) > 1, "the windows should trade differently"


def test_a_rerun_only_computes_what_is_missing(vmx: Vmx, sweep_args: tuple[str, ...]) -> None:
    first = vmx.run(*sweep_args, "--json")
    assert first.exit_code == 0, first.stderr
    assert "from the cache" not in first.stderr
    again = vmx.run(*sweep_args, "--json")
    assert "4 of 4 runs from the cache" in again.stderr
    assert again.stdout == first.stdout
    wider = vmx.run(*sweep_args[:-1], "slow=6:14:4", "--json")
    assert "4 of 6 runs from the cache; 2 computed" in wider.stderr


def test_csv_and_heatmap(vmx: Vmx, sweep_args: tuple[str, ...]) -> None:
    result = vmx.run(*sweep_args, "-o", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4 and {"fast", "slow", "sharpe", "total_return"} <= set(rows[0])
    table = vmx.run(*sweep_args)
    # Minutes of data: no annualised Sharpe, so the sweep ranks by the per-period one.
    title = "sharpe_per_period by slow (rows) and fast (columns)"
    assert title in " ".join(table.stdout.split())  # the title wraps over the narrow heatmap


def test_split_reports_in_and_out_of_sample(vmx: Vmx, sweep_args: tuple[str, ...]) -> None:
    rows = jsonfmt.loads(vmx.run(*sweep_args, "--split", "0.7", "--json").stdout)
    assert all("out_of_sample" in r and "sharpe" in r["out_of_sample"] for r in rows)
    single = vmx.json(*sweep_args[:10], "-p", "fast=2", "-p", "slow=6", "--split", "0.7")
    assert single["split"] == "0.7"
    assert single["period"]["events"] < 600  # the in-sample part only
    assert single["metrics"] != single["out_of_sample"]
    assert single["metrics"] == next(
        r["metrics"] for r in rows if (r["params"]["fast"], r["params"]["slow"]) == (2, 6)
    )


def test_dask_cluster_gives_the_local_results(vmx: Vmx, sweep_args: tuple[str, ...]) -> None:
    distributed = pytest.importorskip("distributed")
    local = vmx.run(*sweep_args, "-j", "1", "--no-cache", "--json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:  # fmt: skip
        remote = vmx.run(
            *sweep_args, "--cluster", cluster.scheduler_address, "--no-cache", "--json"
        )
    assert remote.exit_code == 0, remote.stderr
    assert remote.stdout == local.stdout


def test_invalid_combinations_are_skipped_and_listed_not_fatal(vmx: Vmx, tmp_path: Path) -> None:
    """fast >= slow is refused by sma-cross: those runs are listed as skipped, the others run,
    on one worker and on two (a pool used to die on the first refusal)."""
    data = _zigzag(tmp_path / "zigzag.csv")
    args = ("backtest", "sma-cross", "--data", str(data), *MARKET,
            "--sweep", "fast=2:10:4", "--sweep", "slow=6:10:4", "--no-cache")  # fmt: skip
    for jobs in ("1", "2"):
        result = vmx.run(*args, "-j", jobs, "--json")
        assert result.exit_code == 0, result.stderr
        rows = jsonfmt.loads(result.stdout)
        skipped = [r for r in rows if "skipped" in r]
        assert sorted((r["params"]["fast"], r["params"]["slow"]) for r in skipped) == [
            (6, 6), (10, 6), (10, 10)
        ]  # fmt: skip
        assert all("below" in r["skipped"] for r in skipped)
        assert len([r for r in rows if "metrics" in r]) == 3
    table = vmx.run(*args, "-j", "2")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.count("skipped:") == 3
    assert "3 of 6 runs gave no result" in table.stderr
    as_csv = vmx.run(*args, "-o", "csv")  # a row each, the skipped ones saying why
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 6 and len([r for r in rows if r["total_return"]]) == 3
    assert sorted((r["fast"], r["slow"]) for r in rows if "below" in r["skipped"]) == [
        ("10", "10"), ("10", "6"), ("6", "6")
    ]  # fmt: skip


KILLER = """
import os, signal
from velocimex_cli.strategy import Strategy, Param


class Killer(Strategy):
    id = "killer"
    params = {"n": Param(int, 1, min=1, max=10)}

    def on_start(self):
        if self.config.n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_that_dies_is_reported_with_its_parameters(vmx: Vmx, tmp_path: Path) -> None:
    strategy = tmp_path / "killer.py"
    strategy.write_text(KILLER)
    data = _zigzag(tmp_path / "zigzag.csv")
    result = vmx.run(
        "backtest", str(strategy), "--data", str(data), *MARKET[:4],
        "--sweep", "n=1:4:1", "-j", "2", "--no-cache", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = jsonfmt.loads(result.stdout)
    failed = [r for r in rows if "failed" in r]
    assert [r["params"]["n"] for r in failed] == [2]
    assert "worker process died" in failed[0]["failed"]
    assert sorted(r["params"]["n"] for r in rows if "metrics" in r) == [1, 3, 4]


def test_rank_by_any_metric(vmx: Vmx, sweep_args: tuple[str, ...]) -> None:
    rows = jsonfmt.loads(vmx.run(*sweep_args, "--rank", "max_drawdown", "--json").stdout)
    drawdowns = [r["metrics"]["max_drawdown"] for r in rows]
    assert drawdowns == sorted(drawdowns)  # less is better: smallest first
    rows = jsonfmt.loads(vmx.run(*sweep_args, "--rank", "trades", "--json").stdout)
    trades = [r["metrics"]["trades"] for r in rows]
    assert trades == sorted(trades, reverse=True)
    bad = vmx.run(*sweep_args, "--rank", "luck")
    assert bad.exit_code == 2 and "--rank is one of" in bad.stderr and "sharpe" in bad.stderr


def test_an_unreachable_cluster_is_exit_9_within_seconds(
    vmx: Vmx, sweep_args: tuple[str, ...]
) -> None:
    import socket
    import time

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = vmx.run(*sweep_args, "--no-cache", "--cluster", f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    assert result.exit_code == 9, result.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr
    assert "the API" not in result.stderr  # no API was asked


def test_the_sweep_table_fits_a_terminal_by_dropping_whole_figures(
    vmx: Vmx, sweep_args: tuple[str, ...]
) -> None:
    """At 80 columns the least needed figures go whole (Rich would cut every header to
    `sharpe_pe…` to keep them); the rank, the parameters and the ranking metric stay; a wide
    terminal shows every figure."""
    figures = {"sharpe_per_period", "trading_return", "total_return", "max_drawdown", "trades"}

    def headers(width: int) -> list[str]:
        result = vmx.run(*sweep_args, "-j", "1", columns=width)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert all(len(line) <= width for line in lines), result.stdout
        assert "…" not in result.stdout, result.stdout
        header = next(line for line in lines if "┃ #" in line)
        return [cell.strip() for cell in header.strip("┃ ").split("┃")]

    narrow, wide = headers(80), headers(200)
    assert narrow[:4] == ["#", "fast", "slow", "sharpe_per_period"], narrow
    assert set(narrow) <= {"#", "fast", "slow", *figures} and len(narrow) < len(wide)
    assert set(wide) == {"#", "fast", "slow", *figures}
