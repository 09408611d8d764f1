"""`vmx engine keys ...`: the engine's API keys, through the running engine's loopback key
endpoint when it is the engine asked for, else in the data directory's database (which of the
two, and how, is engine_key_access'): the commands and what they print.

Module-level imports stay light (typer only); the key access, the key store and the launcher
are imported by the commands that need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail, rotated_key_detail
from velocimex_cli.cli.engine_options import DataDirOption
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

keys_app = sub_app(
    "Manage the engine's API keys (through the running engine, or its data directory)."
)
KEY_COLUMNS = (
    "api_key", "account", "name", "permissions", "ip_allow", "created_at", "expires_at", "state",
)  # fmt: skip


def _no_active_key(key: str) -> CommandError:
    """What `keys rotate|update` say of a key that is unknown or revoked (exit 7)."""

    return CommandError(
        f"no active key {key!r} (unknown or revoked); see `vmx engine keys list`",
        exit_code=ExitCode.NOT_FOUND,
        code="NOT_FOUND",
    )


def _lifetime(expires_in: str | None) -> int | None:
    """--expires-in (`keys create|update`) in seconds, at most the engine's longest lifetime;
    None when not given."""
    from velocimex_cli.cli.durations import parse_duration
    from velocimex_cli.engine.keys import MAX_LIFETIME_SECONDS

    if expires_in is None:
        return None
    return parse_duration(
        expires_in, "--expires-in", maximum=MAX_LIFETIME_SECONDS, bare_seconds=False, minimum=1
    )


def _key_record(key: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    """A key as `keys create|update` emit it; its secret only where it was just made."""
    record = {"api_key": key["api_key"]}
    if with_secret:
        record["api_secret"] = key["api_secret"]
    record["account"] = key["account"]
    record["permissions"] = list(key["permissions"])
    record["expires_at"] = key.get("expires_at")
    return record


def _key_detail(key: dict[str, Any]) -> Any:
    """A key as `keys create|rotate|update` print it (no secret unless the record has one)."""
    shown = {**key, "permissions": ",".join(key["permissions"])}
    shown["expires_at"] = shown["expires_at"] or "never"
    return record_detail(shown)


@dataclass
class KeysCreateOptions:
    data_dir: Path | None
    account: str
    name: str
    permissions: str
    ip: list[str]
    output: str | None
    expires_in: str | None = None


def run_keys_create(factory: Factory, opts: KeysCreateOptions) -> int | None:
    from velocimex_cli.cli.engine_key_access import KeyAccess
    from velocimex_cli.engine.keys import LOCAL_PROFILE_KEY_NAME
    from velocimex_cli.output.formats import emit

    lifetime = _lifetime(opts.expires_in)
    if opts.name.strip() == LOCAL_PROFILE_KEY_NAME:
        from velocimex_cli.engine.api.local_keys import RESERVED_NAME

        raise CommandError(f"--name: {RESERVED_NAME}")
    access = KeyAccess(opts.data_dir)
    created = access.create(opts.account, opts.name, opts.permissions, opts.ip, lifetime)
    record = _key_record(created, with_secret=True)

    emit(factory.io, record, factory.output_format(opts.output), _key_detail)
    factory.io.status(
        f"Key for account {record['account']!r} ({', '.join(record['permissions'])}). The"
        " secret is shown only now: store it safely (e.g. `vmx auth login`). A new account is"
        " opened with sandbox funds on the key's first use."
    )
    if record["expires_at"]:
        factory.io.status(
            f"It expires at {record['expires_at']}; renew it before then with"
            f" `vmx engine keys rotate {record['api_key']}` (or `vmx auth rotate`)."
        )
    return None


@keys_app.command("create")
def keys_create_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    account: Annotated[str, typer.Option(help="Account the key trades for.")] = "local",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    permissions: Annotated[
        str,
        typer.Option(
            help="Comma-separated: read, trade, strategies (strategies: may add, replace and"
            " remove strategy code; not given unless asked for)."
        ),
    ] = "read,trade",
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="Allow only this address or CIDR block (repeatable)."),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Lifetime, e.g. 90d, 12h, 30m, 45s (default: never expires).",
            show_default=False,
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Create an API key; its secret is shown once, now."""
    fmt = output_format(json, output)
    opts = KeysCreateOptions(
        data_dir=data_dir,
        account=account,
        name=name,
        permissions=permissions,
        ip=list(ip or ()),
        output=fmt,
        expires_in=expires_in,
    )
    execute(ctx, run_keys_create, opts, output=fmt)


@dataclass
class KeysListOptions:
    data_dir: Path | None
    output: str | None


def _key_state(key: dict[str, Any], now: Any) -> str:
    from velocimex_cli.wire.timefmt import parse_iso

    if key["revoked_at"] is not None:
        return f"revoked {key['revoked_at']}"
    if key.get("expires_at") and parse_iso(key["expires_at"]) <= now:
        return "expired"
    if key.get("previous_until") and parse_iso(key["previous_until"]) > now:
        return f"active (old secret until {key['previous_until']})"
    return "active"


def run_keys_list(factory: Factory, opts: KeysListOptions) -> int | None:
    from datetime import UTC, datetime

    from velocimex_cli.cli.engine_key_access import KeyAccess
    from velocimex_cli.output.formats import emit

    now = datetime.now(UTC)

    keys = KeyAccess(opts.data_dir).list()
    fmt = factory.output_format(opts.output)
    if not keys and fmt == "table":
        factory.io.status("No API keys. Create one with `vmx engine keys create`.")

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import records_table

        rows = [
            {
                **key,
                "permissions": ",".join(key["permissions"]),
                "ip_allow": ",".join(key["ip_allow"]) or "any IP",
                "expires_at": key.get("expires_at") or "never",
                "state": _key_state(key, now),
            }
            for key in payload["keys"]
        ]
        return records_table(rows, KEY_COLUMNS)

    emit(factory.io, {"keys": keys}, fmt, table)
    return None


