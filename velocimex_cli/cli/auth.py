"""`vmx auth login|logout|status|rotate`: API keys per profile, verified before they are saved.

`auth status` warns (stderr) when the key expires within EXPIRY_WARNING_DAYS; `auth rotate`
gives the profile's key a new secret through the API and stores it atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail, rotated_key_detail
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("API credentials per profile.")

EXPIRY_WARNING_DAYS = 14


@dataclass
class LoginOptions:
    profile: str | None
    api_url: str | None
    api_key: str | None
    secret_from_stdin: bool
    ca_cert: str | None = None


@dataclass
class LogoutOptions:
    profile: str | None


@dataclass
class StatusOptions:
    output: str | None


@dataclass
class RotateOptions:
    profile: str | None
    grace: str | None
    output: str | None


def _read_line(factory: Factory, prompt: str | None, what: str) -> str:
    """One line from stdin (after `prompt` on a terminal); EOF is an error that says so."""
    io = factory.io
    if prompt is not None:
        io.stderr.write(prompt)
        io.stderr.flush()
    line = io.stdin.readline()
    if not line:
        raise CommandError(f"no {what} given: stdin ended (EOF) before it; nothing was saved")
    return line.strip()


def _save_failed(exc: OSError, path: object) -> CommandError:
    where = exc.filename or path
    return CommandError(
        f"cannot save the credentials in {where}: {exc.strerror or exc}; make that directory"
        " writable by you (VMX_HOME, or the platform's config directory) or point VMX_HOME at"
        " one that is. Nothing was saved.",
        exit_code=ExitCode.USAGE,
        code="HOME_NOT_WRITABLE",
    )


def run_login(factory: Factory, opts: LoginOptions) -> None:
    import os

    from velocimex_cli.config import credentials
    from velocimex_cli.config import settings as settings_mod
    from velocimex_cli.config.credentials import Credential, Secret, mask_key
    from velocimex_cli.config.profiles import profile_name
    from velocimex_cli.config.settings import LOCAL_PROFILE

    io = factory.io
    env = factory.env if factory.env is not None else os.environ
    name = opts.profile or profile_name(factory.settings, factory.flag_profile, env)
    url = opts.api_url or factory.flag_api_url or factory.settings.profile_url(name)
    if url is None and name != LOCAL_PROFILE:
        raise CommandError(f"profile {name!r} needs an API URL: pass --api-url URL")
    if url is not None:
        from velocimex_cli.config.api_url import checked_api_url

        url = checked_api_url(url, "flag" if opts.api_url or factory.flag_api_url else "profile")
    key = opts.api_key
    if key is None:
        if not io.can_prompt:
            raise CommandError("pass --api-key KEY (no terminal to ask on)")
        key = _read_line(factory, "API key: ", "API key")
    key = key.strip()
    if not key:
        raise CommandError("the API key is empty: pass --api-key KEY (the key id, not the secret)")
    if opts.secret_from_stdin:
        secret_text = _read_line(factory, None, "API secret on stdin")
    elif io.can_prompt:
        try:
            secret_text = io.prompt_secret("API secret (hidden): ").strip()
        except EOFError:
            raise CommandError(
                "no API secret given: stdin ended (EOF) at the prompt; nothing was saved"
            ) from None
    else:
        raise CommandError(
            "pass the secret on stdin with --api-secret-stdin (no terminal to ask on)"
        )
    if not secret_text:
        raise CommandError("the API secret is empty; nothing was saved")
    secret = Secret(secret_text)
    embedded = url is None
    if url is None:
        url = factory._embedded_url()
    ca_cert, ca_origin = _login_ca_cert(factory, opts, name)
    api = factory.client_for(url.rstrip("/"), key, secret, ca_cert, ca_origin, embedded)
    try:
        api.balance()  # any authenticated call proves the key; nothing is saved before it works
    finally:
        api.close()
    bound = None if embedded else url.rstrip("/")
    try:
        if opts.api_url or (name != LOCAL_PROFILE and url):
            factory.settings.profiles.setdefault(name, {})["api_url"] = url.rstrip("/")
            settings_mod.save(factory.settings)
        if (opts.ca_cert or factory.flag_ca_cert) and ca_cert is not None:
            factory.settings.profiles.setdefault(name, {})["ca_cert"] = ca_cert  # given here
            settings_mod.save(factory.settings)
        path = credentials.store(name, Credential(key, secret, api_url=bound))
    except OSError as exc:
        raise _save_failed(exc, credentials.credentials_file()) from None
    io.status(f"Logged in to {url} as {mask_key(key)} (profile {name}); saved in {path}.")


def _login_ca_cert(factory: Factory, opts: LoginOptions, name: str) -> tuple[str | None, str]:
    """The CA file the key is checked over (and, when given here, stored with the profile, as
    an absolute path): login's --ca-cert, the global --ca-cert, VMX_CA_CERT, the profile's."""
    import os
    from pathlib import Path

    env = factory.env if factory.env is not None else os.environ
    given = opts.ca_cert or factory.flag_ca_cert
    if given:
        return str(Path(given).expanduser().resolve()), "--ca-cert"
    if env.get("VMX_CA_CERT"):
        return env["VMX_CA_CERT"], "VMX_CA_CERT"
    stored = factory.settings.profiles.get(name, {}).get("ca_cert")
    return stored, f"the ca_cert of profile {name!r} in config.toml"


def run_logout(factory: Factory, opts: LogoutOptions) -> int | None:
    import os

    from velocimex_cli.config import credentials
    from velocimex_cli.config.profiles import profile_name
    from velocimex_cli.config.settings import LOCAL_PROFILE

    env = factory.env if factory.env is not None else os.environ
    name = opts.profile or profile_name(factory.settings, factory.flag_profile, env)
    stored = credentials.load(name)
    if stored is None:
        factory.io.status(f"Profile {name} has no stored credentials; nothing to remove.")
        return None
    local_key = name == LOCAL_PROFILE and stored.api_url is None
    if local_key and factory.settings.profile_url(name) is None:
        _revoke_local_key(factory, stored.api_key)
    try:
        credentials.remove(name)
    except OSError as exc:
        raise _save_failed(exc, credentials.credentials_file()) from None
    factory.io.status(f"Removed the stored credentials of profile {name}.")
    return None


def _revoke_local_key(factory: Factory, api_key: str) -> None:
    """Revoke the local profile's provisioned key on the embedded engine (starting it if need
    be: the key lives in the engine's data), so a copy of the secret is worthless too."""
    from velocimex_cli.config.credentials import mask_key
    from velocimex_cli.local import keys as local_keys
    from velocimex_cli.wire.errors import NotFound

    engine = factory._embedded_engine()
    try:
        revoked = local_keys.revoke_key(engine, api_key)
    except NotFound:
        factory.io.status(f"The local engine does not know the key {mask_key(api_key)}.")
        return
    state = "revoked" if revoked else "was already revoked"
    factory.io.status(f"Key {mask_key(api_key)} {state} on the local engine.")


