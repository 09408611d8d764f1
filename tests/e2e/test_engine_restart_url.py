"""The local engine comes back at the same URL after a kill -9, so what holds the URL (a live
stream reconnecting, a script, a profile pointed at it) finds it again. Real `vmx`
subprocesses and a real background engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

_SCRIPT = Path(sys.executable).with_name("vmx")
VMX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "velocimex_cli"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    environ["VMX_HOME"] = str(tmp_path / "home")
    yield environ
    subprocess.run([*VMX, "engine", "stop"], env=environ, capture_output=True, timeout=30)


def vmx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VMX, *args], env=env, capture_output=True, text=True, timeout=60)


def engine_status(env: dict[str, str]) -> dict[str, object]:
    result = vmx(env, "engine", "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_killed_engine_restarts_at_its_url_and_a_live_stream_resumes(
    env: dict[str, str],
) -> None:
    assert vmx(env, "order", "list", "--json").returncode == 0  # starts it, provisions a key
    before = engine_status(env)
    stream = subprocess.Popen(
        [*VMX, "stream", "market", "BINANCE:BTC/USDT", "--channel", "book", "--duration", "30"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # subscribed
        os.kill(int(str(before["pid"])), signal.SIGKILL)
        restarted = vmx(env, "order", "list", "--json")
        assert restarted.returncode == 0, restarted.stderr
        assert "is gone; starting a fresh one" in restarted.stderr
        after = engine_status(env)
        assert after["pid"] != before["pid"]
        assert after["url"] == before["url"]

        assert stream.stderr is not None
        deadline = time.monotonic() + 20
        seen = ""
        while "live again" not in seen:
            assert time.monotonic() < deadline and stream.poll() is None, seen
            seen += stream.stderr.readline()
    finally:
        stream.terminate()
        stream.wait(timeout=15)
