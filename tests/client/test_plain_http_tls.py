"""A client of a plain-http API (the local engine's usual URL) loads no CA bundle: it never
opens TLS, and loading one costs a REST command ~100 ms of its start-up. Should it ever be
sent to https, the context it has trusts nothing."""

from __future__ import annotations

import ssl
from typing import Any, NoReturn

import pytest

from velocimex_cli.client import AsyncClient, Client
from velocimex_cli.client.tls import trusting_nothing


def _no_ca_bundle(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("a CA bundle was loaded for a plain-http client")


@pytest.mark.parametrize("make", [Client, AsyncClient])
def test_a_plain_http_client_loads_no_ca_bundle(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssl, "create_default_context", _no_ca_bundle)
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", _no_ca_bundle)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", _no_ca_bundle)
    client = make("http://127.0.0.1:9")
    assert client.verify is None  # streams keep choosing their own (wss: the system CAs)


def test_the_context_it_gets_instead_trusts_no_certificate() -> None:
    context = trusting_nothing()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() == []
