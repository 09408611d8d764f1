"""API-key authentication as an httpx Auth flow: headers added per request, secret never shown."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from velocimex_cli.config.credentials import Secret, mask_key


class ApiKeyAuth(httpx.Auth):
    """Adds X-API-Key and X-API-Secret to every request. repr() masks both."""

    def __init__(self, api_key: str, api_secret: str | Secret) -> None:
        self.api_key = api_key
        self._secret = api_secret if isinstance(api_secret, Secret) else Secret(api_secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-API-Key"] = self.api_key
        request.headers["X-API-Secret"] = self._secret.reveal()
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(api_key={mask_key(self.api_key)!r}, api_secret='****')"

    __str__ = __repr__
