"""The suite's guard (tests/process_guard.py): a test session that leaves an engine or a strategy
worker running fails, names what it left and kills it; one that ends what it started passes.
Each case runs a small test file in a pytest of its own, with this suite's conftest as plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_table import alive

ROOT = Path(__file__).resolve().parents[1]

SESSION = """
import subprocess
from tests.processes import VMX

KEPT = []


def test_an_engine(tmp_path):
    engine = subprocess.Popen(
        [*VMX, "engine", "serve", "--port", "0", "--data-dir", str(tmp_path / "engine")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    if STOP:
        engine.terminate()
        engine.wait(30)


def test_a_worker():
    from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
    from velocimex_cli.engine.drivers.strategies.worker import run_check

    worker = WorkerProcess(run_check, ("while True:\\n    pass\\n", "spin.py", 2**29))
    KEPT.append(worker)
    if STOP:
        worker.kill()
"""


def run_session(tmp_path: Path, stop: bool, *options: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_session.py"
    test_file.write_text(f"STOP = {stop}\n" + SESSION)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", *options, str(test_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "VELOCIMEX_TEST_GUARD_GRACE": "3"},
    )  # fmt: skip


@pytest.mark.parametrize("options", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_session_that_leaves_an_engine_and_a_worker_running_fails_and_kills_them(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    ran = run_session(tmp_path, False, *options)
    assert ran.returncode != 0, ran.stdout
    assert "outlived them (killed now)" in ran.stdout
    reported = dict(re.findall(r"^  pid (\d+): (.*)$", ran.stdout, re.MULTILINE))
    assert any("vmx engine serve" in line for line in reported.values()), ran.stdout
    assert any("strategies.isolation" in line for line in reported.values()), ran.stdout
    assert not [pid for pid in reported if alive(int(pid))], "the guard left them running"


def test_a_session_that_ends_what_it_started_passes(tmp_path: Path) -> None:
    ran = run_session(tmp_path, True)
    assert ran.returncode == 0, ran.stdout
    assert "outlived" not in ran.stdout
