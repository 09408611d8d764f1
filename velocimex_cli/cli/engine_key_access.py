"""Where `vmx engine keys` reads and changes an engine's API keys: through the running engine's
loopback key endpoint when it is the engine asked for (required for an in-memory engine),
else in the data directory's database, auditing those changes itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.engine_options import resolved_data_dir
from velocimex_cli.wire.errors import ExitCode


class KeyAccess:
    """Keys of one engine: through the running engine's local key endpoint when it is the one
    asked for (required for an in-memory engine), else in the data directory's database.

    Changes made on the database directly are written to the data directory's audit log as
    made by "cli"; the engine writes those made through its endpoint ("local admin").
    """

    def __init__(self, data_dir: Path | None) -> None:
        from velocimex_cli.local import launcher

        self.engine = None
        self.data_dir = resolved_data_dir(data_dir)
        running = launcher.status()
        if running is not None and running.admin_token:  # (an older engine has no endpoint)
            serves_default = data_dir is None and running.data_dir in (None, str(self.data_dir))
            if serves_default or running.data_dir == str(self.data_dir):
                self.engine = running

    def _audit(self, store: Any, action: str, target: str, details: dict[str, Any]) -> None:
        from velocimex_cli.engine import audit

        actor = audit.Actor(audit.CLI)
        audit.record(self.data_dir, actor, action, target, store.now(), details)

    def create(
        self, account: str, name: str, permissions: str, ip: list[str], expires_in: int | None
    ) -> dict[str, Any]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            perms = [p.strip() for p in permissions.split(",")]
            body: dict[str, Any] = {
                "account": account, "name": name, "permissions": perms, "ip_allow": ip,
            }  # fmt: skip
            if expires_in is not None:
                body["expires_in"] = expires_in
            return local_keys.admin_request(self.engine, "POST", local_keys.LOCAL_KEYS_PATH, body)
        from velocimex_cli.engine.api.local_keys import created_details

        store = _key_store(self.data_dir)
        try:
            made = store.create(account, name, permissions, ip, expires_in)
            self._audit(store, "key.create", made.api_key, created_details(made.info))
        finally:
            store.close()
        return {**made.info.to_wire(), "api_secret": made.api_secret}

    def list(self) -> list[dict[str, Any]]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            keys = local_keys.admin_request(self.engine, "GET", local_keys.LOCAL_KEYS_PATH)
            return list(keys.get("keys") or [])
        store = _key_store(self.data_dir)
        try:
            return [info.to_wire() for info in store.list()]
        finally:
            store.close()

    def revoke(self, key: str) -> bool:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            return local_keys.revoke_key(self.engine, key)
        from velocimex_cli.wire.errors import NotFound

        store = _key_store(self.data_dir)
        try:
            if store.get(key) is None:
                raise NotFound(f"No API key {key}", {"api_key": key})
            revoked = bool(store.revoke(key))
            if revoked:
                self._audit(store, "key.revoke", key, {})
            return revoked
        finally:
            store.close()

    def update(
        self, key: str, permissions: str | None, expiry: tuple[bool, int | None]
    ) -> dict[str, Any]:
        """Change a key's permissions and/or expiry (`expiry`: (change it?, lifetime))."""
        change_expiry, lifetime = expiry
        if self.engine is not None:
            from urllib.parse import quote

            from velocimex_cli.local import keys as local_keys

            body: dict[str, Any] = {}
            if permissions is not None:
                body["permissions"] = [p.strip() for p in permissions.split(",")]
            if change_expiry:
                body["expires_in"] = lifetime
            path = f"{local_keys.LOCAL_KEYS_PATH}/{quote(key, safe='')}"
            return local_keys.admin_request(self.engine, "PATCH", path, body)
        store = _key_store(self.data_dir)
        try:
            info = store.get(key)
            if info is None or not info.active:
                from velocimex_cli.wire.errors import NotFound

                raise NotFound(f"No active API key {key}", {"api_key": key})
            if permissions is not None:
                before = list(info.permissions)
                info = store.set_permissions(key, permissions)
                details = {"permissions": list(info.permissions), "before": before}
                self._audit(store, "key.permissions", key, details)
            if change_expiry:
                info = store.set_expiry(key, lifetime)
                self._audit(store, "key.expiry", key, {"expires_at": info.expires_at})
            return dict(info.to_wire())
        finally:
            store.close()

    def rotate(self, key: str, grace: int) -> dict[str, Any]:
        if self.engine is not None:
            from velocimex_cli.local import keys as local_keys

            return local_keys.rotate_key(self.engine, key, grace)
        store = _key_store(self.data_dir)
        try:
            rotated = store.rotate(key, grace)
            info = rotated.info
            details = {"grace_seconds": grace, "previous_until": info.previous_until,
                       "expires_at": info.expires_at}  # fmt: skip
            self._audit(store, "key.rotate", key, details)
        finally:
            store.close()
        return {**info.to_wire(), "api_secret": rotated.api_secret}


def _key_store(data_dir: Path) -> Any:
    """The data directory's key store; a database it cannot use is a clear error, exit 1."""
    from velocimex_cli.engine.keys import KeyStore
    from velocimex_cli.engine.store import StoreError

    try:
        return KeyStore.open(data_dir)
    except StoreError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.UNEXPECTED, code="STORE_ERROR") from None
