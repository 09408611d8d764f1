"""Settings, credentials file safety and profile precedence."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from velocimex_cli.config import credentials, settings
from velocimex_cli.config.credentials import Credential, CredentialsError, Secret
from velocimex_cli.config.profiles import resolve
from velocimex_cli.config.settings import ConfigError, Settings


def test_credentials_are_0600_in_a_0700_dir_even_under_umask_022(tmp_path: Path) -> None:
    # A fresh process with umask 022, so this test does not change ours.
    home = tmp_path / "home"
    code = (
        "import os; os.umask(0o022);"
        "from velocimex_cli.config import credentials as c;"
        "from velocimex_cli.config.credentials import Credential, Secret;"
        "print(c.store('prod', Credential('k', Secret('s3cr3t-value'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "VMX_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    path = Path(out.stdout.strip())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "s3cr3t-value" not in out.stdout + out.stderr
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == []


def test_a_readable_credentials_file_is_refused_with_the_chmod(isolated_home: Path) -> None:
    path = credentials.store("prod", Credential("k", Secret("s")))
    path.chmod(0o640)
    with pytest.raises(CredentialsError) as caught:
        credentials.load("prod")
    assert f"chmod 600 {path}" in str(caught.value)
    path.chmod(0o600)
    loaded = credentials.load("prod")
    assert loaded is not None and loaded.api_secret.reveal() == "s"


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    cred = Credential("key", secret)
    assert "hunter2" not in repr(secret) + str(secret) + repr(cred) + f"{secret}"


def test_settings_round_trip_and_validation(isolated_home: Path) -> None:
    s = settings.load()
    assert s.get("default_profile") == "local" and s.get("output") == "table"
    s.set("output", "csv")
    s.profiles["prod"] = {"api_url": "https://api.example"}
    settings.save(s)
    again = settings.load()
    assert again.get("output") == "csv" and again.profile_url("prod") == "https://api.example"
    with pytest.raises(ConfigError):
        again.set("color", "sometimes")
    settings.config_file().write_text("output = [broken")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings.load()


def test_precedence_flag_over_env_over_profile_over_default(isolated_home: Path) -> None:
    s = Settings(profiles={"prod": {"api_url": "https://prod"}, "dev": {"api_url": "https://dev"}})
    credentials.store("prod", Credential("prod-key", Secret("prod-secret")))
    default = resolve(s, env={})
    assert default.name == "local" and default.embedded and default.url_source == "embedded"
    assert resolve(s, env={"VMX_PROFILE": "prod"}).api_url == "https://prod"
    chosen = resolve(s, flag_profile="dev", env={"VMX_PROFILE": "prod"})
    assert chosen.name == "dev" and chosen.api_url == "https://dev"
    env_url = resolve(s, env={"VMX_PROFILE": "prod", "VMX_API_URL": "http://env"})
    assert env_url.api_url == "http://env" and env_url.url_source == "env"
    flag_url = resolve(
        s, flag_profile="prod", flag_api_url="http://flag", env={"VMX_API_URL": "http://env"}
    )
    assert flag_url.api_url == "http://flag"
    stored = resolve(s, flag_profile="prod", env={})
    assert stored.api_key == "prod-key" and stored.key_source == "credentials"
    env_key = resolve(s, flag_profile="prod", env={"VMX_API_KEY": "ek", "VMX_API_SECRET": "es"})
    assert env_key.api_key == "ek" and env_key.api_secret == Secret("es")
    s.values["default_profile"] = "dev"
    assert resolve(s, env={}).name == "dev"
    with pytest.raises(ConfigError, match="--api-url"):
        resolve(s, flag_profile="nowhere", env={})
