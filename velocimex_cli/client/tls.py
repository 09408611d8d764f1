"""Which certificates vmx trusts for https/wss, and what it says when one is refused.

- `verified_context(None)`: the system's CA store (OpenSSL's default paths, so SSL_CERT_FILE and
  SSL_CERT_DIR apply), host name checked. The REST client (httpx) and the stream client
  (websockets) use the same context, so both trust the same servers.
- `verified_context(FILE)`: only the CAs in FILE (a private CA: `--ca-cert`, VMX_CA_CERT or the
  profile's `ca_cert`), host name still checked.
- `trusting_nothing()`: for a client of a plain-http API, which never opens TLS (it talks only to
  its base URL and follows no redirects); should it ever, no certificate passes. httpx would
  otherwise load a CA bundle for it at construction, which costs a REST command ~100 ms.
- `pinned_context(CERT)`: only the first certificate of CERT itself, for the engine this machine
  recorded in its state directory (the launcher and the local profile reach it on a loopback
  address, which the certificate may not name, so the host name is not checked; trusting that one
  certificate and nothing that issued it keeps a certificate from another server out).

There is no way to turn verification off, and nothing here ever retries over plain HTTP.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from velocimex_cli.config.settings import ConfigError

PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_END = "-----END CERTIFICATE-----"
MAX_CA_FILE_BYTES = 4 * 1024 * 1024  # a CA bundle is far smaller; this is not one

# OpenSSL's X509_V_ERR_* codes, grouped by what the person can do about them.
_UNKNOWN_CA = {2, 18, 19, 20, 21, 27, 28}
_EXPIRED = {10, 12}
_NOT_YET_VALID = {9, 11}
_NAME_MISMATCH = {62, 63, 64}


class CaCertError(ConfigError):
    """A CA certificate file that cannot be used (missing, unreadable, not PEM). Exit code 2."""


def read_ca_file(path: str | Path, where: str) -> str:
    """The PEM text of a CA file, or CaCertError naming it and where it was given."""
    file = Path(path).expanduser()
    try:
        with open(file, "rb") as handle:
            raw = handle.read(MAX_CA_FILE_BYTES + 1)
    except OSError as exc:
        raise CaCertError(
            f"cannot read the CA certificate {file} ({where}): {exc.strerror or exc}; give the"
            " PEM file of the CA that issued the server's certificate"
        ) from None
    text = raw.decode("ascii", errors="replace")
    if len(raw) > MAX_CA_FILE_BYTES or PEM_BEGIN not in text:
        raise CaCertError(
            f"the CA certificate {file} ({where}) holds no PEM certificate (a file starting"
            f" with {PEM_BEGIN}); give the PEM file of the CA that issued the server's certificate"
        )
    return text


def verified_context(ca_file: str | Path | None = None, where: str = "--ca-cert") -> ssl.SSLContext:
    """Verify servers against the system CAs, or only the CAs in `ca_file`."""
    if ca_file is None:
        return ssl.create_default_context()
    text = read_ca_file(ca_file, where)
    try:
        # Given CA data, the default context loads only it: a private CA replaces the system's.
        context = ssl.create_default_context(cadata=text)
    except ssl.SSLError as exc:
        raise CaCertError(
            f"the CA certificate {Path(ca_file).expanduser()} ({where}) cannot be loaded:"
            f" {exc.reason or exc}; give the PEM file of the CA that issued the server's"
            " certificate"
        ) from None
    return context


def trusting_nothing() -> ssl.SSLContext:
    """A client context with verification on and no trust anchor: every handshake fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host name checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def first_certificate(text: str) -> str | None:
    start = text.find(PEM_BEGIN)
    end = text.find(PEM_END, start)
    if start < 0 or end < 0:
        return None
    return text[start : end + len(PEM_END)] + "\n"


def pinned_context(cert_file: str | Path) -> ssl.SSLContext:
    """Trust exactly the certificate a local engine serves (the first one of its file)."""
    text = read_ca_file(cert_file, "the certificate the local engine serves")
    leaf = first_certificate(text)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the leaf is the trust anchor
    try:
        context.load_verify_locations(cadata=leaf)
    except ssl.SSLError as exc:
        raise CaCertError(
            f"the certificate the local engine serves ({cert_file}) cannot be loaded:"
            f" {exc.reason or exc}; restart it with a valid --tls-cert"
        ) from None
    return context


def certificate_failure(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind `exc` (httpx and websockets wrap it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def explain_certificate(host: str, error: ssl.SSLCertVerificationError) -> tuple[str, str]:
    """(why the certificate of `host` was refused, what to do), for people."""
    code = getattr(error, "verify_code", None)
    detail = str(getattr(error, "verify_message", "") or error.reason or error)
    if code in _UNKNOWN_CA:
        return (
            f"the certificate of {host} is not trusted: unknown CA ({detail}; self-signed or"
            " issued by a CA this machine does not trust)",
            "give vmx the CA that issued it: --ca-cert FILE, VMX_CA_CERT=FILE, or store it in"
            " the profile with `vmx auth login --ca-cert FILE`; nothing was sent to the server",
        )
    if code in _EXPIRED:
        return (
            f"the certificate of {host} has expired ({detail})",
            "the server must be given a current certificate; nothing was sent to the server",
        )
    if code in _NOT_YET_VALID:
        return (
            f"the certificate of {host} is not valid yet ({detail}); check this machine's clock",
            "nothing was sent to the server",
        )
    if code in _NAME_MISMATCH:
        return (
            f"the certificate of {host} does not name {host} (name mismatch: {detail})",
            "use the host name the certificate was issued for in the URL, or give the server a"
            " certificate that names this host; nothing was sent to the server",
        )
    return (
        f"the certificate of {host} was refused ({detail})",
        "check the server's certificate and the CA given with --ca-cert; nothing was sent to"
        " the server",
    )
