"""The local engine comes back at the same URL after a kill -9, so what holds the URL (a live
stream reconnecting, a script, a profile pointed at it) finds it again. Real `vmx`
subprocesses and a real background engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import VMX, vmx

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    environ["VMX_HOME"] = str(tmp_path / "home")
    yield environ
    subprocess.run([*VMX, "engine", "stop"], env=environ, capture_output=True, timeout=30)


def engine_status(env: dict[str, str]) -> dict[str, object]:
    result = vmx(env, "engine", "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_killed_engine_restarts_at_its_url_and_a_live_stream_resumes(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert vmx(env, "order", "list", "--json").returncode == 0  # starts it, provisions a key
    before = engine_status(env)
    received = tmp_path / "stream.ndjson"
    for_a_minute = ("--duration", "60")
    with received.open("w") as out:
        stream = subprocess.Popen(
            [*VMX, "stream", "market", "BINANCE:BTC/USDT", "--channel", "book", *for_a_minute],
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        # Live before the kill: a stream that never connected gives up (exit 9) instead.
        deadline = time.monotonic() + 30
        while not received.stat().st_size:
            assert time.monotonic() < deadline and stream.poll() is None, "no stream message"
            time.sleep(0.05)
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


def test_a_stopped_engine_comes_back_at_its_port_and_a_profile_on_its_url_still_works(
    env: dict[str, str],
) -> None:
    """`auth login --api-url <the local engine's URL>` is a profile like any other: after a
    clean stop and start the engine listens where it did, so the profile keeps working."""
    started = vmx(env, "engine", "start", "--json")
    assert started.returncode == 0, started.stderr
    url = str(json.loads(started.stdout)["url"])
    created = vmx(env, "engine", "keys", "create", "--account", "desk", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    login = subprocess.run(
        [*VMX, "auth", "login", "--profile", "desk", "--api-url", url,
         "--api-key", key["api_key"], "--api-secret-stdin"],
        env=env, input=key["api_secret"] + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert vmx(env, "engine", "stop").returncode == 0
    again = vmx(env, "engine", "start", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["url"] == url
    listed = vmx(env, "--profile", "desk", "order", "list", "--json")
    assert listed.returncode == 0, listed.stderr


def test_engine_start_on_a_chosen_port_and_a_taken_one(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    started = vmx(env, "engine", "start", "--port", str(free), "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["url"] == f"http://127.0.0.1:{free}"
    assert vmx(env, "engine", "stop").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = vmx(env, "engine", "start", "--port", str(busy))
    assert refused.returncode == 1
    assert f"Port {busy} on 127.0.0.1 is in use" in refused.stderr
