"""Start-up time of vmx against bare Python baselines, measured in the same run.

    vmx --version            vs  python3 -c pass                   target ratio 1.5
    vmx --help               vs  python3 -c "import typer"         target ratio 1.5
    vmx order list --json    vs  python3 -c "import typer, httpx"  target ratio 1.2
                             (against a running local engine, in a temporary VMX_HOME)

Each pair is timed alternately, run after run, and compared by median wall time (`ratio`, the
figure the targets are for). Each figure also gives the median CPU time (user + system) each side's
process used, and their ratio (`cpu_ratio`): on a machine shared with other work the wall times
mostly measure the wait for a core, the CPU times do not. Both sides run from compiled .pyc
files, as an installed vmx and its dependencies do (pip compiles them): with
PYTHONDONTWRITEBYTECODE set, vmx's own modules would be compiled from source on every run while
typer and httpx load compiled, which measures the compiler, not vmx.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("vmx")
VMX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "velocimex_cli"]
PY = sys.executable

CASES = (
    ("vmx --version", [*VMX, "--version"], [PY, "-c", "pass"], 1.5),
    ("vmx --help", [*VMX, "--help"], [PY, "-c", "import typer"], 1.5),
    ("vmx order list --json", [*VMX, "order", "list", "--json"],
     [PY, "-c", "import typer, httpx"], 1.2),
)  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """One run of a command: its wall time, and the CPU time (user + system) its process used."""

    wall: float
    cpu: float


def _time(command: list[str], env: dict[str, str]) -> Timing:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{command} failed: {errors.read().decode()[-500:]}")
    return Timing(elapsed, usage.ru_utime + usage.ru_stime)


def paired_figure(
    name: str,
    baseline_command: list[str],
    values: list[Timing],
    baselines: list[Timing],
    target: float,
) -> dict:
    """One timed pair as a figure: medians of the alternating runs, and their ratios (wall time,
    the target's; and CPU time)."""
    value = statistics.median(run.wall for run in values)
    baseline = statistics.median(run.wall for run in baselines)
    cpu = statistics.median(run.cpu for run in values)
    cpu_baseline = statistics.median(run.cpu for run in baselines)
    return {
        "name": name,
        "baseline_name": " ".join(["python3", *baseline_command[1:2], repr(baseline_command[2])]),
        "value": round(value, 4),
        "baseline": round(baseline, 4),
        "ratio": round(value / baseline, 3),
        "target": target,
        "unit": "s (median wall time)",
        "cpu": round(cpu, 4),
        "cpu_baseline": round(cpu_baseline, 4),
        "cpu_ratio": round(cpu / cpu_baseline, 3),
        "runs": len(values),
    }


def summary(what: str, figures: list[dict]) -> dict:
    """The summary: the figure closest to (or furthest past) its target, and whether all met."""
    worst = max(figures, key=lambda figure: figure["ratio"] / figure["target"])
    return {
        **worst,
        "name": f"{what} summary (closest to its target: {worst['name']})",
        "all_within_target": all(f["ratio"] <= f["target"] for f in figures),
    }


def run(quick: bool) -> Iterator[dict]:
    runs = 7 if quick else 30
    with tempfile.TemporaryDirectory(prefix="vmx-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
        env["VMX_HOME"] = home
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the first runs write vmx's .pyc files
        # Start the local engine and provision the key (the first command does both).
        subprocess.run([*VMX, "order", "list", "--json"], env=env, capture_output=True, check=True)
        try:
            figures: list[dict] = []
            for name, command, baseline_command, target in CASES:
                _time(command, env)  # warm the page cache and .pyc files
                _time(baseline_command, env)
                values, baselines = [], []
                for _ in range(runs):
                    values.append(_time(command, env))
                    baselines.append(_time(baseline_command, env))
                figure = paired_figure(name, baseline_command, values, baselines, target)
                figures.append(figure)
                yield figure
            yield summary("startup", figures)
        finally:
            subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)
