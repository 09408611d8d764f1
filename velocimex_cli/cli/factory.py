"""Lazily built services for commands (after gh's factory): settings, profile, I/O, API client.

Nothing heavy is imported until a command asks for it, and tests swap the whole factory
(`runner.invoke(app, args, obj=Factory(...))`) to inject I/O streams or an httpx transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from velocimex_cli.config import settings as settings_mod
from velocimex_cli.config.profiles import Profile, resolve
from velocimex_cli.config.settings import Settings
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    import ssl

    import httpx

    from velocimex_cli.client.retry import RetryPolicy
    from velocimex_cli.client.synchronous import Client

# The local profile's key: the person who owns VMX_HOME may do everything on their own engine,
# adding strategy code included. A key provisioned by an older vmx without one of these is
# provisioned again the first time the engine refuses it that permission (execution.execute).
LOCAL_PERMISSIONS = ("read", "trade", "strategies")


class Factory:
    def __init__(
        self,
        io: IOStreams | None = None,
        *,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: Any = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.io = io or IOStreams()
        self.env = env
        self.transport = transport
        self.retry = retry
        self.timeout = timeout
        self.sleep = sleep
        # How long a placement may wait for rate limits: `order place --max-wait SECONDS`
        # (None: the `order_max_wait` setting) and `--wait` (as long as the API asks).
        self.order_max_wait: float | None = None
        self.order_wait_unbounded = False
        self.flag_profile: str | None = None
        self.flag_api_url: str | None = None
        self.flag_ca_cert: str | None = None
        self.verbose = False
        self._settings: Settings | None = None
        self._profile: Profile | None = None
        self._client: Client | None = None
        # Whether the client built uses the local profile's provisioned key: only then may a
        # refused key be replaced by a fresh one (see execution.execute).
        self.local_key_in_use = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_mod.load()
        return self._settings

    def output_format(self, asked: str | None) -> str:
        return asked or self.settings.get("output")

    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = resolve(
                self.settings,
                flag_profile=self.flag_profile,
                flag_api_url=self.flag_api_url,
                flag_ca_cert=self.flag_ca_cert,
                env=self.env,
            )
        return self._profile

    def _embedded_engine(self) -> Any:
        """The running local engine (engine_record.EngineStatus), started in the background if none
        runs, or if the recorded one is gone (killed, crashed)."""
        from velocimex_cli import engine_record
        from velocimex_cli.local import launcher

        recorded = engine_record.read_state()
        status = launcher.status()
        if status is None:

            def announce() -> None:
                if recorded is not None:
                    self.io.status(
                        f"The local engine (pid {recorded.pid} at {recorded.url}) is gone;"
                        " starting a fresh one on the same data."
                    )
                else:
                    self.io.status(
                        "Starting the local engine in the background (vmx engine start)…"
                    )

            try:
                status = launcher.ensure_running(
                    extra_args=launcher.auto_start_args(self.settings), on_start=announce
                )
            except (launcher.MirrorSettingError, launcher.EngineStartError) as exc:
                from velocimex_cli.cli.command_error import CommandError

                setting = isinstance(exc, launcher.MirrorSettingError)  # the engine_mirror one
                raise CommandError(
                    f"the local engine could not start: {exc}",
                    exit_code=ExitCode.USAGE if setting else ExitCode.UNEXPECTED,
                    code="MIRROR_SPEC" if setting else "ENGINE_START",
                ) from None
            self.io.status(f"Local engine running at {status.url} (pid {status.pid}).")
        return status

    def _embedded_url(self) -> str:
        return str(self._embedded_engine().url)

    def provision_local_key(self, replacing: Profile | None = None) -> Profile:
        """Give the local profile an API key from the embedded engine, and store it.

        Serialised by a lock: commands started together provision one key, the first one;
        the others find it stored when their turn comes. `replacing` is a profile whose key the
        engine refused: a different stored key (provisioned meanwhile) is taken as is.
        """
        from velocimex_cli.config import credentials
        from velocimex_cli.config.credentials import Credential, Secret
        from velocimex_cli.local import keys as local_keys
        from velocimex_cli.local import launcher

        name = self.profile().name
        with launcher.provision_lock():
            stored = credentials.load(name)
            refused = replacing.api_key if replacing is not None else None
            if stored is not None and stored.api_url is None and stored.api_key != refused:
                self._profile = None
                return self.profile()
            engine = self._embedded_engine()
            try:
                key, secret = local_keys.provision_key(engine, permissions=LOCAL_PERMISSIONS)
            except local_keys.EngineAdminError as exc:
                from velocimex_cli.cli.command_error import CommandError

                raise CommandError(
                    str(exc), exit_code=ExitCode.UNEXPECTED, code="ENGINE_TOO_OLD"
                ) from None
            path = credentials.store(
                name, Credential(key, Secret(secret), permissions=LOCAL_PERMISSIONS)
            )
            if refused is not None:
                self._revoke_quietly(engine, refused)
        self.io.status(f"Provisioned an API key for the local profile (saved in {path}).")
        self._profile = None
        return self.profile()

    def local_key_predates(self, permission: object) -> bool:
        """Whether the engine refused the local profile's provisioned key a permission that
        key gets now but did not get when it was provisioned (by an older vmx)."""
        if not self.local_key_in_use or permission not in LOCAL_PERMISSIONS:
            return False
        from velocimex_cli.config import credentials

        stored = credentials.load(self.profile().name)
        return stored is not None and permission not in (stored.permissions or ())

    @staticmethod
    def _revoke_quietly(engine: Any, api_key: str) -> None:
        """Revoke a key the engine refused (best effort: it usually no longer exists)."""
        import contextlib

        from velocimex_cli.local import keys as local_keys

        with contextlib.suppress(Exception):
            local_keys.revoke_key(engine, api_key)

    def retry_policy(self) -> RetryPolicy:
        """The injected retry policy (or the default), with the order wait bound applied."""
        import dataclasses

        from velocimex_cli.client.retry import RetryPolicy

        policy = self.retry if self.retry is not None else RetryPolicy()
        if self.order_wait_unbounded:
            return dataclasses.replace(policy, order_wait=None)
        if self.order_max_wait is not None:
            return dataclasses.replace(policy, order_wait=self.order_max_wait)
        return policy

    def tls_context(
        self,
        url: str,
        ca_cert: str | None = None,
        origin: str = "--ca-cert",
        embedded: bool = False,
    ) -> ssl.SSLContext | None:
        """What an https `url` is verified against (None: the system's CAs): the CA file
        `ca_cert` (from `origin`, for messages), else, for the embedded engine (the one this
        machine recorded in its state directory), the certificate it serves (client/tls.py).
        An --api-url is verified like any other server's, even when it names that engine."""
        if not url.lower().startswith("https://"):
            return None
        from velocimex_cli.client import tls

        if ca_cert is not None:
            return tls.verified_context(ca_cert, origin)
        if not embedded:
            return None
        from velocimex_cli import engine_record

        engine = engine_record.read_state()
        if engine is not None and engine.url == url and engine.tls_cert:
            return tls.pinned_context(engine.tls_cert)
        return None

    def _client_for(
        self, url: str, api_key: Any, api_secret: Any, verify: ssl.SSLContext | None
    ) -> Client:
        from velocimex_cli.client.synchronous import Client
        from velocimex_cli.output.waits import WaitNotices

        notices = WaitNotices(self.io, self.sleep)
        return Client(
            url,
            api_key,
            api_secret,
            timeout=self.timeout,
            retry=self.retry_policy(),
            transport=self.transport,
            sleep=notices.sleep,
            on_wait=notices.announce,
            log=self.io.status if self.verbose else None,
            verify=verify,
        )

    def client(self) -> Client:
        """The API client for the chosen profile; starts the embedded engine if it must."""
        if self._client is not None:
            return self._client
        from velocimex_cli.client.errors import MissingCredentials
        from velocimex_cli.config.credentials import CredentialsError

        profile = self.profile()
        if profile.withheld is not None:
            raise CredentialsError(profile.withheld)
        url = profile.api_url
        if profile.embedded:
            url = self._embedded_url()
            if not profile.has_credentials:
                profile = self.provision_local_key()
        if not profile.has_credentials:
            raise MissingCredentials(profile.name)
        self.local_key_in_use = profile.embedded and profile.key_source == "credentials"
        from velocimex_cli.config.profiles import ca_cert_origin

        verify = self.tls_context(
            str(url), profile.ca_cert, ca_cert_origin(profile), profile.embedded
        )
        self._client = self._client_for(str(url), profile.api_key, profile.api_secret, verify)
        return self._client

    def lookup_profile(self) -> Profile | None:
        """The profile a side-effect-free look-up is for (shell completion); None when it has
        no credentials (the local key is provisioned by a command, never by a look-up) or
        its key is withheld from the URL."""
        profile = self.profile()
        if profile.withheld is not None or not profile.has_credentials:
            return None
        return profile

    def lookup_client(self, timeout: float) -> Client | None:
        """A client for look-ups that must have no side effects (shell completion): unlike
        `client()` it never starts the local engine or provisions a key, never prints, never
        retries or waits out a rate limit, and gives up on a request after `timeout` seconds.
        None when there is nothing to ask: no `lookup_profile()`, or the local profile's
        engine is not running."""
        profile = self.lookup_profile()
        if profile is None:
            return None
        url = profile.api_url
        if profile.embedded:
            from velocimex_cli import engine_record

            engine = engine_record.read_state()
            if engine is None:
                return None
            url = engine.url
        from velocimex_cli.client.retry import RetryPolicy
        from velocimex_cli.client.synchronous import Client
        from velocimex_cli.config.profiles import ca_cert_origin

        verify = self.tls_context(
            str(url), profile.ca_cert, ca_cert_origin(profile), profile.embedded
        )
        once = RetryPolicy(attempts=1, max_rate_limit_wait=0.0, rate_limit_retries=0)
        return Client(
            str(url),
            profile.api_key,
            profile.api_secret,
            timeout=timeout,
            retry=once,
            transport=self.transport,
            verify=verify,
        )

    def client_for(
        self,
        url: str,
        api_key: str,
        api_secret: Any,
        ca_cert: str | None = None,
        origin: str = "--ca-cert",
        embedded: bool = False,
    ) -> Client:
        """A one-off client (auth login verifies a key before saving it)."""
        verify = self.tls_context(url, ca_cert, origin, embedded)
        return self._client_for(url, api_key, api_secret, verify)

    def reset_client(self) -> None:
        self.close()
        self._profile = None
        self.local_key_in_use = False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
