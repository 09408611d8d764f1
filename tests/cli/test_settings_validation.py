"""Settings are validated when set and when read: a wrong value, a wrong type or a broken
config.toml is a clear message naming the file and the key, exit 2, never a traceback, and
repairing one key loses nothing else in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Harness
from velocimex_cli.config.settings import config_file
from velocimex_cli.wire import jsonfmt

NO_ENV_KEY = {"VMX_API_KEY": None, "VMX_API_SECRET": None, "VMX_API_URL": None}


def write_config(text: str) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def no_traceback(result: object) -> None:
    assert "Traceback" not in result.stderr + result.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("output", "yaml", "table, json, ndjson, csv"),
        ("color", "purple", "auto, always, never"),
        ("confirm_notional", "0", "positive number"),
        ("confirm_notional", "-5", "positive number"),
        ("confirm_notional", "1_000", "positive number"),
        ("confirm_notional", "١٠٠٠", "positive number"),
        ("confirm_notional", "NaN", "positive number"),
        ("order_max_wait", "-1", "number of seconds"),
        ("order_max_wait", "1e9", "number of seconds"),
        ("default_profile", "ghost", "no profile named 'ghost'"),
    ],
)
def test_a_bad_value_is_refused_when_set(vmx: Harness, key: str, value: str, says: str) -> None:
    result = vmx.run("config", "set", key, value)
    assert result.exit_code == 2 and says in result.stderr
    no_traceback(result)
    assert not config_file().exists()  # nothing was written


def test_default_profile_may_name_a_profile_that_exists(vmx: Harness) -> None:
    login = vmx.run(
        "auth", "login", "--profile", "prod", "--api-url", "http://testserver",
        "--api-key", vmx.api_key, "--api-secret-stdin",
        input=vmx.api_secret + "\n", env=NO_ENV_KEY,
    )  # fmt: skip
    assert login.exit_code == 0, login.stderr
    assert vmx.run("config", "set", "default_profile", "prod").exit_code == 0
    listed = vmx.run("order", "list", "--json", env=NO_ENV_KEY)
    assert listed.exit_code == 0, listed.stderr


def test_a_default_profile_that_does_not_exist_fails_when_read(vmx: Harness) -> None:
    path = write_config('default_profile = "ghost"\n')
    result = vmx.run("order", "list", env=NO_ENV_KEY)
    assert result.exit_code == 2
    assert str(path) in result.stderr and "default_profile is 'ghost'" in result.stderr
    assert "vmx config set default_profile local" in result.stderr
    no_traceback(result)
    chosen = vmx.run("--profile", "local", "config", "get", "output")  # not read: not in the way
    assert chosen.exit_code == 0 and chosen.stdout.strip() == "table"


@pytest.mark.parametrize(
    ("line", "key", "says"),
    [
        ("output = 5", "output", "is a number but must be a string"),
        ('output = "xml"', "output", "output must be one of"),
        ("confirm_notional = true", "confirm_notional", "is a boolean but must be a number"),
        ("confirm_notional = -3", "confirm_notional", "positive number"),
        ('order_max_wait = "soon"', "order_max_wait", "number of seconds"),
    ],
)
def test_a_wrong_value_in_the_file_names_the_file_and_key(
    vmx: Harness, line: str, key: str, says: str
) -> None:
    path = write_config(line + "\n")
    result = vmx.run("config", "get", key)
    assert result.exit_code == 2
    assert f"{path}: {key} " in result.stderr and says in result.stderr
    assert f"vmx config set {key} VALUE" in result.stderr
    no_traceback(result)


def test_numbers_in_the_file_may_be_toml_numbers(vmx: Harness) -> None:
    write_config("confirm_notional = 2500.50\norder_max_wait = 3\n")
    assert vmx.run("config", "get", "confirm_notional").stdout.strip() == "2500.50"
    assert vmx.run("config", "get", "order_max_wait").stdout.strip() == "3"


def test_a_bad_colour_setting_fails_the_command_that_uses_colour(vmx: Harness) -> None:
    path = write_config('color = "purple"\noutput = "json"\n')
    table = vmx.run("markets", "status", "-o", "table")
    assert table.exit_code == 2 and f"{path}: color " in table.stderr
    no_traceback(table)
    flag = vmx.run("--color", "never", "markets", "status", "-o", "table")
    assert flag.exit_code == 0  # the flag wins: the setting is not read


def test_repairing_one_key_keeps_the_rest_of_the_file(vmx: Harness) -> None:
    path = write_config(
        'output = 5\ncolor = "never"\nsome_future_setting = "kept"\n\n'
        '[profiles.prod]\napi_url = "https://api.example"\n'
    )
    assert vmx.run("markets", "status").exit_code == 2  # reads `output`
    fixed = vmx.run("config", "set", "output", "json")
    assert fixed.exit_code == 0, fixed.stderr
    text = path.read_text()
    assert 'some_future_setting = "kept"' in text and 'color = "never"' in text
    assert "https://api.example" in text
    jsonfmt.loads(vmx.run("markets", "status").stdout)  # the repaired default is in force


def test_malformed_toml_names_the_file_and_is_not_overwritten(vmx: Harness) -> None:
    path = write_config("output = [broken\n")
    for args in (("markets", "status"), ("config", "set", "output", "json")):
        result = vmx.run(*args)
        assert result.exit_code == 2
        assert str(path) in result.stderr and "not valid TOML" in result.stderr
        no_traceback(result)
    assert path.read_text() == "output = [broken\n"


@pytest.mark.parametrize(
    "text",
    ["profiles = 3\n", "[profiles]\nprod = 1\n", "[profiles.prod]\napi_url = 7\n"],
)
def test_profiles_of_the_wrong_shape_are_named(vmx: Harness, text: str) -> None:
    path = write_config(text)
    result = vmx.run("order", "list")
    assert result.exit_code == 2 and str(path) in result.stderr and "profiles" in result.stderr
    no_traceback(result)
