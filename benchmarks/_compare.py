"""`python -m benchmarks compare --before REV`: every benchmark of two codebases, alternated.

The after side is this checkout (run by this Python); the before side is REV checked out as a
git worktree with its own venv (made once, kept for the next call; `--before DIR` takes an
existing checkout whose venv is DIR/.venv or `--before-python`). For every benchmark module
both have, `--pairs` pairs of runs alternate (before then after, after then before, ...) and
each side's medians of the summary's `value`, `baseline` and `ratio` are compared, as are the
medians of every other figure that carries a `ratio` (startup's and completion's pairs).

Definitions: the after side's benchmark module runs on both codebases (its package is copied
into a temporary directory and run by the before side's Python), so a changed benchmark measures
the same thing on both. Where it fails on the before codebase (a module it imports is not there
yet), each side runs its own module and the comparison says so (`definitions: "own"`).

Runs are made at `--nice` priority (default -5, if the user may; else as they are). Each run is
printed as a JSON line, then one line per benchmark with the medians (and the least and most
of each side) and the change in percent of each; the closing table (markdown) goes to stderr.
`--quick` (the default) runs `python -m benchmarks NAME --quick`; `--full` the full benchmark.

`--clock cpu` reads the benchmark's `time.perf_counter()` as the process's CPU time
(`time.process_time()`): on a shared machine the wall time of an in-process benchmark (engine,
backtest) measures the neighbours as much as vmx. It means nothing for a benchmark whose work
runs in a server subprocess (api, fanout, stream, strategy, ...): their client's CPU is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import available

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("value", "baseline", "ratio")
WITHIN = 5.0  # percent
# `--clock cpu`: the benchmark run with time.perf_counter read as the process's CPU time.
CPU_CLOCK = (
    "import runpy, sys, time; time.perf_counter = time.process_time; "
    "sys.argv[0] = 'benchmarks'; runpy.run_module('benchmarks', run_name='__main__')"
)


class CompareError(Exception):
    """A request the comparison cannot carry out; the message says what to do."""


@dataclass
class Side:
    name: str  # "before" or "after"
    python: str
    checkout: Path


@dataclass
class Runs:
    """One benchmark's runs on both sides."""

    benchmark: str
    definitions: str = "after"
    note: str = ""
    summaries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompareError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def before_side(before: str, python: str | None, checkout_dir: str | None) -> Side:
    """The before codebase: an existing checkout directory, or REV checked out (and its venv
    built) under `checkout_dir`, reused when it is already there."""
    if Path(before).is_dir():
        checkout = Path(before).resolve()
    else:
        try:
            commit = _git("rev-parse", "--verify", "--quiet", f"{before}^{{commit}}")
        except CompareError:
            raise CompareError(
                f"--before {before!r} is neither a directory nor a commit of {ROOT}: "
                "give a revision (`git log --oneline`) or a checkout with a venv"
            ) from None
        checkout = Path(checkout_dir or Path(tempfile.gettempdir()) / f"vmx-before-{commit[:7]}")
        if not (checkout / ".git").exists():
            print(f"checking out {commit[:7]} in {checkout}", file=sys.stderr)
            _git("worktree", "add", "--detach", str(checkout), commit)
        if python is None and not (checkout / ".venv" / "bin" / "python").exists():
            print(f"building {checkout}/.venv (pip install -e '.[test]')", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(checkout / ".venv")], check=True)
            pip = [str(checkout / ".venv" / "bin" / "pip"), "install", "-q", "-e"]
            subprocess.run([*pip, f"{checkout}[test]"], cwd=checkout, check=True)
    interpreter = python or str(checkout / ".venv" / "bin" / "python")
    if not Path(interpreter).exists():
        raise CompareError(
            f"no Python at {interpreter}: make the before checkout's venv "
            f"(cd {checkout} && python3 -m venv .venv && .venv/bin/pip install -e '.[test]') "
            "or name one with --before-python"
        )
    if not (checkout / "benchmarks").is_dir():
        raise CompareError(f"{checkout} has no benchmarks/ directory: is it a vmx checkout?")
    return Side("before", interpreter, checkout)


