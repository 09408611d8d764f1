"""Every benchmark runs in --quick mode, so none of them rots. Figures are not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import available  # noqa: E402
from benchmarks.__main__ import REQUIRED_SUMMARY_KEYS  # noqa: E402


@pytest.mark.parametrize("name", available())
def test_benchmark_runs_quick_and_prints_a_summary(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", name, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines, "no figures printed"
    summary = lines[-1]
    for key in REQUIRED_SUMMARY_KEYS:
        assert key in summary, f"summary lacks {key}: {summary}"
    assert summary["value"] > 0 and summary["baseline"] > 0
