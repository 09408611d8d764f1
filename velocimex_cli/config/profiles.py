"""Which API and which credentials a command uses.

Precedence, highest first: command-line flag (`--profile`, `--api-url`) > environment
(`VMX_PROFILE`, `VMX_API_URL`, `VMX_API_KEY`, `VMX_API_SECRET`) > the profile's settings and
stored credentials > defaults. The `local` profile without a URL means the embedded engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from velocimex_cli.config import credentials
from velocimex_cli.config.credentials import Secret
from velocimex_cli.config.settings import LOCAL_PROFILE, ConfigError, Settings


@dataclass(frozen=True)
class Profile:
    name: str
    api_url: str | None  # None: the embedded local engine
    api_key: str | None
    api_secret: Secret | None
    url_source: str  # flag | env | profile | embedded
    key_source: str  # env | credentials | none

    @property
    def embedded(self) -> bool:
        return self.api_url is None

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key) and bool(self.api_secret)


def profile_name(settings: Settings, flag: str | None, env: Mapping[str, str]) -> str:
    return flag or env.get("VMX_PROFILE") or settings.get("default_profile") or LOCAL_PROFILE


def resolve(
    settings: Settings,
    *,
    flag_profile: str | None = None,
    flag_api_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Profile:
    env = os.environ if env is None else env
    name = profile_name(settings, flag_profile, env)

    if flag_api_url:
        url, url_source = flag_api_url, "flag"
    elif env.get("VMX_API_URL"):
        url, url_source = env["VMX_API_URL"], "env"
    elif settings.profile_url(name):
        url, url_source = settings.profile_url(name), "profile"
    elif name == LOCAL_PROFILE:
        url, url_source = None, "embedded"
    else:
        raise ConfigError(
            f"profile {name!r} has no API URL; set one with "
            f"`vmx auth login --profile {name} --api-url URL` or pass --api-url"
        )

    env_key, env_secret = env.get("VMX_API_KEY"), env.get("VMX_API_SECRET")
    if env_key and env_secret:
        key, secret, key_source = env_key, Secret(env_secret), "env"
    else:
        stored = credentials.load(name)
        if stored is not None:
            key, secret, key_source = stored.api_key, stored.api_secret, "credentials"
        else:
            key, secret, key_source = None, None, "none"
    if url is not None:
        url = url.rstrip("/")
    return Profile(name, url, key, secret, url_source, key_source)
