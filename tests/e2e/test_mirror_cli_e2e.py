"""The real `vmx` in subprocesses: mirroring without ccxt fails at once with the command that
installs it, the CLI never imports ccxt, and the engine vmx starts (by itself, or with `vmx engine
start`) is given what to mirror and says so in `vmx engine status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import VMX, make_env

pytestmark = pytest.mark.e2e

INSTALL = "pip install 'velocimex-cli[live]'"

# On PYTHONPATH as sitecustomize.py: ccxt cannot be imported (as if not installed), and at exit
# the ccxt modules that were imported are written to $VMX_TEST_CCXT_MODULES.
BLOCKER = """
import atexit, json, os, sys

class _NoCcxt:
    def find_spec(self, name, path=None, target=None):
        if os.environ.get("VMX_TEST_BLOCK_CCXT") and name.split(".")[0] == "ccxt":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoCcxt())

def _report():
    path = os.environ.get("VMX_TEST_CCXT_MODULES")
    if path:
        with open(path, "a") as out:
            names = sorted(m for m in sys.modules if m.split(".")[0] == "ccxt")
            out.write(json.dumps(names) + "\\n")

atexit.register(_report)
"""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A home of its own, the blocker on PYTHONPATH (blocking only when asked)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    home = tmp_path / "home"
    environ = make_env(home, PYTHONPATH=path, VMX_TEST_CCXT_MODULES=str(tmp_path / "ccxt.txt"))
    yield environ
    subprocess.run([*VMX, "engine", "stop"], env=environ, capture_output=True, timeout=60)


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VMX, *args], env=env, capture_output=True, text=True, timeout=timeout)


def ccxt_modules(env: dict[str, str]) -> list[list[str]]:
    """What each process since the last call imported of ccxt."""
    path = Path(env["VMX_TEST_CCXT_MODULES"])
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    path.unlink()
    return [json.loads(line) for line in lines]


def test_without_ccxt_mirroring_fails_at_once_naming_the_install(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocked = {**env, "VMX_TEST_BLOCK_CCXT": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import ccxt"], env=blocked, capture_output=True, text=True
    )
    assert probe.returncode == 1 and "No module named 'ccxt'" in probe.stderr  # blocked
    venues = tmp_path / "venues.json"
    venues.write_text('{"binance": {"sandbox": true}}', encoding="utf-8")
    for command in ("serve", "start"):
        for extra in ([], ["--venue-config", str(venues)]):
            result = run(blocked, "engine", command, "--mirror", "binance:BTC/USDT", *extra)
            assert result.returncode == 2, result.stderr
            assert result.stderr == (
                "error: --mirror mirrors binance through ccxt, which is not installed: "
                f"{INSTALL} installs it\n"
            )
    # The setting is kept (it is right), with a note that ccxt is missing ...
    setting = run(blocked, "config", "set", "engine_mirror", "binance:BTC/USDT kraken:BTC/USD")
    assert setting.returncode == 0, setting.stderr
    assert f"mirroring needs ccxt, which is not installed: {INSTALL}" in setting.stderr
    # ... and the engine vmx would start by itself, or with `vmx engine start`, is not started.
    for args in (["order", "list"], ["engine", "start"]):
        result = run(blocked, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert (
            "the engine_mirror setting ('binance:BTC/USDT kraken:BTC/USD') mirrors binance, "
            f"kraken through ccxt, which is not installed: {INSTALL}" in result.stderr
        )
        assert 'vmx config set engine_mirror ""' in result.stderr
        assert "Starting the local engine" not in result.stderr
    status = run(blocked, "engine", "status")
    assert status.returncode == 1 and "Engine is not running" in status.stderr
    # Cleared, the same vmx starts its engine simulated.
    assert run(blocked, "config", "set", "engine_mirror", "").returncode == 0
    listed = run(blocked, "order", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["orders"] == []


def test_the_cli_never_imports_ccxt(env: dict[str, str], tmp_path: Path) -> None:
    closed = {**env, "VMX_API_URL": "http://127.0.0.1:9", "VMX_API_KEY": "k", "VMX_API_SECRET": "s"}
    runs = [
        (env, ["--version"]),
        (closed, ["order", "list", "--json"]),
        (closed, ["markets", "status"]),
        (env, ["engine", "serve", "--help"]),
        (env, ["config", "set", "engine_mirror", "binance:BTC/USDT"]),
        (env, ["config", "get", "engine_mirror"]),
        (env, ["engine", "serve", "--mirror", "binance:BTC/USDT", "--venue-config", "/nowhere"]),
    ]
    for environ, args in runs:
        run(environ, *args)
    reports = ccxt_modules(env)
    assert reports == [[]] * len(runs)  # every process ran (and reported), none imported ccxt


def test_the_engine_vmx_starts_mirrors_what_it_is_told_and_says_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Every request of a mirrored venue goes to a closed loopback port: nothing leaves the machine.
    venues = tmp_path / "venues.json"
    nowhere = "http://127.0.0.1:9"
    config = {"httpsProxy": nowhere, "wssProxy": nowhere, "timeout": 2000}
    venues.write_text(json.dumps({"binance": config, "kraken": config}), encoding="utf-8")
    assert run(env, "config", "set", "engine_venue_config", str(venues)).returncode == 0
    assert run(env, "config", "set", "engine_mirror", "binance:BTC/USDT,ETH/USDT").returncode == 0
    # The first command starts the engine in the background with the settings' mirrors.
    first = run(env, "order", "list", "--json")
    assert first.returncode == 0, first.stderr
    assert "Starting the local engine" in first.stderr
    status = run(env, "engine", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["mirrors"] == ["binance:BTC/USDT,ETH/USDT"]
    shown = run(env, "engine", "status")
    assert "binance:BTC/USDT,ETH/USDT" in shown.stdout
    assert run(env, "engine", "stop").returncode == 0
    # `vmx engine start --mirror` replaces the setting for that engine.
    started = run(env, "engine", "start", "--mirror", "kraken:BTC/USD", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["mirrors"] == ["kraken:BTC/USD"]
    assert run(env, "engine", "stop").returncode == 0
    # With the setting cleared it mirrors nothing, and says so.
    assert run(env, "config", "set", "engine_mirror", "").returncode == 0
    plain = run(env, "engine", "start")
    assert plain.returncode == 0, plain.stderr
    assert "(none: every exchange is simulated)" in plain.stdout
