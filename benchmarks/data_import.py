"""`vmx data import` throughput against Python's csv module merely reading the same file.

A Binance spot trades file (no header, seven columns, as published) of N rows is generated
(a seeded random walk), then, alternately, `python -c "for row in csv.reader(f): pass"` reads
it (the baseline: no parsing, no checks, no output) and `vmx data import --format
binance-trades FILE -o RECORDING` converts it (a subprocess, as a user runs it: start-up
included). Figures are rows per second of the process's CPU time (user + system, from wait4:
on a shared machine wall time measures the neighbours), median of the runs, with the wall-time
rates beside them; target ratio >= 0.3. The import's peak RSS is reported too (constant
memory: it should not grow with N).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("vmx")
VMX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "velocimex_cli"]
TARGET = 0.3
BASELINE = (
    "import csv, sys\nwith open(sys.argv[1], newline='') as f:\n    for row in csv.reader(f): pass"
)


def write_binance_trades(path: Path, rows: int, *, seed: int = 7, micros: bool = False) -> Path:
    """A Binance spot trades CSV (id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch)
    of a seeded random walk around 60,000 USDT, a trade every 0-40 ms."""
    rng = random.Random(seed)
    price = 6_000_000  # cents
    stamp = 1_788_220_800_000  # 2026-09-01T00:00:00Z in ms
    scale = 1000 if micros else 1
    with path.open("w", encoding="ascii", newline="\n") as out:
        lines = []
        for trade_id in range(1, rows + 1):
            price = max(100, price + rng.randint(-3, 3))
            qty = rng.randint(1, 50_000)  # in lots of 0.00001
            stamp += rng.randint(0, 40)
            maker = "True" if rng.random() < 0.5 else "False"
            lines.append(
                f"{trade_id},{price // 100}.{price % 100:02d}000000,{qty // 100_000}."
                f"{qty % 100_000:05d}000,{price * qty // 100_000 // 100}.00000000,"
                f"{stamp * scale},{maker},True\n"
            )
            if len(lines) >= 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return path


def _timed(command: list[str]) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak RSS in MiB) of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode()[-500:] if process.stderr else ""
        raise RuntimeError(f"{command} failed: {error}")
    return usage.ru_utime + usage.ru_stime, elapsed, usage.ru_maxrss / 1024


def run(quick: bool) -> Iterator[dict]:
    rows = 50_000 if quick else 2_000_000
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="vmx-bench-import-") as tmp:
        data = write_binance_trades(Path(tmp) / "BTCUSDT-trades-2026-09-01.csv", rows)
        out = Path(tmp) / "out.ndjson"
        values, baselines, walls, wall_baselines, peaks = [], [], [], [], []
        for _ in range(runs):
            cpu, wall, _ = _timed([sys.executable, "-c", BASELINE, str(data)])
            baselines.append(rows / cpu)
            wall_baselines.append(rows / wall)
            command = [*VMX, "data", "import", "--format", "binance-trades", str(data),
                       "-o", str(out), "--force"]  # fmt: skip
            cpu, wall, peak = _timed(command)
            values.append(rows / cpu)
            walls.append(rows / wall)
            peaks.append(peak)
        value, baseline = statistics.median(values), statistics.median(baselines)
        yield {
            "name": "csv.reader baseline",
            "value": round(baseline),
            "unit": "rows/s of CPU time (median)",
            "wall_rows_per_s": round(statistics.median(wall_baselines)),
            "rows": rows,
            "file_mib": round(data.stat().st_size / 2**20, 1),
        }
        yield {
            "name": "data_import",
            "baseline_name": "csv.reader reading the same file",
            "value": round(value),
            "baseline": round(baseline),
            "ratio": round(value / baseline, 3),
            "target": TARGET,
            "unit": "rows/s of CPU time (median; the import includes vmx start-up)",
            "wall_rows_per_s": round(statistics.median(walls)),
            "wall_ratio": round(statistics.median(walls) / statistics.median(wall_baselines), 3),
            "rows": rows,
            "runs": runs,
            "peak_rss_mib": round(max(peaks), 1),
            "within_target": value / baseline >= TARGET,
        }
