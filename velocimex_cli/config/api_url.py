"""Checking an API base URL before anything is sent to it.

A URL that cannot name an HTTP server (`notaurl`, `ftp://host`, `http://host:99999`) is a
mistake in the command line, the environment or the profile, not a server that "cannot be
reached": it is refused with exit 2, naming where the URL came from and what a good one is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from velocimex_cli.config.settings import ConfigError

_SOURCES = {
    "flag": "--api-url",
    "env": "VMX_API_URL",
    "profile": "the profile's api_url",
}
_EXAMPLE = "e.g. https://api.velocimex.example or http://127.0.0.1:7878"


def checked_api_url(url: str, source: str = "flag") -> str:
    """`url` without trailing slashes, or ConfigError saying what is wrong with it."""
    where = _SOURCES.get(source, source)
    text = url.strip()
    problem = _problem(text)
    if problem is not None:
        raise ConfigError(
            f"{where} {url!r} is not an API URL: {problem}; give an http:// or https:// "
            f"base URL ({_EXAMPLE})"
        )
    return text.rstrip("/")


def _problem(text: str) -> str | None:
    if not text.isascii() or any(ch.isspace() or not ch.isprintable() for ch in text):
        return "it contains spaces, control or non-ASCII characters"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number or out of 0-65535
        return str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return "it does not start with http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if port == 0:
        return "port 0 is not a port a server listens on"
    if parts.query or parts.fragment:
        return "a base URL has no ?query or #fragment"
    return None
