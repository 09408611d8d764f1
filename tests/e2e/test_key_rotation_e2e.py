"""Rotating the local profile's key with real `vmx` subprocesses and a real background engine,
the rotating process killed (SIGKILL) at each point of the way: the profile authenticates
afterwards every time. And a lost credentials file: the key provisioned in its place revokes
the one that was lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

VMX = [sys.executable, "-m", "velocimex_cli"]

# `vmx auth rotate` with SIGKILL at one point: before the request is sent, once the engine
# has answered (before anything is written), or with the new file written and fsync'd but not
# yet renamed over the old one.
KILLED_ROTATE = """
import os, signal, sys

point = sys.argv[1]


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


if point == "before-request":
    from velocimex_cli.client.endpoints import Endpoints

    Endpoints.rotate_key = die
elif point == "after-answer":
    from velocimex_cli.config import credentials

    credentials.store = die
elif point == "before-rename":
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("credentials.toml"):
            die()
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
sys.argv = ["vmx", *sys.argv[2:]]
from velocimex_cli.main import main

main()
"""


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(home)
    return env


def vmx(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VMX, *args], env=environment(home), capture_output=True, text=True, timeout=60
    )


def killed_rotate(home: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KILLED_ROTATE, point, "auth", "rotate", *args],
        env=environment(home), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def stored(home: Path) -> tuple[str, str]:
    path = home / "config" / "credentials" / "credentials.toml"
    local = tomllib.loads(path.read_text())["local"]
    return local["api_key"], local["api_secret"]


def accepted(home: Path) -> bool:
    status = vmx(home, "auth", "status", "--json")
    return status.returncode == 0 and json.loads(status.stdout)["accepted"] is True


def engine_url(home: Path) -> str:
    return str(json.loads((home / "state" / "engine.json").read_text())["url"])


def works(home: Path, key: str, secret: str) -> bool:
    headers = {"X-API-Key": key, "X-API-Secret": secret}
    answer = httpx.get(engine_url(home) + "/v1/account/balance", headers=headers, timeout=10)
    return answer.status_code == 200


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    first = vmx(home, "account", "balance", "--json")  # starts the engine, provisions a key
    assert first.returncode == 0, first.stderr
    try:
        yield home
    finally:
        vmx(home, "engine", "stop")


@pytest.mark.parametrize("point", ["before-request", "after-answer", "before-rename"])
def test_a_rotation_killed_at_any_point_leaves_a_profile_that_authenticates(
    home: Path, point: str
) -> None:
    key, secret = stored(home)
    killed = killed_rotate(home, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert stored(home) == (key, secret)  # the file is the old one, whole
    assert accepted(home)
    assert works(home, key, secret)
    leftovers = list((home / "config" / "credentials").glob(".*.tmp"))
    assert (point == "before-rename") == bool(leftovers)

    again = vmx(home, "auth", "rotate", "--grace", "0")  # what the docs say to do
    assert again.returncode == 0, again.stderr
    new_key, new_secret = stored(home)
    assert new_key == key and new_secret != secret
    assert accepted(home) and works(home, key, new_secret)
    assert not works(home, key, secret)  # a grace of 0: the old secret stopped at once
    assert not list((home / "config" / "credentials").glob(".*.tmp"))  # cleaned up


def test_a_rotation_whose_answer_was_lost_past_the_grace_gets_a_new_local_key(
    home: Path,
) -> None:
    key, secret = stored(home)
    killed = killed_rotate(home, "after-answer", "--grace", "1")
    assert killed.returncode == -signal.SIGKILL
    assert works(home, key, secret)  # during the grace
    time.sleep(1.5)
    assert not works(home, key, secret)
    # The local profile's next command provisions a new key (and revokes the lost one).
    recovered = vmx(home, "account", "balance", "--json")
    assert recovered.returncode == 0, recovered.stderr
    new_key, new_secret = stored(home)
    assert new_key != key and works(home, new_key, new_secret)
    listed = json.loads(vmx(home, "engine", "keys", "list", "--json").stdout)["keys"]
    assert {k["api_key"]: k["revoked_at"] is not None for k in listed} == {
        key: True,
        new_key: False,
    }


def test_a_garbled_credentials_file_re_provisions_and_revokes_the_lost_key(home: Path) -> None:
    key, secret = stored(home)
    path = home / "config" / "credentials" / "credentials.toml"
    path.write_text('[local]\napi_key = "' + key + '"\napi_secret = \x00garbled')
    refused = vmx(home, "account", "balance")
    assert refused.returncode == 3 and "not valid TOML" in refused.stderr
    assert works(home, key, secret)  # nothing was provisioned or revoked yet
    hint = refused.stderr.split("`mv ")[1].split("`")[0].split()
    shutil.move(hint[0], hint[1])  # the way out the message names

    again = vmx(home, "account", "balance", "--json")
    assert again.returncode == 0, again.stderr
    assert "Provisioned an API key" in again.stderr
    new_key, new_secret = stored(home)
    assert new_key != key and works(home, new_key, new_secret)
    assert not works(home, key, secret)  # the lost key is dead, not valid forever
    audit = vmx(home, "engine", "audit", "--json")
    actions = [(e["action"], e["target"]) for e in json.loads(audit.stdout)["entries"]]
    assert actions[-2:] == [("key.create", new_key), ("key.revoke", key)]