def _run(
    side: Side, cwd: Path, name: str, quick: bool, cpu: bool
) -> tuple[list[dict[str, Any]], str]:
    """One run of a benchmark: its figures, or ([], the reason it failed)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(cwd)
    start = ["-c", CPU_CLOCK] if cpu else ["-m", "benchmarks"]
    command = [side.python, *start, name, *(["--quick"] if quick else [])]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    figures = []
    for line in result.stdout.splitlines():
        try:
            figures.append(json.loads(line))
        except ValueError:
            continue
    if result.returncode != 0 or not figures or "ratio" not in figures[-1]:
        reason = (result.stderr.strip().splitlines() or ["no summary printed"])[-1]
        return [], f"exit {result.returncode}: {reason}"
    return figures, ""


def _key(figure: dict[str, Any]) -> str | None:
    name = figure.get("name", figure.get("figure"))
    return str(name) if name is not None and "ratio" in figure else None


def compare(
    before: Side, after: Side, names: list[str], pairs: int, quick: bool, cpu: bool = False
) -> Iterator[dict[str, Any]]:
    """Run every benchmark alternately on both sides; yield each run, then its comparison."""
    with tempfile.TemporaryDirectory(prefix="vmx-compare-") as tmp:
        staged = Path(tmp)  # the after side's benchmark package, run by either Python
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(after.checkout / "benchmarks", staged / "benchmarks", ignore=ignore)
        for name in names:
            runs = Runs(name, summaries={"before": [], "after": []})
            failed = ""
            for pair in range(pairs):
                order = (before, after) if pair % 2 == 0 else (after, before)
                for side in order:
                    cwd = staged if runs.definitions == "after" else side.checkout
                    figures, failure = _run(side, cwd, name, quick, cpu)
                    if failure and side is before and runs.definitions == "after" and pair == 0:
                        runs.definitions = "own"
                        runs.note = f"after's module fails on before ({failure}): own modules"
                        figures, failure = _run(side, side.checkout, name, quick, cpu)
                    if failure:
                        failed = f"failed on the {side.name} side: {failure}"
                        break
                    summary = figures[-1]
                    runs.summaries[side.name].append(summary)
                    for figure in figures[:-1]:
                        key = _key(figure)
                        if key is not None:
                            runs.figures.setdefault(key, {"before": [], "after": []})
                            runs.figures[key][side.name].append(figure)
                    yield {"run": name, "side": side.name, "pair": pair + 1,
                           "definitions": runs.definitions, "summary": summary}  # fmt: skip
                if failed:
                    break
            if failed:
                yield {"benchmark": name, "definitions": runs.definitions, "error": failed,
                       "figures": {}}  # fmt: skip
            else:
                yield _comparison(runs)


def _medians(figures: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        before = [float(f[name]) for f in figures["before"] if _number(f.get(name))]
        after = [float(f[name]) for f in figures["after"] if _number(f.get(name))]
        if not before or not after:
            continue
        b, a = statistics.median(before), statistics.median(after)
        out[name] = {"before": b, "after": a, "change_pct": _change(b, a),
                     "before_range": [min(before), max(before)],
                     "after_range": [min(after), max(after)]}  # fmt: skip
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _change(before: float, after: float) -> float | None:
    return round((after - before) / before * 100, 1) if before else None


def _comparison(runs: Runs) -> dict[str, Any]:
    figures = {"summary": _medians(runs.summaries)}
    for key, sides in runs.figures.items():
        if len(sides["before"]) == len(sides["after"]) == len(runs.summaries["before"]):
            figures[key] = _medians(sides)
    target = runs.summaries["after"][-1].get("target")
    for medians in figures.values():
        change = medians.get("ratio", {}).get("change_pct")
        medians["within_5_pct"] = change is not None and abs(change) <= WITHIN
    return {"benchmark": runs.benchmark, "definitions": runs.definitions, "note": runs.note,
            "pairs": len(runs.summaries["after"]), "target": target,
            "figures": figures}  # fmt: skip


def table(comparisons: list[dict[str, Any]]) -> str:
    """The comparisons as a markdown table: one row per figure's ratio."""
    lines = [
        "| benchmark | figure | before ratio (least-most) | after ratio (least-most) | change % "
        "| within 5% |",
        "|---|---|---|---|---|---|",
    ]
    for comparison in comparisons:
        for figure, medians in comparison["figures"].items():
            ratio = medians.get("ratio")
            if ratio is None:
                continue
            within = "yes" if medians["within_5_pct"] else "**no**"
            (b_low, b_high), (a_low, a_high) = ratio["before_range"], ratio["after_range"]
            lines.append(
                f"| {comparison['benchmark']} | {figure} | {ratio['before']:g} "
                f"({b_low:g}-{b_high:g}) | {ratio['after']:g} ({a_low:g}-{a_high:g}) | "
                f"{ratio['change_pct']:+.1f} | {within} |"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks compare",
        description="Every benchmark of a before revision and this checkout, alternated.",
    )
    parser.add_argument("--before", required=True, help="a git revision, or a checkout dir")
    parser.add_argument("--before-python", help="the before side's Python (default: its .venv)")
    parser.add_argument("--checkout-dir", help="where REV is checked out (default: $TMPDIR)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs (default 3)")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all both have)")
    parser.add_argument("--full", action="store_true", help="full runs instead of --quick")
    parser.add_argument("--nice", type=int, default=-5, help="priority increment (default -5)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: time.perf_counter read as the process's CPU time (in-process benchmarks only)",
    )
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    try:
        before = before_side(args.before, args.before_python, args.checkout_dir)
        after = Side("after", sys.executable, ROOT)
        common = sorted(set(available(before.checkout / "benchmarks")) & set(available()))
        names = common
        if args.only:
            names = [name.strip() for name in args.only.split(",") if name.strip()]
            unknown = [name for name in names if name not in common]
            if unknown:
                raise CompareError(
                    f"--only names {', '.join(unknown)}, not a benchmark of both sides; "
                    f"both have: {', '.join(common)}"
                )
        try:
            os.nice(args.nice)
            priority = f"nice {args.nice}"
        except PermissionError:
            priority = "default priority (not permitted to raise it)"
        print(json.dumps({"before": str(before.checkout), "after": str(ROOT), "names": names,
                          "pairs": args.pairs, "quick": not args.full, "clock": args.clock,
                          "priority": priority}), flush=True)  # fmt: skip
        comparisons = []
        cpu = args.clock == "cpu"
        for line in compare(before, after, names, args.pairs, not args.full, cpu):
            print(json.dumps(line, default=str), flush=True)
            if "benchmark" in line:
                comparisons.append(line)
    except CompareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table(comparisons), file=sys.stderr)
    return 0
