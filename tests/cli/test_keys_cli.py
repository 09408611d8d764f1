"""`vmx engine keys create --expires-in / list / rotate`, `vmx engine audit` on a data directory,
and `vmx auth rotate` / `vmx auth status` against the real engine app in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.conftest import Harness, fixed, make_harness
from velocimex_cli.config import credentials
from velocimex_cli.engine.audit import AUDIT_FILE
from velocimex_cli.engine.keys import KeyStore
from velocimex_cli.wire import jsonfmt

NO_ENV_KEY = {"VMX_API_KEY": None, "VMX_API_SECRET": None, "VMX_API_URL": None}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "engine-data"


def keys(vmx: Harness, data_dir: Path, *args: str) -> object:
    return vmx.run("engine", "keys", *args, "--data-dir", str(data_dir))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("90", "has no unit"),
        ("9x", "is not a duration"),
        ("-5d", "is not a duration"),
        ("1.5d", "is not a duration"),
        ("0s", "too short"),
        ("4000d", "too long"),
        ("", "is not a duration"),
    ],
)
def test_a_bad_expiry_is_refused_and_nothing_is_created(
    vmx: Harness, data_dir: Path, given: str, said: str
) -> None:
    result = keys(vmx, data_dir, "create", "--expires-in", given)
    assert result.exit_code == 2, result.stderr
    assert "--expires-in" in result.stderr and said in result.stderr
    assert "90d" in result.stderr or "at most" in result.stderr or "at least" in result.stderr
    assert not (data_dir / "engine.db").exists() or not KeyStore.open(data_dir).list()


def test_create_with_an_expiry_lists_it_and_rotate_keeps_the_old_secret(
    vmx: Harness, data_dir: Path
) -> None:
    made = keys(vmx, data_dir, "create", "--account", "dora", "--expires-in", "90d", "--json")
    assert made.exit_code == 0, made.stderr
    key = jsonfmt.loads(made.stdout)
    created = datetime.now(UTC)
    expires = datetime.fromisoformat(key["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - created).total_seconds() - 90 * 86400) < 60
    assert "vmx engine keys rotate" in made.stderr

    listed = jsonfmt.loads(keys(vmx, data_dir, "list", "--json").stdout)["keys"]
    assert [k["expires_at"] for k in listed] == [key["expires_at"]]
    table = keys(vmx, data_dir, "list")
    assert "expires_at" in table.stdout and key["expires_at"][:10] in table.stdout

    rotated = keys(vmx, data_dir, "rotate", key["api_key"], "--grace", "10m", "--json")
    assert rotated.exit_code == 0, rotated.stderr
    new = jsonfmt.loads(rotated.stdout)
    assert new["api_key"] == key["api_key"] and new["api_secret"] != key["api_secret"]
    assert "works until" in rotated.stderr
    store = KeyStore.open(data_dir)
    try:
        old = store.verify(key["api_key"], key["api_secret"])
        assert old is not None and old.secret_until is not None
        assert (old.secret_until - datetime.now(UTC)).total_seconds() > 500
        assert store.verify(key["api_key"], new["api_secret"]) is not None
    finally:
        store.close()
    listed = keys(vmx, data_dir, "list")
    assert "old secret until" in listed.stdout

    at_once = keys(vmx, data_dir, "rotate", key["api_key"], "--grace", "0", "--json")
    latest = jsonfmt.loads(at_once.stdout)
    store = KeyStore.open(data_dir)
    try:
        assert store.verify(key["api_key"], new["api_secret"]) is None
        assert store.verify(key["api_key"], latest["api_secret"]) is not None
    finally:
        store.close()

    for bad, said in (("soon", "not a duration"), ("31d", "too long")):
        refused = keys(vmx, data_dir, "rotate", key["api_key"], "--grace", bad)
        assert refused.exit_code == 2 and said in refused.stderr
    missing = keys(vmx, data_dir, "rotate", "vmxk_nope")
    assert missing.exit_code == 7 and "no active key" in missing.stderr
    reserved = keys(vmx, data_dir, "create", "--name", "vmx-local")
    assert reserved.exit_code == 2 and "local profile" in reserved.stderr


def test_audit_shows_the_key_changes_and_damaged_lines_as_such(
    vmx: Harness, data_dir: Path
) -> None:
    made = jsonfmt.loads(keys(vmx, data_dir, "create", "--expires-in", "1h", "--json").stdout)
    rotated = jsonfmt.loads(keys(vmx, data_dir, "rotate", made["api_key"], "--json").stdout)
    assert keys(vmx, data_dir, "revoke", made["api_key"]).exit_code == 0

    shown = vmx.run("engine", "audit", "--data-dir", str(data_dir), "--json")
    assert shown.exit_code == 0, shown.stderr
    entries = jsonfmt.loads(shown.stdout)["entries"]
    assert [(e["action"], e["who"], e["target"]) for e in entries] == [
        ("key.create", "cli", made["api_key"]),
        ("key.rotate", "cli", made["api_key"]),
        ("key.revoke", "cli", made["api_key"]),
    ]
    assert entries[0]["details"]["expires_at"] == made["expires_at"]
    text = (data_dir / AUDIT_FILE).read_text()
    assert made["api_secret"] not in text and rotated["api_secret"] not in text

    with open(data_dir / AUDIT_FILE, "ab") as handle:
        handle.write(b"{not json\n\xff\xfe\n[1, 2]\n")
        handle.write(b'{"action": "key.create", "cut')  # a write cut short
    damaged = vmx.run("engine", "audit", "--data-dir", str(data_dir), "--json")
    assert damaged.exit_code == 0, damaged.stderr
    entries = jsonfmt.loads(damaged.stdout)["entries"]
    assert [e.get("damaged", "")[:8] for e in entries[3:]] == [
        "not JSON", "not UTF-", "JSON, bu", "cut shor",
    ]  # fmt: skip
    assert [e["line"] for e in entries[3:]] == [4, 5, 6, 7]
    assert "4 damaged line(s)" in damaged.stderr and "Traceback" not in damaged.stderr
    table = vmx.run("engine", "audit", "--data-dir", str(data_dir), "--limit", "5")
    assert table.exit_code == 0 and "(damaged line)" in table.stdout
    assert "key.revoke" in table.stdout and "key.create" not in table.stdout
    assert vmx.run("engine", "audit", "--data-dir", str(data_dir), "-n", "0").exit_code == 2


def test_audit_reports_a_number_too_long_to_read_as_a_damaged_line(
    vmx: Harness, data_dir: Path
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    # Valid JSON syntax, but Python refuses to convert an integer of more than 4300 digits.
    (data_dir / AUDIT_FILE).write_bytes(b'{"action": "key.create", "n": ' + b"7" * 5000 + b"}\n")
    shown = vmx.run("engine", "audit", "--data-dir", str(data_dir), "--json")
    assert shown.exit_code == 0, shown.stderr
    [entry] = jsonfmt.loads(shown.stdout)["entries"]
    assert entry["line"] == 1 and entry["damaged"].startswith("not readable JSON")
    assert "Traceback" not in shown.stderr


@pytest.fixture
def vmx_now(tmp_path: Path) -> Iterator[Harness]:
    """The engine's clock at the real time: `auth status` counts days to the wall clock."""
    yield from make_harness(tmp_path, clock=fixed(datetime.now(UTC)))


