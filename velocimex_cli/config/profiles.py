"""Which API and which credentials a command uses.

Precedence, highest first: command-line flag (`--profile`, `--api-url`, `--ca-cert`) >
environment (`VMX_PROFILE`, `VMX_API_URL`, `VMX_API_KEY`, `VMX_API_SECRET`, `VMX_CA_CERT`) > the
profile's settings and stored credentials > defaults. The `local` profile without a URL means
the embedded engine.

A stored secret is bound to the API it was saved for (the URL given to `auth login`, or the
embedded engine for the local profile's provisioned key): when `--api-url`/`VMX_API_URL` points
elsewhere, the stored key is not sent, and the command says so. `VMX_API_KEY` and
`VMX_API_SECRET` go together: one without the other is an error, never silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from velocimex_cli.config import credentials
from velocimex_cli.config.api_url import checked_api_url
from velocimex_cli.config.credentials import Credential, CredentialsError, Secret
from velocimex_cli.config.settings import LOCAL_PROFILE, ConfigError, Settings


@dataclass(frozen=True)
class Profile:
    name: str
    api_url: str | None  # None: the embedded local engine
    api_key: str | None
    api_secret: Secret | None
    url_source: str  # flag | env | profile | embedded
    key_source: str  # env | credentials | none
    # Why the stored key was not used (saved for another API), for the error and `auth status`.
    withheld: str | None = None
    # The CA certificate (PEM file) that https URLs are verified against instead of the
    # system's CAs: --ca-cert > VMX_CA_CERT > the profile's ca_cert; None: the system's.
    ca_cert: str | None = None
    ca_source: str | None = None  # flag | env | profile

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
    flag_ca_cert: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Profile:
    env = os.environ if env is None else env
    name = profile_name(settings, flag_profile, env)

    if flag_api_url:
        url, url_source = flag_api_url, "flag"
    elif env.get("VMX_API_URL"):
        url, url_source = env["VMX_API_URL"], "env"
    elif profile_url := settings.profile_url(name):
        url, url_source = profile_url, "profile"
    elif name == LOCAL_PROFILE:
        url, url_source = None, "embedded"
    else:
        raise ConfigError(
            f"profile {name!r} has no API URL; set one with "
            f"`vmx auth login --profile {name} --api-url URL` or pass --api-url"
        )
    if url is not None:
        url = checked_api_url(url, url_source)

    env_key, env_secret = env.get("VMX_API_KEY"), env.get("VMX_API_SECRET")
    if bool(env_key) != bool(env_secret):
        given, missing = (
            ("VMX_API_KEY", "VMX_API_SECRET") if env_key else ("VMX_API_SECRET", "VMX_API_KEY")
        )
        raise CredentialsError(
            f"{given} is set but {missing} is not: set both to use a key from the environment,"
            f" or unset {given} to use the profile's stored key"
        )
    withheld = None
    if env_key and env_secret:
        key, secret, key_source = env_key, Secret(env_secret), "env"
    else:
        key, secret, key_source = None, None, "none"
        stored = credentials.load(name)
        if stored is not None:
            bound = bound_url(stored, settings, name)
            if same_api(bound, url):
                key, secret, key_source = stored.api_key, stored.api_secret, "credentials"
            else:
                withheld = withheld_message(name, bound, url, url_source)
    ca_cert, ca_source = _ca_cert(settings, name, flag_ca_cert, env)
    return Profile(name, url, key, secret, url_source, key_source, withheld, ca_cert, ca_source)


def _ca_cert(
    settings: Settings, name: str, flag: str | None, env: Mapping[str, str]
) -> tuple[str | None, str | None]:
    if flag:
        return flag, "flag"
    if env.get("VMX_CA_CERT"):
        return env["VMX_CA_CERT"], "env"
    stored = settings.profiles.get(name, {}).get("ca_cert")
    if stored:
        return stored, "profile"
    return None, None


def ca_cert_origin(profile: Profile) -> str:
    """Where the profile's CA certificate was given, for error messages."""
    return {
        "flag": "--ca-cert",
        "env": "VMX_CA_CERT",
        "profile": f"the ca_cert of profile {profile.name!r} in config.toml",
    }.get(profile.ca_source or "", "--ca-cert")


def bound_url(stored: Credential, settings: Settings, name: str) -> str | None:
    """The API a stored key was saved for (None: the embedded local engine).

    Keys saved before keys were bound carry no URL: they belong to the profile's configured
    API (the embedded engine for the local profile).
    """
    if stored.api_url:
        return stored.api_url
    return settings.profile_url(name) if name != LOCAL_PROFILE else None


def normal_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def same_api(bound: str | None, url: str | None) -> bool:
    return normal_url(bound) == normal_url(url)


def withheld_message(name: str, bound: str | None, url: str | None, url_source: str) -> str:
    saved_for = bound or "the embedded local engine"
    target = url or "the embedded local engine"
    via = {"flag": " (from --api-url)", "env": " (from VMX_API_URL)"}.get(url_source, "")
    fix = (
        f"set VMX_API_KEY and VMX_API_SECRET for it, or run `vmx auth login --profile {name}"
        f" --api-url {url}`"
        if url
        else f"drop --api-url/VMX_API_URL, or run `vmx auth login --profile {name}`"
    )
    return (
        f"not sending the stored key of profile {name!r} to {target}{via}: it was saved for"
        f" {saved_for}; {fix}"
    )
