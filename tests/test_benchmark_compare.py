"""`python -m benchmarks compare`: two codebases' benchmarks alternated and their medians compared.

Both sides here are this checkout (run by this Python, or by a wrapper standing in for an older
codebase), on the cheapest benchmark, so the test checks the alternation, the medians, the
fallback to each side's own module and the refusals, not any figure.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHEAP = "strategy_dispatch"


def _compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "compare", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_pairs_alternate_and_the_medians_are_of_the_runs_printed() -> None:
    result = _compare("--before", str(ROOT), "--before-python", sys.executable,
                      "--only", CHEAP, "--pairs", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    runs = [line for line in lines if "run" in line]
    assert [(run["side"], run["pair"]) for run in runs] == [
        ("before", 1), ("after", 1), ("after", 2), ("before", 2), ("before", 3), ("after", 3),
    ]  # fmt: skip
    [comparison] = [line for line in lines if "benchmark" in line]
    assert comparison["benchmark"] == CHEAP
    assert comparison["definitions"] == "after"  # the after module runs on both sides
    summary = comparison["figures"]["summary"]
    for name in ("value", "baseline", "ratio"):
        for side in ("before", "after"):
            printed = [run["summary"][name] for run in runs if run["side"] == side]
            assert summary[name][side] == statistics.median(printed)
        before, after = summary[name]["before"], summary[name]["after"]
        assert summary[name]["change_pct"] == round((after - before) / before * 100, 1)
    ratio = summary["ratio"]["change_pct"]
    assert summary["within_5_pct"] is (abs(ratio) <= 5)
    low, high = summary["ratio"]["before_range"]
    assert low == min(run["summary"]["ratio"] for run in runs if run["side"] == "before")
    assert high == max(run["summary"]["ratio"] for run in runs if run["side"] == "before")
    assert f"| {CHEAP} | summary | {summary['ratio']['before']:g} ({low:g}-{high:g}) |" in (
        result.stderr
    )


def test_a_module_the_before_side_cannot_run_falls_back_to_its_own(tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(ROOT / "benchmarks", before / "benchmarks")
    # A before codebase on which the after side's module fails: this Python runs benchmarks
    # only from the before checkout itself, as if the staged module imported a missing name.
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$PWD" != "{before}" ]; then\n'
        '  echo "ModuleNotFoundError: No module named velocimex_cli.later" >&2; exit 1\n'
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    result = _compare("--before", str(before), "--before-python", str(python),
                      "--only", CHEAP, "--pairs", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    [comparison] = [line for line in _lines(result.stdout) if "benchmark" in line]
    assert comparison["definitions"] == "own"
    assert "No module named velocimex_cli.later" in comparison["note"]
    assert comparison["figures"]["summary"]["ratio"]["before"] > 0


def test_an_unknown_revision_or_benchmark_is_refused_saying_what_to_give() -> None:
    result = _compare("--before", "no-such-revision-here")
    assert result.returncode == 2
    assert "'no-such-revision-here' is neither a directory nor a commit" in result.stderr
    result = _compare("--before", str(ROOT), "--before-python", sys.executable,
                      "--only", "no_such_benchmark")  # fmt: skip
    assert result.returncode == 2
    assert "--only names no_such_benchmark, not a benchmark of both sides" in result.stderr
    assert CHEAP in result.stderr


def test_the_cpu_clock_runs_the_benchmark_and_says_so() -> None:
    result = _compare("--before", str(ROOT), "--before-python", sys.executable,
                      "--only", CHEAP, "--pairs", "1", "--clock", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert lines[0]["clock"] == "cpu"
    runs = [line for line in lines if "run" in line]
    assert [run["side"] for run in runs] == ["before", "after"]
    assert all(run["summary"]["ratio"] > 0 for run in runs)