@keys_app.command("list")
def keys_list_command(
    ctx: typer.Context, data_dir: DataDirOption = None, json: JsonFlag = False,
    output: OutputOption = None,
) -> None:  # fmt: skip
    """List API keys (never their secrets)."""
    fmt = output_format(json, output)
    execute(ctx, run_keys_list, KeysListOptions(data_dir=data_dir, output=fmt), output=fmt)


@dataclass
class KeysRevokeOptions:
    key: str
    data_dir: Path | None


def run_keys_revoke(factory: Factory, opts: KeysRevokeOptions) -> int | None:
    from velocimex_cli.cli.engine_key_access import KeyAccess
    from velocimex_cli.wire.errors import NotFound

    try:
        revoked = KeyAccess(opts.data_dir).revoke(opts.key)
    except NotFound:
        raise CommandError(
            f"no key {opts.key!r}; see `vmx engine keys list`",
            exit_code=ExitCode.NOT_FOUND,
            code="NOT_FOUND",
        ) from None
    if revoked:
        factory.io.status(f"Key {opts.key} revoked.")
    else:
        factory.io.status(f"Key {opts.key} was already revoked.")
    return None


@keys_app.command("revoke")
def keys_revoke_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to revoke.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an API key; a running server refuses it at once."""
    execute(ctx, run_keys_revoke, KeysRevokeOptions(key=key, data_dir=data_dir))


@dataclass
class KeysUpdateOptions:
    key: str
    permissions: str | None
    expires_in: str | None
    no_expiry: bool
    data_dir: Path | None
    output: str | None


def run_keys_update(factory: Factory, opts: KeysUpdateOptions) -> int | None:
    from velocimex_cli.cli.engine_key_access import KeyAccess
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.errors import NotFound

    if opts.expires_in is not None and opts.no_expiry:
        raise CommandError("--expires-in and --no-expiry contradict each other: give one")
    if opts.permissions is None and opts.expires_in is None and not opts.no_expiry:
        raise CommandError("nothing to change: give --permissions, --expires-in or --no-expiry")
    lifetime = _lifetime(opts.expires_in)
    change_expiry = opts.expires_in is not None or opts.no_expiry
    try:
        key = KeyAccess(opts.data_dir).update(opts.key, opts.permissions, (change_expiry, lifetime))
    except NotFound:
        raise _no_active_key(opts.key) from None
    record = _key_record(key)

    emit(factory.io, record, factory.output_format(opts.output), _key_detail)
    factory.io.status(f"Key {record['api_key']} changed; a running engine applies it at once.")
    return None


@keys_app.command("update")
def keys_update_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to change.")],
    permissions: Annotated[
        str | None,
        typer.Option(help="Comma-separated: read, trade (replaces the key's).", show_default=False),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", help="New lifetime from now, e.g. 90d, 12h.", show_default=False
        ),
    ] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="The key never expires.")] = False,
    data_dir: DataDirOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Change a key's permissions or expiry (its secret stays)."""
    fmt = output_format(json, output)
    opts = KeysUpdateOptions(
        key=key,
        permissions=permissions,
        expires_in=expires_in,
        no_expiry=no_expiry,
        data_dir=data_dir,
        output=fmt,
    )
    execute(ctx, run_keys_update, opts, output=fmt)


@dataclass
class KeysRotateOptions:
    key: str
    grace: str | None
    data_dir: Path | None
    output: str | None


def run_keys_rotate(factory: Factory, opts: KeysRotateOptions) -> int | None:
    from velocimex_cli.cli.durations import parse_duration
    from velocimex_cli.cli.engine_key_access import KeyAccess
    from velocimex_cli.engine.keys import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.errors import NotFound

    grace = DEFAULT_GRACE_SECONDS
    if opts.grace is not None:
        grace = parse_duration(opts.grace, "--grace", maximum=MAX_GRACE_SECONDS, bare_seconds=True)
    try:
        rotated = KeyAccess(opts.data_dir).rotate(opts.key, grace)
    except NotFound:
        raise _no_active_key(opts.key) from None
    record = {
        "api_key": rotated["api_key"],
        "api_secret": rotated["api_secret"],
        "account": rotated["account"],
        "previous_until": rotated.get("previous_until"),
        "expires_at": rotated.get("expires_at"),
    }

    emit(factory.io, record, factory.output_format(opts.output), rotated_key_detail)
    until = record["previous_until"]
    factory.io.status(
        f"Key {record['api_key']} has a new secret, shown only now."
        + (
            f" The old one works until {until}: put the new one in place before then"
            " (e.g. `vmx auth login`)."
            if until
            else " The old one no longer works."
        )
    )
    return None


@keys_app.command("rotate")
def keys_rotate_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The API key to give a new secret.")],
    grace: Annotated[
        str | None,
        typer.Option(
            "--grace",
            help="How long the old secret keeps working: seconds, or 30m, 12h, 2d"
            " (default 3600 seconds; 0 stops it at once).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Give a key a new secret (same key id); the old one works for the grace period.

    A key with a lifetime is renewed: it then expires that lifetime after the rotation.
    """
    fmt = output_format(json, output)
    execute(
        ctx,
        run_keys_rotate,
        KeysRotateOptions(key=key, grace=grace, data_dir=data_dir, output=fmt),
        output=fmt,
    )
