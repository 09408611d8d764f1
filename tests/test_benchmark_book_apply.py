"""`python -m benchmarks book_apply` without ccxt installed: it says so instead of failing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ccxt made unimportable in the benchmark's process, as on a machine without the live extra.
WITHOUT_CCXT = (
    "import sys; sys.modules['ccxt'] = None; sys.modules['ccxt.pro'] = None\n"
    "from benchmarks.__main__ import main\n"
    "sys.exit(main(['book_apply', '--quick']))"
)


def test_without_ccxt_the_summary_says_so_and_has_no_baseline() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_CCXT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    figures = [json.loads(line) for line in result.stdout.splitlines()]
    summary = figures[-1]
    assert summary["name"] == "book_apply" and summary["value"] > 0
    assert summary["baseline"] is None and summary["ratio"] is None
    assert "ccxt is not installed" in summary["note"]
    assert "velocimex-cli[live]" in summary["note"]
    assert not any(figure["name"].startswith("book_apply.ccxt") for figure in figures)
