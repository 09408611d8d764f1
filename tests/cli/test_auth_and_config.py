"""auth login/logout/status and config: keys verified before saving, secrets never shown."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.cli.conftest import Harness
from velocimex_cli.config.credentials import credentials_file
from velocimex_cli.wire import jsonfmt

NO_ENV_KEY = {"VMX_API_KEY": None, "VMX_API_SECRET": None, "VMX_API_URL": None}


def login(vmx: Harness, secret: str, *extra: str) -> object:
    return vmx.run(
        "auth", "login", "--profile", "prod", "--api-url", "http://testserver",
        "--api-key", vmx.api_key, "--api-secret-stdin", *extra,
        input=secret + "\n", env=NO_ENV_KEY,
    )  # fmt: skip


def test_login_verifies_then_saves_and_commands_use_the_profile(vmx: Harness) -> None:
    rejected = login(vmx, "not-the-secret")
    assert rejected.exit_code == 3
    assert not credentials_file().exists()
    ok = login(vmx, vmx.api_secret)
    assert ok.exit_code == 0, ok.stderr
    assert vmx.api_secret not in ok.stdout + ok.stderr
    path = credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    listed = vmx.run("--profile", "prod", "order", "list", "--json", env=NO_ENV_KEY)
    assert listed.exit_code == 0, listed.stderr
    via_env = vmx.run("order", "list", "--json", env={**NO_ENV_KEY, "VMX_PROFILE": "prod"})
    assert via_env.exit_code == 0, via_env.stderr


def test_status_masks_the_key_and_says_whether_it_is_accepted(vmx: Harness) -> None:
    login(vmx, vmx.api_secret)
    result = vmx.run("--profile", "prod", "auth", "status", "--json", env=NO_ENV_KEY)
    assert result.exit_code == 0, result.stderr
    info = jsonfmt.loads(result.stdout)
    assert info["accepted"] is True and info["profile"] == "prod"
    assert info["stored_in"] == str(credentials_file())
    assert vmx.api_key not in result.stdout and info["api_key"].startswith(vmx.api_key[:4])
    assert vmx.api_secret not in result.stdout + result.stderr
    table = vmx.run("--profile", "prod", "auth", "status", tty=True, env=NO_ENV_KEY)
    assert vmx.api_secret not in table.stdout and "accepted" in table.stdout


def test_status_of_a_rejected_key_exits_3(vmx: Harness) -> None:
    result = vmx.run("auth", "status", "--json", env={"VMX_API_SECRET": "nope"})
    assert result.exit_code == 3
    info = jsonfmt.loads(result.stdout)
    assert info["accepted"] is False and "nope" not in result.stdout + result.stderr


def test_logout_forgets_the_key(vmx: Harness) -> None:
    login(vmx, vmx.api_secret)
    assert vmx.run("auth", "logout", "--profile", "prod").exit_code == 0
    after = vmx.run("--profile", "prod", "order", "list", env=NO_ENV_KEY)
    assert after.exit_code == 3


def test_login_without_a_terminal_needs_the_key_and_secret_flags(vmx: Harness) -> None:
    result = vmx.run("auth", "login", "--profile", "x", "--api-url", "http://testserver")
    assert result.exit_code == 2 and "--api-key" in result.stderr
    result = vmx.run(
        "auth", "login", "--profile", "x", "--api-url", "http://testserver", "--api-key", "k"
    )
    assert result.exit_code == 2 and "--api-secret-stdin" in result.stderr


def test_a_credentials_file_others_can_read_is_refused_with_the_fix(vmx: Harness) -> None:
    login(vmx, vmx.api_secret)
    path = credentials_file()
    path.chmod(0o644)
    result = vmx.run("--profile", "prod", "order", "list", env=NO_ENV_KEY)
    assert result.exit_code == 3
    assert f"chmod 600 {path}" in result.stderr


def test_config_set_get_list_path(vmx: Harness, isolated_home: Path) -> None:
    assert vmx.run("config", "get", "output").stdout.strip() == "table"
    assert vmx.run("config", "set", "output", "json").exit_code == 0
    assert vmx.run("config", "get", "output").stdout.strip() == "json"
    # The configured format is the default for data commands.
    jsonfmt.loads(vmx.run("markets", "status").stdout)
    listing = vmx.json("config", "list")
    assert listing["output"] == "json" and listing["confirm_notional"] == "10000"
    path = vmx.run("config", "path").stdout.strip()
    assert path == str(isolated_home / "config" / "config.toml") and Path(path).exists()
    bad = vmx.run("config", "set", "output", "yaml")
    assert bad.exit_code == 2 and "table, json, ndjson, csv" in bad.stderr
    unknown = vmx.run("config", "get", "nope")
    assert unknown.exit_code == 2 and "known settings" in unknown.stderr
    threshold = vmx.run("config", "set", "confirm_notional", "-5")
    assert threshold.exit_code == 2


def test_verbose_dumps_requests_with_credentials_masked(vmx: Harness) -> None:
    result = vmx.run("--verbose", "order", "list", "--json")
    assert result.exit_code == 0
    assert "> GET http://testserver/v1/trading/orders" in result.stderr
    assert "x-api-secret: ****" in result.stderr.lower()
    assert vmx.api_secret not in result.stderr and vmx.api_key not in result.stderr


def test_a_wrong_secret_at_login_is_exit_3_and_leaves_other_profiles_alone(vmx: Harness) -> None:
    from velocimex_cli.config import credentials
    from velocimex_cli.config.credentials import Credential, Secret

    credentials.store("local", Credential("vmxk_local_key", Secret("local-secret")))
    login(vmx, vmx.api_secret)  # prod saved with the right key
    before = credentials.load_all()
    result = vmx.run(
        "auth", "login", "--profile", "other", "--api-url", "http://testserver",
        "--api-key", vmx.api_key, "--api-secret-stdin", input="wrong\n", env=NO_ENV_KEY,
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert "AUTHENTICATION_ERROR" in result.stderr
    assert credentials.load_all() == before  # local and prod untouched, nothing for "other"


def test_login_prompts_end_cleanly_at_eof(vmx: Harness) -> None:
    base = ("auth", "login", "--profile", "x", "--api-url", "http://testserver")
    no_key = vmx.run(*base, tty=True, input="", env=NO_ENV_KEY)
    assert no_key.exit_code == 2 and "EOF" in no_key.stderr
    no_secret = vmx.run(*base, "--api-key", "k", "--api-secret-stdin", input="", env=NO_ENV_KEY)
    assert no_secret.exit_code == 2 and "EOF" in no_secret.stderr
    assert "Traceback" not in no_key.stderr + no_secret.stderr
    assert not credentials_file().exists()


def test_an_empty_api_key_is_refused_before_anything_is_sent(vmx: Harness) -> None:
    result = vmx.run(
        "auth", "login", "--profile", "x", "--api-url", "http://testserver", "--api-key", "  ",
        "--api-secret-stdin", input="s\n", env=NO_ENV_KEY,
    )  # fmt: skip
    assert result.exit_code == 2 and "API key is empty" in result.stderr


def test_an_unwritable_home_says_where_and_saves_nothing(vmx: Harness, isolated_home: Path) -> None:
    # Where the credentials directory must go, a plain file: no write can succeed there, even
    # as root (file modes would not stop root).
    blocker = isolated_home / "config" / "credentials"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    env = NO_ENV_KEY
    result = vmx.run(
        "auth", "login", "--profile", "prod", "--api-url", "http://testserver",
        "--api-key", vmx.api_key, "--api-secret-stdin", input=vmx.api_secret + "\n", env=env,
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert "cannot save the credentials" in result.stderr and str(blocker) in result.stderr
    assert "VMX_HOME" in result.stderr and "Traceback" not in result.stderr
