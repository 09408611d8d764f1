"""Settings in config.toml: default profile, output format, colour, confirmation threshold.

The file is small TOML written with tomli-w and read with the standard library's tomllib::

    default_profile = "local"
    output = "table"
    color = "auto"
    confirm_notional = "10000"
    order_max_wait = "5"
    engine_mirror = "binance:BTC/USDT,ETH/USDT kraken:BTC/USD"
    engine_venue_config = "/home/me/venues.json"

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
    "order_max_wait": "5",
    # What the local engine mirrors when vmx starts it (local/mirrors.py): empty, none.
    "engine_mirror": "",
    "engine_venue_config": "",
}
NUMERIC = frozenset({"confirm_notional", "order_max_wait"})  # may be TOML numbers too
MAX_ORDER_WAIT = 86_400  # seconds; beyond a day is not a wait, it is a mistake


class ConfigError(Exception):
    """A setting or a config file that is wrong; the message says how to fix it."""


def config_file() -> Path:
    return paths.config_dir() / "config.toml"


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    path: Path | None = None
    # Keys whose value in the file is wrong, with the problem: reported when the key is read
    # (so `vmx config set KEY VALUE` can still repair it), never silently replaced.
    problems: dict[str, str] = field(default_factory=dict)
    # What the file holds that is not a valid known setting (wrong values, keys this version
    # does not know): written back unchanged by save(), so repairing one key loses nothing.
    kept: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> str:
        _check_known(key)
        if key in self.problems:
            raise ConfigError(
                f"{self.path or config_file()}: {key} {self.problems[key]}; fix it with "
                f"`vmx config set {key} VALUE` or edit the file"
            )
        value = self.values.get(key, DEFAULTS[key])
        if key == "default_profile" and key in self.values and not self.profile_exists(value):
            raise ConfigError(
                f"{self.path or config_file()}: default_profile is {value!r}, a profile that "
                f"does not exist ({_known_profiles(self)}); log in to it with "
                f"`vmx auth login --profile {value}` or `vmx config set default_profile local`"
            )
        return value

    def set(self, key: str, value: str) -> None:
        _check_known(key)
        value = validate_setting(key, value)
        if key == "engine_venue_config" and value:
            _check_venue_config(value)  # its content when set; a later edit shows at start
        if key == "default_profile" and not self.profile_exists(value):
            raise ConfigError(
                f"no profile named {value!r} ({_known_profiles(self)}); create it first with "
                f"`vmx auth login --profile {value} --api-url URL`"
            )
        self.values[key] = value
        self.problems.pop(key, None)
        self.kept.pop(key, None)

    def profile_exists(self, name: str) -> bool:
        return name == LOCAL_PROFILE or name in self.profiles or name in _credential_profiles()

    @property
    def confirm_notional(self) -> Decimal:
        return Decimal(self.get("confirm_notional"))

    @property
    def order_max_wait(self) -> float:
        return float(self.get("order_max_wait"))

    def profile_url(self, name: str) -> str | None:
        url = self.profiles.get(name, {}).get("api_url")
        return url or None

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.kept, **self.values}
        if self.profiles:
            data["profiles"] = {name: dict(p) for name, p in self.profiles.items()}
        return data


def _check_known(key: str) -> None:
    if key not in DEFAULTS:
        raise ConfigError(f"unknown setting {key!r}; known settings: {', '.join(DEFAULTS)}")


def _credential_profiles() -> set[str]:
    from velocimex_cli.config import credentials

    try:
        return set(credentials.load_all())
    except credentials.CredentialsError:
        return set()


def _known_profiles(settings: Settings) -> str:
    names = sorted({LOCAL_PROFILE, *settings.profiles, *_credential_profiles()})
    return "profiles: " + ", ".join(names)


def validate_setting(key: str, value: str) -> str:
    """The value to store, or ConfigError saying what a valid one looks like."""
    value = value.strip()
    if key == "output" and value not in OUTPUT_FORMATS:
        raise ConfigError(f"output must be one of {', '.join(OUTPUT_FORMATS)}, not {value!r}")
    if key == "color" and value not in COLOR_MODES:
        raise ConfigError(f"color must be one of {', '.join(COLOR_MODES)}, not {value!r}")
    if key == "confirm_notional":
        number = _plain_decimal(value)
        if number is None or number <= 0:
            raise ConfigError(
                f"confirm_notional must be a positive number (the notional above which an "
                f"order asks for confirmation, e.g. 10000), not {value!r}"
            )
    if key == "order_max_wait":
        number = _plain_decimal(value)
        if number is None or number < 0 or number > MAX_ORDER_WAIT:
            raise ConfigError(
                f"order_max_wait must be a number of seconds from 0 to {MAX_ORDER_WAIT} (how "
                f"long placing an order may wait for a rate limit), not {value!r}"
            )
    if key == "default_profile" and not value:
        raise ConfigError("default_profile must not be empty")
    if key == "engine_mirror" and value:
        return _mirror_setting(value)
    if key == "engine_venue_config" and value:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = path.resolve()
        return str(path)
    return value


def _mirror_setting(value: str) -> str:
    """`engine_mirror`, parsed as `--mirror` is (venues apart by spaces or `;`), written back
    in its plain form: `binance:BTC/USDT,ETH/USDT kraken:BTC/USD`."""
    from velocimex_cli.engine.drivers.venues.spec import MirrorSpecError, parse_mirrors

    try:
        mirrors = parse_mirrors([value])
    except MirrorSpecError as exc:
        raise ConfigError(f"engine_mirror: {exc}") from None
    return " ".join(mirror.text() for mirror in mirrors)


def _check_venue_config(value: str) -> None:
    from velocimex_cli.engine.drivers.venues.spec import MirrorSpecError, load_venue_config

    try:
        load_venue_config(Path(value))
    except MirrorSpecError as exc:
        raise ConfigError(f"engine_venue_config: {exc}") from None


def _plain_decimal(text: str) -> Decimal | None:
    """A finite decimal written with ASCII digits only: no `1_000`, no `١٠`, no `NaN`."""
    if not text or not text.isascii() or "_" in text:
        return None
    from velocimex_cli.wire.numbers import parse_decimal

    return parse_decimal(text)


def _file_value(key: str, raw: object) -> tuple[str | None, str | None]:
    """(the value as text, None) or (None, the problem) for one key read from the file."""
    if key in NUMERIC and isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        kind = "a number" if key in NUMERIC else "a string"
        return None, f"is {_toml_type(raw)} but must be {kind}"
    try:
        return validate_setting(key, raw), None
    except ConfigError as exc:
        return None, f"is invalid: {exc}"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def load(path: Path | None = None) -> Settings:
    """The settings in config.toml. Malformed TOML fails at once (naming the file and the
    place); a wrong value is kept as a problem of its key and fails when that key is read."""
    path = path or config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path=path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    profiles_raw = data.pop("profiles", {})
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    kept = {key: value for key, value in data.items() if key not in DEFAULTS}
    for key in DEFAULTS:
        if key in data:
            value, problem = _file_value(key, data[key])
            if problem is not None:
                problems[key] = problem
                kept[key] = data[key]
            elif value is not None:
                values[key] = value
    if not isinstance(profiles_raw, dict):
        raise ConfigError(
            f"{path}: profiles is {_toml_type(profiles_raw)} but must be a table of "
            "[profiles.NAME] sections; fix or delete it"
        )
    profiles: dict[str, dict[str, str]] = {}
    for name, body in profiles_raw.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"{path}: profiles.{name} is {_toml_type(body)} but must be a table "
                f'([profiles.{name}] with api_url = "https://..."); fix or delete it'
            )
        for field_name, field_value in body.items():
            if not isinstance(field_value, str):
                raise ConfigError(
                    f"{path}: profiles.{name}.{field_name} is {_toml_type(field_value)} but "
                    "must be a string; fix or delete it"
                )
        profiles[str(name)] = {str(k): v for k, v in body.items()}
    return Settings(values, profiles, path, problems, kept)


def save(settings: Settings) -> Path:
    import tomli_w

    from velocimex_cli import paths

    path = settings.path or config_file()
    paths.write_private(path, tomli_w.dumps(settings.to_toml()))  # 0600 whatever the umask
    return path
