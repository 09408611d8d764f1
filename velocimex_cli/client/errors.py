"""Client-side failures that are not API errors: no server to talk to, no credentials to send.

`Unreachable`, the base of the first kind, is in `wire.errors`: the engine raises it too."""

from __future__ import annotations

from velocimex_cli.wire.errors import Unreachable


class NotAnApi(Unreachable):
    """The server answered, but not as a Velocimex API does (a 404 page, HTML). Exit code 9."""

    def __init__(self, url: str, status: int, method: str, path: str) -> None:
        self.status = status
        super().__init__(
            url,
            f"the server answered HTTP {status} to {method} {path} without a Velocimex error: "
            "it is not a Velocimex API",
            "check the URL (--api-url, VMX_API_URL or the profile's api_url); "
            "a Velocimex API answers under /v1",
        )


class MissingCredentials(Exception):
    """No API key/secret for the chosen profile. Exit code 3."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        super().__init__(
            f"no API credentials for profile {profile!r}; run `vmx auth login --profile {profile}` "
            "or set VMX_API_KEY and VMX_API_SECRET"
        )


class CertificateError(Unreachable):
    """The server's TLS certificate was refused (unknown CA, expired, name mismatch): nothing
    was sent to it, and nothing is retried over plain HTTP. Exit code 9."""

    def __init__(self, url: str, problem: str, hint: str) -> None:
        super().__init__(url, problem, hint)


def certificate_error(url: str, exc: BaseException) -> CertificateError | None:
    """A CertificateError for `url` if a certificate verification failure is behind `exc`."""
    from urllib.parse import urlsplit

    from velocimex_cli.client.tls import certificate_failure, explain_certificate

    failure = certificate_failure(exc)
    if failure is None:
        return None
    host = urlsplit(url).hostname or url
    problem, hint = explain_certificate(host, failure)
    return CertificateError(url, problem, hint)
