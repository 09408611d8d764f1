"""Completion of the engine's names with the local profile, as real `vmx` subprocesses: it
asks the background engine that runs, never starts one, and answers from its cache (or with
nothing, quickly) once that engine is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import IMPORT_PROBE, VMX, vmx

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.pop("FORCE_COLOR", None)
    env["VMX_HOME"] = str(tmp_path / "home")
    yield env
    subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)


def complete(env: dict[str, str], line: str, *command: str) -> tuple[list[str], float, str]:
    """What bash gets for `line` (cursor at its end): candidates, seconds taken, stderr."""
    asked = {
        **env,
        "_VMX_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(line.split(" ")) - 1),
    }
    started = time.monotonic()
    out = subprocess.run(
        list(command) or VMX, env=asked, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line], elapsed, out.stderr


def engine_recorded(env: dict[str, str]) -> bool:
    return (Path(env["VMX_HOME"]) / "state" / "engine.json").exists()


def test_completion_asks_the_running_local_engine_and_never_starts_one(
    home: dict[str, str],
) -> None:
    # No engine yet: nothing to offer, and none started, no key provisioned.
    assert complete(home, "vmx book ")[::2] == ([], "")
    assert not engine_recorded(home)
    assert not (Path(home["VMX_HOME"]) / "config").exists()

    listed = vmx(home, "markets", "list", "--json")  # starts the engine, provisions the key
    assert listed.returncode == 0, listed.stderr
    exchanges = sorted({m["exchange"] for m in json.loads(listed.stdout)["markets"]})
    assert complete(home, "vmx book ")[::2] == (exchanges, "")
    assert complete(home, "vmx book BINANCE BTC")[0] == ["BTC/USDT"]

    # Answered from the cache: no HTTP client, Rich, hash library or engine launcher imported.
    probe = [sys.executable, "-c", IMPORT_PROBE]
    candidates, _, stderr = complete(home, "vmx book B", *probe)
    assert candidates == ["BINANCE"]
    modules = json.loads(stderr.rsplit("MODULES ", 1)[1])
    unneeded = {"httpx", "rich", "hashlib", "velocimex_cli.local.launcher"}
    assert not unneeded & set(modules)

    assert vmx(home, "engine", "stop").returncode == 0
    assert not engine_recorded(home)
    assert complete(home, "vmx book ")[::2] == (exchanges, "")
    # Strategies were never asked: nothing, at once, and still no engine.
    assert complete(home, "vmx strategy show ")[::2] == ([], "")
    assert not engine_recorded(home)
