"""Benchmarks: `python -m benchmarks NAME [--quick]`.

Each module `benchmarks/NAME.py` defines `run(quick: bool) -> Iterable[dict]`. Every figure is
printed as one JSON object per line on stdout; the last one is the summary and carries `value`,
`baseline`, `ratio` and `target` (all measured in the same run).
"""
