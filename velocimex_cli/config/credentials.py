"""API credentials in their own file: mode 0600 inside a 0700 directory, whatever the umask.

A credentials file that the group or others can read is refused, with the chmod that fixes it.
The secret is held in a `Secret` whose repr and str are masked, so it cannot leak into logs,
tracebacks or `--verbose` dumps by accident.

Writes are atomic and serialised: `store` and `remove` read, change and rewrite the file under
an exclusive lock (`credentials.lock` in the state directory: two commands never lose each
other's change), and the new text goes to a temporary 0600 file that is fsync'd, renamed over
the old one, and the directory fsync'd. A crash at any point leaves the old file or the new
one, whole.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velocimex_cli import paths


class CredentialsError(Exception):
    """Credentials that are missing or unsafe; the message says what to do."""


class Secret:
    """A string that never shows itself: repr/str are masked; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    def __str__(self) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def mask_key(key: str) -> str:
    """An API key id shown to people: enough to recognise it, not enough to use it."""
    if len(key) <= 8:
        return key[:2] + "…"
    return f"{key[:4]}…{key[-4:]}"


@dataclass(frozen=True)
class Credential:
    api_key: str
    api_secret: Secret
    api_url: str | None = None
    permissions: tuple[str, ...] | None = None


def credentials_dir() -> Path:
    return paths.config_dir() / "credentials"


def credentials_file() -> Path:
    return credentials_dir() / "credentials.toml"


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CredentialsError(
            f"refusing to read {path}: it is readable by others (mode {mode:04o}). "
            f"Fix it with: chmod 600 {path}"
        )


def load_all(path: Path | None = None) -> dict[str, Credential]:
    path = path or credentials_file()
    if not path.exists():
        return {}
    _check_private(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CredentialsError(
            f"{path} is not valid TOML; fix it, or move it away (`mv {path} {path}.broken`)"
            " and log in again with `vmx auth login` (the local profile's key is provisioned"
            " again by the next command)"
        ) from exc
    result: dict[str, Credential] = {}
    for name, body in data.items():
        if isinstance(body, dict) and body.get("api_key") and body.get("api_secret"):
            result[name] = Credential(
                api_key=str(body["api_key"]),
                api_secret=Secret(str(body["api_secret"])),
                api_url=str(body["api_url"]) if body.get("api_url") else None,
                permissions=tuple(body["permissions"]) if body.get("permissions") else None,
            )
    return result


def load(profile: str, path: Path | None = None) -> Credential | None:
    return load_all(path).get(profile)


LOCK_NAME = "credentials.lock"


@contextlib.contextmanager
def _changing(path: Path) -> Iterator[None]:
    """One change of the credentials file at a time (across processes); the lock file lives
    in the state directory with vmx's other locks."""
    from velocimex_cli import file_lock

    with file_lock.held(paths.state_dir() / LOCK_NAME):
        yield


def _write_private(path: Path, text: str) -> None:
    # Temp file (0600, fsync'd) renamed over the old one: readers see the old or the new file.
    paths.write_private(path, text)
    # The rename is durable only once the directory is: fsync it too.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    # A temporary file left by a writer that was killed before its rename holds secrets: drop it.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def save_all(credentials: dict[str, Credential], path: Path | None = None) -> Path:
    import tomli_w

    path = path or credentials_file()
    data = {}
    for name, cred in credentials.items():
        body: dict[str, Any] = {"api_key": cred.api_key, "api_secret": cred.api_secret.reveal()}
        if cred.api_url:
            body["api_url"] = cred.api_url
        if cred.permissions:
            body["permissions"] = list(cred.permissions)
        data[name] = body
    _write_private(path, tomli_w.dumps(data))
    return path


def store(profile: str, credential: Credential, path: Path | None = None) -> Path:
    path = path or credentials_file()
    paths.private_dir(path.parent)
    with _changing(path):
        existing = load_all(path)
        existing[profile] = credential
        return save_all(existing, path)


def remove(profile: str, path: Path | None = None) -> bool:
    path = path or credentials_file()
    if not path.exists():
        return False
    with _changing(path):
        existing = load_all(path)
        if profile not in existing:
            return False
        del existing[profile]
        save_all(existing, path)
    return True