def run_status(factory: Factory, opts: StatusOptions) -> int | None:
    from velocimex_cli.config import credentials
    from velocimex_cli.config.credentials import mask_key
    from velocimex_cli.output.formats import emit

    profile = factory.profile()
    stored = credentials.load(profile.name) if profile.key_source == "credentials" else None
    if profile.withheld is not None:
        factory.io.status(f"error: {profile.withheld}")
    where = {
        "env": "environment (VMX_API_KEY, VMX_API_SECRET)",
        "credentials": str(credentials.credentials_file()),
        "none": None,
    }[profile.key_source]
    info: dict[str, Any] = {
        "profile": profile.name,
        "api_url": profile.api_url,
        "embedded": profile.embedded,
        "api_key": mask_key(profile.api_key) if profile.api_key else None,
        "stored_in": where,
        "permissions": list(stored.permissions) if stored and stored.permissions else None,
        "accepted": None,
    }
    code: int | None = None
    if profile.has_credentials:
        from velocimex_cli.cli.failures import exit_code_of, human_message

        try:
            api = factory.client()
            info["api_url"] = api.base_url
            api.balance()
            info["accepted"] = True
            _expiry_notes(factory, api, info)
        except Exception as exc:
            info["accepted"] = False if exit_code_of(exc) == ExitCode.AUTH else None
            info["problem"] = human_message(exc).removeprefix("error: ").splitlines()[0]
            code = exit_code_of(exc)
            factory.io.status(human_message(exc))
    else:
        code = ExitCode.AUTH

    emit(factory.io, info, factory.output_format(opts.output), record_detail)
    if not profile.has_credentials:
        factory.io.status(
            f"No credentials for profile {profile.name}: run `vmx auth login --profile "
            f"{profile.name}`"
            + (" (or any command: the local key is provisioned)" if profile.embedded else "")
        )
    return code


def _expiry_notes(factory: Factory, api: Any, info: dict[str, Any]) -> None:
    """Add the key's expiry to `info`; warn on stderr when it is near, or when the secret in
    use was rotated out. An API without the key route (not a vmx engine) is skipped."""
    from datetime import UTC, datetime, timedelta

    from velocimex_cli.wire.errors import ApiError
    from velocimex_cli.wire.timefmt import parse_iso

    try:
        key = api.key_info()
    except ApiError:
        return
    if not isinstance(key, dict):
        return
    expires_at = key.get("expires_at")
    info["expires_at"] = expires_at
    profile = info["profile"]
    now = datetime.now(UTC)
    if isinstance(expires_at, str):
        left = parse_iso(expires_at) - now
        if left <= timedelta(days=EXPIRY_WARNING_DAYS):
            days = max(0, left.days)
            factory.io.status(
                f"warning: this key expires at {expires_at} (in {days} day(s)); renew it with"
                f" `vmx auth rotate --profile {profile}` (a new secret, and a new lifetime)."
            )
    secret_until = key.get("secret_until")
    if isinstance(secret_until, str):
        info["secret_until"] = secret_until
        factory.io.status(
            f"warning: the stored secret was replaced by a key rotation and stops working at"
            f" {secret_until}; store the new one (`vmx auth login --profile {profile}`) or"
            f" run `vmx auth rotate --profile {profile}` now."
        )


