"""Client-side failures that are not API errors: no server to talk to, no credentials to send."""

from __future__ import annotations


class Unreachable(Exception):
    """The API could not be reached (connection refused, DNS, timeout). Exit code 9."""

    def __init__(self, url: str, reason: str, hint: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.hint = (
            hint or "check the URL, your network, or start the engine with `vmx engine start`"
        )
        super().__init__(f"cannot reach the API at {url}: {reason}; {self.hint}")


class MissingCredentials(Exception):
    """No API key/secret for the chosen profile. Exit code 3."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        super().__init__(
            f"no API credentials for profile {profile!r}; run `vmx auth login --profile {profile}` "
            "or set VMX_API_KEY and VMX_API_SECRET"
        )
