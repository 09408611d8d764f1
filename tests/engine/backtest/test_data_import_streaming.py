"""`vmx data import` streams: a real `vmx` process imports a file whose recording is far larger
than the process's peak memory, and a process killed mid-import leaves nothing under the
recording's name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import VMX

pytestmark = pytest.mark.e2e

ROWS = 1_200_000
DAY_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z
MOST_RSS_MIB = 64  # the recording is more than 3x that; holding its rows would need ~10x


def write_big_file(path: Path, rows: int) -> Path:
    """A Binance spot trades CSV: a trade every 3 ms, prices in a small zigzag."""
    with path.open("w", encoding="ascii") as out:
        for start in range(0, rows, 50_000):
            out.write(
                "".join(
                    f"{i},{60000 + i % 7}.{i % 100:02d}000000,0.00{i % 9 + 1}00000,0,"
                    f"{DAY_MS + 3 * i},{'True' if i % 2 else 'False'},True\n"
                    for i in range(start, min(rows, start + 50_000))
                )
            )
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_file(tmp_path_factory.mktemp("big") / "BTCUSDT-trades-2026-09-01.csv", ROWS)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(home)
    return env


def _high_water_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM: of this program, since its exec)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/PID/status")
def test_a_large_file_is_imported_in_bounded_memory(big_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "big.ndjson"
    process = subprocess.Popen(
        [*VMX, "data", "import", "-f", "binance-trades", str(big_file), "-o", str(out)],
        env=_env(tmp_path / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak_mib = 0.0
    while process.poll() is None:
        peak_mib = max(peak_mib, _high_water_mib(process.pid))
        time.sleep(0.05)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, stderr
    size_mib = out.stat().st_size / 2**20
    assert size_mib > 3 * MOST_RSS_MIB  # the recording is far larger than the memory allowed
    assert 0 < peak_mib < MOST_RSS_MIB, f"peak RSS {peak_mib:.0f} MiB for {size_mib:.0f} MiB"
    assert f"imported {ROWS:,} rows" in stderr
    with out.open("rb") as handle:
        lines = sum(1 for _ in handle)
    assert lines == ROWS + 1


@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL")
def test_a_killed_import_leaves_no_recording(big_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.ndjson"
    process = subprocess.Popen(
        [*VMX, "data", "import", "-f", "binance-trades", str(big_file), "-o", str(out)],
        env=_env(tmp_path / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        partial: list[Path] = []
        while time.monotonic() < deadline and process.poll() is None:
            partial = [p for p in tmp_path.glob(".killed.ndjson.*.part") if p.stat().st_size]
            if partial:
                break
            time.sleep(0.01)
        assert partial, "the import never wrote its temporary file"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not out.exists()  # the half-written data is only under the temporary name