def run_rotate(factory: Factory, opts: RotateOptions) -> int | None:
    """A new secret for the profile's own key, through the API, stored atomically.

    Crash-safe order: the API answers with the new secret while the secret we sent keeps
    working for the grace period; only then is the new one written (temp file, fsync, rename).
    Killed before the answer: the old secret is untouched. Killed after it: the old secret
    works for the grace period, and `vmx auth rotate` run again with it gets a fresh secret.
    """
    from velocimex_cli.config import credentials
    from velocimex_cli.config.credentials import Credential, Secret, mask_key
    from velocimex_cli.engine.keys import MAX_GRACE_SECONDS
    from velocimex_cli.output.formats import emit

    if opts.profile is not None:
        factory.flag_profile = opts.profile
        factory.reset_client()
    grace = None
    if opts.grace is not None:
        from velocimex_cli.cli.durations import parse_duration

        grace = parse_duration(opts.grace, "--grace", maximum=MAX_GRACE_SECONDS, bare_seconds=True)
    profile = factory.profile()
    if profile.key_source == "env":
        raise CommandError(
            "the key in use comes from VMX_API_KEY and VMX_API_SECRET, which vmx cannot update:"
            " unset them to rotate the profile's stored key, or have the key rotated with"
            " `vmx engine keys rotate KEY_ID` and set the new secret yourself"
        )
    api = factory.client()  # provisions the local profile's key if it has none yet
    profile = factory.profile()
    stored = credentials.load(profile.name)
    if stored is None or profile.key_source != "credentials":
        raise CommandError(
            f"profile {profile.name} has no stored key to rotate: run"
            f" `vmx auth login --profile {profile.name}` first"
        )
    answer = api.rotate_key(grace)
    if not isinstance(answer, dict) or not isinstance(answer.get("api_secret"), str):
        raise CommandError(
            f"the API at {api.base_url} answered the rotation without a new secret; the stored"
            " key is unchanged (`vmx auth status` checks it still works)",
            exit_code=ExitCode.UNEXPECTED,
            code="BAD_ANSWER",
        )
    new_secret = Secret(answer["api_secret"])
    until = answer.get("previous_until")
    updated = Credential(stored.api_key, new_secret, stored.api_url, stored.permissions)
    try:
        path = credentials.store(profile.name, updated)
    except OSError as exc:
        keep = f" the old secret still works until {until}:" if until else ""
        raise CommandError(
            f"the key was rotated but its new secret could not be saved in"
            f" {exc.filename or credentials.credentials_file()} ({exc.strerror or exc});{keep}"
            f" make the file writable and run `vmx auth rotate --profile {profile.name}` again"
            + (" before then." if until else "."),
            exit_code=ExitCode.USAGE,
            code="HOME_NOT_WRITABLE",
        ) from None
    record = {
        "profile": profile.name,
        "api_key": mask_key(stored.api_key),
        "rotated_at": answer.get("rotated_at"),
        "previous_until": until,
        "expires_at": answer.get("expires_at"),
        "stored_in": str(path),
    }

    emit(factory.io, record, factory.output_format(opts.output), rotated_key_detail)
    factory.io.status(
        f"Rotated key {mask_key(stored.api_key)} of profile {profile.name}; the new secret is"
        f" saved in {path}."
        + (f" The old secret works until {until}." if until else " The old secret is dead.")
    )
    return None


@app.command("login")
def login_command(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Profile to store it in.")
    ] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="The API's base URL.")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The key id (not secret).")
    ] = None,
    api_secret_stdin: Annotated[
        bool,
        typer.Option(
            "--api-secret-stdin", help="Read the secret from stdin instead of a hidden prompt."
        ),
    ] = False,
    ca_cert: Annotated[
        str | None,
        typer.Option(
            "--ca-cert",
            help="PEM file of the CA that issued the API's certificate (a private CA); checked, "
            "then stored in the profile.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Save an API key for a profile, after checking the API accepts it."""
    execute(
        ctx,
        run_login,
        LoginOptions(
            profile=profile,
            api_url=api_url,
            api_key=api_key,
            secret_from_stdin=api_secret_stdin,
            ca_cert=ca_cert,
        ),
    )


@app.command("logout")
def logout_command(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Profile whose key to forget.")
    ] = None,
) -> None:
    """Forget the stored API key of a profile."""
    execute(ctx, run_logout, LogoutOptions(profile=profile))


@app.command("rotate")
def rotate_command(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Profile whose key.")
    ] = None,
    grace: Annotated[
        str | None,
        typer.Option(
            "--grace",
            help="How long the old secret keeps working: seconds, or 30m, 12h, 2d"
            " (default: the engine's, 3600 seconds).",
            show_default=False,
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Give the profile's key a new secret (through the API) and store it."""
    fmt = output_format(json, output)
    execute(ctx, run_rotate, RotateOptions(profile=profile, grace=grace, output=fmt), output=fmt)


@app.command("status")
def status_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Which key is in use (masked), where it is stored, and whether the API accepts it."""
    fmt = output_format(json, output)
    execute(ctx, run_status, StatusOptions(output=fmt), output=fmt)
