"""Settings in config.toml: default profile, output format, colour, confirmation threshold.

The file is small TOML written with tomli-w and read with the standard library's tomllib::

    default_profile = "local"
    output = "table"
    color = "auto"
    confirm_notional = "10000"

    [profiles.prod]
    api_url = "https://api.velocimex.com"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from velocimex_cli import paths

LOCAL_PROFILE = "local"
OUTPUT_FORMATS = ("table", "json", "ndjson", "csv")
COLOR_MODES = ("auto", "always", "never")

# Settings a person may `vmx config set`, with their defaults.
DEFAULTS: dict[str, str] = {
    "default_profile": LOCAL_PROFILE,
    "output": "table",
    "color": "auto",
    "confirm_notional": "10000",
}


class ConfigError(Exception):
    """A setting or a config file that is wrong; the message says how to fix it."""


def config_file() -> Path:
    return paths.config_dir() / "config.toml"


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    path: Path | None = None

    def get(self, key: str) -> str:
        if key not in DEFAULTS:
            raise ConfigError(f"unknown setting {key!r}; known settings: {', '.join(DEFAULTS)}")
        return self.values.get(key, DEFAULTS[key])

    def set(self, key: str, value: str) -> None:
        if key not in DEFAULTS:
            raise ConfigError(f"unknown setting {key!r}; known settings: {', '.join(DEFAULTS)}")
        self.values[key] = validate_setting(key, value)

    @property
    def confirm_notional(self) -> Decimal:
        return Decimal(self.get("confirm_notional"))

    def profile_url(self, name: str) -> str | None:
        url = self.profiles.get(name, {}).get("api_url")
        return url or None

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.values)
        if self.profiles:
            data["profiles"] = {name: dict(p) for name, p in self.profiles.items()}
        return data


def validate_setting(key: str, value: str) -> str:
    value = value.strip()
    if key == "output" and value not in OUTPUT_FORMATS:
        raise ConfigError(f"output must be one of {', '.join(OUTPUT_FORMATS)}, not {value!r}")
    if key == "color" and value not in COLOR_MODES:
        raise ConfigError(f"color must be one of {', '.join(COLOR_MODES)}, not {value!r}")
    if key == "confirm_notional":
        from velocimex_cli.wire.numbers import parse_decimal

        number = parse_decimal(value)
        if number is None or number < 0:
            raise ConfigError(f"confirm_notional must be a number >= 0, not {value!r}")
    if key == "default_profile" and not value:
        raise ConfigError("default_profile must not be empty")
    return value


def load(path: Path | None = None) -> Settings:
    path = path or config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path=path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    profiles_raw = data.pop("profiles", {}) or {}
    values = {k: str(v) for k, v in data.items() if k in DEFAULTS}
    profiles = {
        str(name): {str(k): str(v) for k, v in body.items()}
        for name, body in profiles_raw.items()
        if isinstance(body, dict)
    }
    return Settings(values=values, profiles=profiles, path=path)


def save(settings: Settings) -> Path:
    import tomli_w

    from velocimex_cli import paths

    path = settings.path or config_file()
    paths.write_private(path, tomli_w.dumps(settings.to_toml()))  # 0600 whatever the umask
    return path
