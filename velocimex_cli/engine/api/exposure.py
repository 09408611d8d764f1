"""Who can reach a served engine, over what, and with which keys (`vmx engine serve`).

- An address outside 127.0.0.0/8 and ::1 (0.0.0.0 and :: included) is reachable from the
  network: serving there needs TLS (`--tls-cert FILE --tls-key FILE`) unless the person says
  `--insecure-http`, because every request carries an API key and its secret.
- The certificate and key are checked before anything binds or opens, so a bad file is one
  clear line naming it, not a traceback from inside uvicorn.
- At start the server says on stderr who can reach it and what they can do (`reach_report`).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from velocimex_cli.engine.keys import KeyInfo

MAX_PEM_BYTES = 1024 * 1024  # a certificate chain or a key is a few KiB
WILDCARDS = ("0.0.0.0", "::")


class TlsFileError(Exception):
    """A certificate or key that cannot be served; the message names the file and the fix."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine (127.0.0.0/8, ::1, localhost).

    A name is loopback only if every address it resolves to is (a name that does not resolve
    is not: the bind fails on it anyway)."""
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return _loopback_address(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        _loopback_address(ipaddress.ip_address(str(a).split("%")[0])) for a in addresses
    )


def _loopback_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _read_pem(path: Path, what: str) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise TlsFileError(f"the TLS {what} {path} is a directory; give the PEM file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except TlsFileError:
        raise
    except OSError as exc:
        raise TlsFileError(
            f"cannot read the TLS {what} {path}: {exc.strerror or exc}; give a PEM file you can"
            " read"
        ) from None
    if len(data) > MAX_PEM_BYTES:
        raise TlsFileError(f"the TLS {what} {path} is larger than 1 MiB: it is not a PEM {what}")
    return data


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    # OpenSSL would otherwise prompt on the terminal for an encrypted key's passphrase.
    raise _EncryptedKey


def check_tls_files(cert: Path, key: Path) -> TlsFiles:
    """Both files readable, the certificate PEM, the key PEM, unencrypted, and the key the
    certificate's; TlsFileError saying which file is wrong and how otherwise."""
    cert, key = cert.expanduser().absolute(), key.expanduser().absolute()
    cert_pem = _read_pem(cert, "certificate")
    key_pem = _read_pem(key, "key")
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise TlsFileError(
            f"the TLS certificate {cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----);"
            " --tls-cert takes the server's certificate (and its chain) in PEM"
        )
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cadata=cert_pem.decode("ascii", errors="replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise TlsFileError(
            f"the TLS certificate {cert} cannot be read as a PEM certificate ({_reason(exc)})"
        ) from None
    if b"PRIVATE KEY-----" not in key_pem:
        raise TlsFileError(
            f"the TLS key {key} holds no PEM private key (-----BEGIN PRIVATE KEY-----);"
            " --tls-key takes the certificate's private key in PEM"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key), password=_no_password)
    except _EncryptedKey:
        raise TlsFileError(
            f"the TLS key {key} is encrypted with a passphrase; give an unencrypted key file"
            " readable only by you (e.g. `openssl pkey -in KEY -out plain.key`, then"
            " `chmod 600 plain.key`)"
        ) from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TlsFileError(
                f"the TLS key {key} does not match the certificate {cert}: give the key the"
                " certificate was issued for"
            ) from None
        raise TlsFileError(
            f"the TLS key {key} cannot be loaded ({_reason(exc)}); give the certificate's"
            " private key in PEM"
        ) from None
    return TlsFiles(cert, key)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def key_file_warning(key: Path) -> str | None:
    """A warning when the private key is readable by the group or others."""
    try:
        mode = stat.S_IMODE(key.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"warning: the TLS key {key} is readable by others (mode {mode:04o}); `chmod 600 {key}`"
        )
    return None


# ---------------------------------------------------------------- what the engine says at start


def summarise_keys(keys: Sequence[KeyInfo]) -> str:
    """How many active keys, with which permissions; never a secret, never a key id."""
    active = [k for k in keys if k.active]
    if not active:
        return (
            "API keys: none active yet; create one with `vmx engine keys create --account NAME`"
            " (this machine's vmx gets its own through the local key endpoint)"
        )
    kinds = Counter("+".join(k.permissions) or "none" for k in active)
    shown = ", ".join(f"{n} {perms}" for perms, n in sorted(kinds.items()))
    limited = sum(1 for k in active if k.ip_allow)
    accounts = len({k.account for k in active})
    limit_note = f"; {limited} limited to IP ranges" if limited else ""
    plural = "s" if len(active) != 1 else ""
    return (
        f"API keys: {len(active)} active key{plural} on {accounts} account"
        f"{'s' if accounts != 1 else ''} ({shown}{limit_note}); each reads (and trades, with"
        " trade) its own account only. `vmx engine keys list` shows them"
    )


def reach_report(host: str, url: str, tls: TlsFiles | None, keys: Sequence[KeyInfo]) -> list[str]:
    """Lines for stderr: where the engine answers, to whom, over what, with which keys."""
    port = url.rsplit(":", 1)[1]
    scheme = "https" if tls else "http"
    loopback = is_loopback_host(host)
    lines: list[str] = []
    if loopback:
        lines.append(f"  reachable from: this machine only (loopback {host}): {url}")
    elif host in WILDCARDS:
        name = socket.gethostname()
        lines.append(
            f"  reachable from: the network, on every address of this machine ({host}):"
            f" {scheme}://{name}:{port}, {scheme}://127.0.0.1:{port}, ..."
        )
    else:
        lines.append(f"  reachable from: the network, at {url}")
    if tls is not None:
        lines.append(
            f"  transport: TLS with the certificate {tls.cert}; streams are wss:// on the same"
            " port. Clients verify it: give them its CA with `vmx --ca-cert FILE` if it is"
            " private"
        )
    elif loopback:
        lines.append("  transport: plain HTTP, on loopback: nothing leaves this machine")
    else:
        lines.append(
            "  WARNING: plain HTTP beyond loopback (--insecure-http): API keys, their secrets,"
            " orders and balances cross the network in clear, readable and replayable by anyone"
            " on the path. Serve with --tls-cert FILE --tls-key FILE instead"
        )
    lines.append("  " + summarise_keys(keys))
    lines.append(
        "  without a key: only /v1/health and /openapi.json answer; the local key endpoint"
        " answers loopback callers holding the admin token in this user's engine.json"
    )
    return lines