def login(vmx: Harness, key: str, secret: str) -> None:
    result = vmx.run(
        "auth", "login", "--profile", "prod", "--api-url", "http://testserver",
        "--api-key", key, "--api-secret-stdin", input=secret + "\n", env=NO_ENV_KEY,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def test_auth_status_warns_when_the_key_expires_soon(vmx_now: Harness) -> None:
    runtime_keys = vmx_now.client.app.state.runtime.keys  # type: ignore[attr-defined]
    soon = runtime_keys.create("alice", expires_in=3 * 86400)
    login(vmx_now, soon.api_key, soon.api_secret)
    status = vmx_now.run("--profile", "prod", "auth", "status", "--json", env=NO_ENV_KEY)
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["expires_at"] == soon.info.expires_at
    assert "expires at" in status.stderr and "vmx auth rotate --profile prod" in status.stderr

    later = runtime_keys.create("alice", expires_in=60 * 86400)
    login(vmx_now, later.api_key, later.api_secret)
    quiet = vmx_now.run("--profile", "prod", "auth", "status", env=NO_ENV_KEY)
    assert quiet.exit_code == 0 and "expires at" not in quiet.stderr


def test_auth_rotate_stores_the_new_secret_and_the_old_one_lasts_the_grace(
    vmx: Harness,
) -> None:
    login(vmx, vmx.api_key, vmx.api_secret)
    rotated = vmx.run(
        "--profile", "prod", "auth", "rotate", "--grace", "2m", "--json", env=NO_ENV_KEY
    )
    assert rotated.exit_code == 0, rotated.stderr
    shown = json.loads(rotated.stdout)
    assert shown["previous_until"] == "2026-11-24T15:02:00.000000Z"
    stored = credentials.load("prod")
    assert stored is not None and stored.api_key == vmx.api_key
    assert stored.api_secret.reveal() != vmx.api_secret
    assert stored.api_url == "http://testserver"
    assert stored.api_secret.reveal() not in rotated.stdout + rotated.stderr
    after = vmx.run("--profile", "prod", "account", "balance", "--json", env=NO_ENV_KEY)
    assert after.exit_code == 0, after.stderr
    old = vmx.run("account", "balance", "--json")  # the old secret, from the environment
    assert old.exit_code == 0, old.stderr
    status = vmx.run("auth", "status")  # the environment's (old) secret: rotated out
    assert "replaced by a key rotation" in status.stderr

    from_env = vmx.run("auth", "rotate")
    assert from_env.exit_code == 2 and "VMX_API_KEY" in from_env.stderr
    assert vmx.run("auth", "rotate", "--grace", "1y", env=NO_ENV_KEY).exit_code == 2


def test_update_changes_permissions_and_expiry_and_audits_both(
    vmx: Harness, data_dir: Path
) -> None:
    made = jsonfmt.loads(keys(vmx, data_dir, "create", "--json").stdout)
    changed = keys(
        vmx, data_dir, "update", made["api_key"], "--permissions", "read", "--expires-in", "2h",
        "--json",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    shown = jsonfmt.loads(changed.stdout)
    assert shown["permissions"] == ["read"] and shown["expires_at"] is not None
    store = KeyStore.open(data_dir)
    try:
        info = store.verify(made["api_key"], made["api_secret"])
        assert info is not None and info.permissions == ("read",)
        assert info.expires is not None
        assert 7100 < (info.expires - datetime.now(UTC)).total_seconds() <= 7200
    finally:
        store.close()
    never = keys(vmx, data_dir, "update", made["api_key"], "--no-expiry", "--json")
    assert jsonfmt.loads(never.stdout)["expires_at"] is None

    for args, said in (
        ((), "nothing to change"),
        (("--expires-in", "1d", "--no-expiry"), "contradict"),
        (("--permissions", "admin"), "Unknown permission"),
        (("--expires-in", "1w"), "not a duration"),
    ):
        refused = keys(vmx, data_dir, "update", made["api_key"], *args)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert said in refused.stderr
    assert keys(vmx, data_dir, "update", "vmxk_nope", "--no-expiry").exit_code == 7

    entries = jsonfmt.loads(
        vmx.run("engine", "audit", "--data-dir", str(data_dir), "--json").stdout
    )["entries"]
    assert [(e["action"], e["details"]) for e in entries[1:]] == [
        ("key.permissions", {"permissions": ["read"], "before": ["read", "trade"]}),
        ("key.expiry", {"expires_at": shown["expires_at"]}),
        ("key.expiry", {"expires_at": None}),
    ]


def test_a_rotation_answer_without_a_secret_changes_nothing_stored(vmx: Harness) -> None:
    import httpx

    from velocimex_cli.config.credentials import Credential, Secret

    credentials.store("prod", Credential("vmxk_k", Secret("s3cret"), api_url="http://testserver"))

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok", "data": {"api_key": "vmxk_k"}})

    result = vmx.run(
        "--profile", "prod", "--api-url", "http://testserver", "auth", "rotate",
        env=NO_ENV_KEY, transport=httpx.MockTransport(answer),
    )  # fmt: skip
    assert result.exit_code == 1 and "without a new secret" in result.stderr
    assert "Traceback" not in result.stderr
    kept = credentials.load("prod")
    assert kept is not None and kept.api_secret.reveal() == "s3cret"
