from __future__ import annotations

import argparse
import importlib
import json
import sys

from benchmarks import available

REQUIRED_SUMMARY_KEYS = ("value", "baseline", "ratio", "target")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:  # not a benchmark: runs them on two codebases (see _compare.py)
        from benchmarks._compare import main as compare

        return compare(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        epilog="python -m benchmarks compare --before REV: every benchmark of REV and this "
        "checkout, alternated (python -m benchmarks compare --help)",
    )
    parser.add_argument("name", choices=available())
    parser.add_argument("--quick", action="store_true", help="a small run, to keep it from rotting")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"benchmarks.{args.name}")
    last: dict | None = None
    for figure in module.run(quick=args.quick):
        last = figure
        print(json.dumps(figure, default=str), flush=True)
    if last is None or any(key not in last for key in REQUIRED_SUMMARY_KEYS):
        print(f"benchmark {args.name} printed no summary", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
