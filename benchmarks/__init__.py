"""Benchmarks: `python -m benchmarks NAME [--quick]`.

Each module `benchmarks/NAME.py` defines `run(quick: bool) -> Iterable[dict]`. Every figure is
printed as one JSON object per line on stdout; the last one is the summary and carries `value`,
`baseline`, `ratio` and `target` (all measured in the same run).

`python -m benchmarks compare --before REV` is not a benchmark: it runs every benchmark of REV's
checkout and of this one in alternating pairs and compares their medians (benchmarks/_compare.py,
docs/benchmarks.md "Before and after the house work").
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def available(directory: Path = HERE) -> list[str]:
    """The benchmarks in `directory` (this checkout's, or another's benchmarks/): its modules
    but the private ones."""
    return sorted(path.stem for path in directory.glob("*.py") if not path.name.startswith("_"))
