"""Damaged files a stranger's machine may hold, as real `vmx` subprocesses: an engine database
that is not SQLite (or from a newer vmx), and a credentials file that is not TOML. Each gets
one clear line naming the file and what to do, never a server traceback or a hint that
leads back to the same error.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.processes import VMX

pytestmark = pytest.mark.e2e


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(home)
    return subprocess.run([*VMX, *args], env=env, capture_output=True, text=True, timeout=60)


def damaged_home(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    data = home / "data" / "engine"
    data.mkdir(parents=True)
    db = data / "engine.db"
    db.write_bytes(b"this is not a database\n" * 200)
    return home, db


def test_serve_on_a_file_that_is_not_a_database_says_so_in_one_line(tmp_path: Path) -> None:
    home, db = damaged_home(tmp_path)
    before = db.read_bytes()
    result = run(home, "engine", "serve", "--port", "0", "--no-simulate")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "SystemExit" not in result.stderr
    assert f"{db} is not a usable engine database" in result.stderr
    assert "Move it away" in result.stderr
    assert db.read_bytes() == before  # nothing was changed

    newer = tmp_path / "newer"
    newer.mkdir()
    with sqlite3.connect(newer / "engine.db") as connection:
        connection.execute("PRAGMA user_version = 999")
    refused = run(home, "engine", "serve", "--port", "0", "--data-dir", str(newer))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "schema version 999, newer than this vmx understands" in refused.stderr


def test_the_first_command_shows_why_this_start_failed_not_an_old_traceback(
    tmp_path: Path,
) -> None:
    home, db = damaged_home(tmp_path)
    log = home / "state" / "engine.log"
    log.parent.mkdir(parents=True)
    log.write_text("Traceback (most recent call last):\nOldError: from an earlier run\n")
    result = run(home, "order", "list", "--json")
    assert result.returncode != 0
    error = json.loads(result.stderr.splitlines()[-1])["error"]
    assert f"{db} is not a usable engine database" in error["message"]
    assert "OldError" not in error["message"] and "Traceback" not in error["message"]

    keys = run(home, "engine", "keys", "list", "--json")
    assert keys.returncode == 1
    error = json.loads(keys.stderr)["error"]
    assert error["code"] == "STORE_ERROR" and str(db) in error["message"]


def test_a_broken_credentials_file_names_a_way_out_that_works(tmp_path: Path) -> None:
    home = tmp_path / "home"
    credentials = home / "config" / "credentials" / "credentials.toml"
    credentials.parent.mkdir(parents=True, mode=0o700)
    credentials.write_text("this is [not toml\n")
    credentials.chmod(0o600)
    for args in (("auth", "status"), ("auth", "logout")):
        result = run(home, *args)
        assert result.returncode == 3, result.stderr
        assert "not valid TOML" in result.stderr
        assert "run `vmx auth logout`" not in result.stderr  # logout fails the same way
    hint = result.stderr.split("`mv ")[1].split("`")[0].split()
    assert hint == [str(credentials), f"{credentials}.broken"]
    shutil.move(hint[0], hint[1])  # the way out it names
    after = run(home, "auth", "status")
    assert "not valid TOML" not in after.stderr and "No credentials" in after.stderr
