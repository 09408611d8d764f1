"""What one TAB costs: `vmx` answering a bash completion request for the engine's names,
against bare Python baselines measured in the same run.

    complete `vmx book `, cached        vs  python3 -c "import typer"          target ratio 1.5
    complete `vmx book `, cold          vs  python3 -c "import typer, httpx"   target ratio 1.5
    complete `vmx order show `, cold    vs  python3 -c "import typer, httpx"   target ratio 1.5

Cold: the completion cache is removed before each run, so the answer is asked of the engine
(a running local engine, in a temporary VMX_HOME). Cached: answered from the cache file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.startup import PY, VMX, _time, paired_figure, summary

CASES = (
    ("complete `vmx book `, cached", "vmx book ", False, [PY, "-c", "import typer"], 1.5),
    ("complete `vmx book `, cold", "vmx book ", True, [PY, "-c", "import typer, httpx"], 1.5),
    ("complete `vmx order show `, cold", "vmx order show ", True,
     [PY, "-c", "import typer, httpx"], 1.5),
)  # fmt: skip


def _request(env: dict[str, str], line: str) -> dict[str, str]:
    return {
        **env,
        "_VMX_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(line.split(" ")) - 1),
    }


def run(quick: bool) -> Iterator[dict]:
    runs = 7 if quick else 30
    with tempfile.TemporaryDirectory(prefix="vmx-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
        env["VMX_HOME"] = home
        cache = Path(home) / "cache" / "completion"
        # Start the local engine and provision the key (the first command does both).
        subprocess.run([*VMX, "order", "list", "--json"], env=env, capture_output=True, check=True)
        try:
            figures: list[dict] = []
            for name, line, cold, baseline_command, target in CASES:
                asked = _request(env, line)
                answer = subprocess.run(VMX, env=asked, capture_output=True, text=True)
                if not answer.stdout.strip() and "order" not in line:
                    raise RuntimeError(f"no candidates for {line!r}: {answer.stderr[-500:]}")
                _time(baseline_command, env)  # warm the page cache and .pyc files
                values, baselines = [], []
                for _ in range(runs):
                    if cold:
                        shutil.rmtree(cache, ignore_errors=True)
                    values.append(_time(VMX, asked))
                    baselines.append(_time(baseline_command, env))
                figure = paired_figure(name, baseline_command, values, baselines, target)
                figures.append(figure)
                yield figure
            yield summary("completion", figures)
        finally:
            subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)
