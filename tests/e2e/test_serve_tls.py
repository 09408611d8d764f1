"""Serving beyond loopback: TLS, the start-up report, certificate checks, secrets in clear.

Real `vmx engine serve` processes on ephemeral loopback ports, real `vmx` subprocesses, and
certificates made in the test by trustme (a throwaway CA). Nothing listens beyond loopback
except inside a private network namespace made for the one test that needs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import VMX

trustme = pytest.importorskip("trustme")

pytestmark = pytest.mark.e2e

LISTENING = re.compile(r"listening on (https?://\S+) \(pid (\d+)\)")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(home)
    env.update(extra)
    return env


def vmx(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*VMX, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


@dataclass
class Certs:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path
    expired_cert: Path
    expired_key: Path
    wrong_name_cert: Path
    wrong_name_key: Path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    root = tmp_path_factory.mktemp("certs")
    ca, other = trustme.CA(), trustme.CA()

    def leaf(name: str, issued: trustme.LeafCert) -> tuple[Path, Path]:
        cert, key = root / f"{name}.pem", root / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        key.chmod(0o600)
        return cert, key

    now = datetime.now(UTC)
    good = leaf("server", ca.issue_cert("127.0.0.1", "localhost"))
    expired = leaf(
        "expired",
        ca.issue_cert(
            "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        ),
    )
    wrong = leaf("wrong-name", ca.issue_cert("engine.example.test"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    other.cert_pem.write_to_path(str(root / "other-ca.pem"))
    return Certs(root / "ca.pem", root / "other-ca.pem", *good, *expired, *wrong)


class Served:
    """`vmx engine serve` in a subprocess, until stop(); its stderr collected."""

    def __init__(self, env: dict[str, str], *args: str, command: list[str] | None = None) -> None:
        full = command or [*VMX, "engine", "serve", *args]
        self.process = subprocess.Popen(
            full, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.lines: list[str] = []
        self.url = ""
        self.pid = 0
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            self.lines.append(line)
            found = LISTENING.search(line)
            if found:
                self.url, self.pid = found.group(1), int(found.group(2))
                # The report follows the listening line: collected in the background.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise AssertionError("the engine did not start:\n" + "".join(self.lines))

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def report(self) -> str:
        """What it said at start: up to its last report line (or what came within 10 s)."""
        deadline = time.monotonic() + 10
        while "without a key:" not in "".join(self.lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        return "".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class TlsEngine:
    served: Served
    engine_env: dict[str, str]
    client: dict[str, str]  # env of a client on another home: key and secret, no URL
    api_key: str
    api_secret: str

    @property
    def url(self) -> str:
        return self.served.url


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[TlsEngine]:
    from velocimex_cli.engine.keys import KeyStore

    root = tmp_path_factory.mktemp("tls-engine")
    data_dir = root / "data"
    store = KeyStore.open(data_dir)
    key = store.create("erin", "remote", ("read", "trade"))
    store.create("erin", "watcher", ("read",), ["10.0.0.0/8"])
    store.close()
    engine_env = clean_env(root / "engine-home")
    served = Served(
        engine_env,
        *("--port", "0", "--data-dir", str(data_dir), "--always-open", "--no-rate-limit"),
        *("--tls-cert", str(certs.cert), "--tls-key", str(certs.key)),
    )
    client = clean_env(root / "client-home", VMX_API_KEY=key.api_key, VMX_API_SECRET=key.api_secret)
    try:
        yield TlsEngine(served, engine_env, client, key.api_key, key.api_secret)
    finally:
        served.stop()


# ---------------------------------------------------------------- serving


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_serve_refuses_a_network_address_without_tls_before_binding(
    tmp_path: Path, host: str
) -> None:
    data_dir = tmp_path / "data"
    done = vmx(clean_env(tmp_path / "home"), "engine", "serve", "--host", host, "--port", "0",
               "--data-dir", str(data_dir))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--tls-cert FILE --tls-key FILE" in done.stderr
    assert "--insecure-http" in done.stderr
    assert "listening" not in done.stderr and "Traceback" not in done.stderr
    assert not data_dir.exists()  # refused before the data directory was even made


def test_which_addresses_count_as_loopback() -> None:
    from velocimex_cli.engine.api.exposure import is_loopback_host

    for host in ("127.0.0.1", "127.0.0.2", "127.255.0.9", "::1", "[::1]", "localhost",
                 "::ffff:127.0.0.1"):  # fmt: skip
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.1.2.3", "192.168.0.4", "::ffff:10.0.0.1", "2001:db8::1"):
        assert not is_loopback_host(host), host


def test_insecure_http_beyond_loopback_starts_with_a_warning(tmp_path: Path) -> None:
    """0.0.0.0 for real, inside a network namespace of its own that has only loopback."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip to bind 0.0.0.0 in a private network namespace")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a private network namespace here (unshare -n)")
    env = clean_env(tmp_path / "home")
    serve = [*VMX, "engine", "serve", "--host", "0.0.0.0", "--port", "0", "--in-memory",
             "--insecure-http", "--no-simulate"]  # fmt: skip
    inside = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *serve]
    served = Served(env, command=inside)
    try:
        report = served.report
        assert served.url.startswith("http://0.0.0.0:")
        assert "reachable from: the network" in report
        assert "WARNING: plain HTTP beyond loopback" in report
        assert "--tls-cert FILE --tls-key FILE" in report
    finally:
        assert served.stop() == 0


def test_tls_engine_says_who_can_reach_it(tls_engine: TlsEngine) -> None:
    report = tls_engine.served.report
    assert tls_engine.url.startswith("https://127.0.0.1:")
    assert "reachable from: this machine only" in report
    assert "transport: TLS" in report and "wss://" in report
    assert "2 active keys on 1 account (1 read, 1 read+trade; 1 limited to IP ranges)" in report
    assert tls_engine.api_secret not in report and tls_engine.api_key not in report
    assert "WARNING" not in report


# ---------------------------------------------------------------- the client verifies


def test_rest_and_stream_over_tls_with_the_ca(tls_engine: TlsEngine, certs: Certs) -> None:
    env = tls_engine.client
    balance = vmx(env, "--api-url", tls_engine.url, "--ca-cert", str(certs.ca),
                  "account", "balance", "--json")  # fmt: skip
    assert balance.returncode == 0, balance.stderr
    assert {b["asset"] for b in json.loads(balance.stdout)["balances"]} >= {"USDT", "BTC"}

    with_env = dict(env, VMX_CA_CERT=str(certs.ca), VMX_API_URL=tls_engine.url)
    streamed = vmx(with_env, "stream", "market", "BINANCE:BTC/USDT", "--count", "2")
    assert streamed.returncode == 0, streamed.stderr
    messages = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert len(messages) == 2 and {m["symbol"] for m in messages} == {"BTC/USDT"}


def test_without_the_ca_the_certificate_is_refused(tls_engine: TlsEngine, certs: Certs) -> None:
    env = dict(tls_engine.client, VMX_API_URL=tls_engine.url)
    for args in (["account", "balance"], ["stream", "market", "BINANCE:BTC/USDT", "--count", "1"]):
        done = vmx(env, *args)
        assert done.returncode == 9, (args, done.stderr)
        assert "the certificate of 127.0.0.1 is not trusted: unknown CA" in done.stderr
        assert "--ca-cert FILE" in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == ""
    # Another CA does not vouch for it either.
    other = vmx(env, "--ca-cert", str(certs.other_ca), "account", "balance", "--json")
    assert other.returncode == 9
    assert json.loads(other.stderr)["error"]["code"] == "UNREACHABLE"


def test_a_profile_keeps_its_ca(tls_engine: TlsEngine, certs: Certs, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    login = vmx(env, "auth", "login", "--profile", "remote", "--api-url", tls_engine.url,
                "--api-key", tls_engine.api_key, "--api-secret-stdin", "--ca-cert",
                str(certs.ca), stdin=tls_engine.api_secret + "\n")  # fmt: skip
    assert login.returncode == 0, login.stderr
    config = (tmp_path / "home" / "config" / "config.toml").read_text()
    assert f'ca_cert = "{certs.ca}"' in config
    done = vmx(env, "-P", "remote", "account", "balance", "--json")
    assert done.returncode == 0, done.stderr
    # The command line wins over the profile.
    overridden = vmx(env, "-P", "remote", "--ca-cert", str(certs.other_ca), "account", "balance")
    assert overridden.returncode == 9
    assert "not trusted" in overridden.stderr


def test_login_without_the_ca_saves_nothing(tls_engine: TlsEngine, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    login = vmx(env, "auth", "login", "--profile", "remote", "--api-url", tls_engine.url,
                "--api-key", tls_engine.api_key, "--api-secret-stdin",
                stdin=tls_engine.api_secret + "\n")  # fmt: skip
    assert login.returncode == 9 and "unknown CA" in login.stderr
    assert not (tmp_path / "home" / "config" / "credentials").exists()


def test_the_library_clients_verify_too(tls_engine: TlsEngine, certs: Certs) -> None:
    import asyncio

    from velocimex_cli.client.asynchronous import AsyncClient
    from velocimex_cli.client.errors import CertificateError
    from velocimex_cli.client.streams import StreamClient
    from velocimex_cli.client.tls import verified_context

    key, secret, url = tls_engine.api_key, tls_engine.api_secret, tls_engine.url

    async def scenario() -> None:
        trusted = verified_context(certs.ca)
        async with AsyncClient(url, key, secret, verify=trusted) as api:
            assert (await api.balance())["balances"]
        async with AsyncClient(url, key, secret) as api:
            with pytest.raises(CertificateError, match="unknown CA"):
                await api.balance()
        stream = StreamClient(url, key, secret, verify=trusted).stream_orders()
        async with stream:
            kinds = [(await stream.__anext__())["type"] for _ in range(2)]
        assert kinds == ["connection", "authenticated"]
        refused = StreamClient(url, key, secret).stream_orders()
        async with refused:
            assert (await refused.__anext__())["state"] == "connecting"
            with pytest.raises(CertificateError, match="unknown CA"):
                await refused.__anext__()

    asyncio.run(scenario())


def test_the_recorded_tls_engine_serves_this_machine(tls_engine: TlsEngine) -> None:
    """`engine status` and the local profile reach the engine over TLS: they trust the one
    certificate it recorded, not any CA."""
    env = tls_engine.engine_env
    status = vmx(env, "engine", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["healthy"] is True
    local = vmx(env, "account", "balance", "--json")
    assert local.returncode == 0, local.stderr


# ---------------------------------------------------------------- what a refused server sees


class RawListener:
    """A loopback TCP listener that keeps every byte each connection sent (TLS when given a
    certificate: then it keeps what arrived after the handshake, decrypted). Without one it
    answers the first bytes as a plain HTTP server does (400) and hangs up."""

    def __init__(self, leaf: tuple[Path, Path] | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.context: ssl.SSLContext | None = None
        if leaf is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(str(leaf[0]), str(leaf[1]))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            data = b""
            try:
                if self.context is not None:
                    conn = self.context.wrap_socket(conn, server_side=True)
                while chunk := conn.recv(65536):
                    data += chunk
                    if self.context is None:
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        break
            except (OSError, ssl.SSLError):
                pass
            finally:
                self.received.append(data)
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("expired", "the certificate of 127.0.0.1 has expired"),
        ("wrong-name", "does not name 127.0.0.1 (name mismatch"),
    ],
)
def test_certificate_problems_are_named(
    certs: Certs, tmp_path: Path, which: str, expected: str
) -> None:
    leaf = (certs.expired_cert, certs.expired_key) if which == "expired" else (
        certs.wrong_name_cert, certs.wrong_name_key)  # fmt: skip
    server = RawListener(leaf)
    secret = "never-in-clear-0123456789"
    env = clean_env(tmp_path / "home", VMX_API_KEY="vmxk_x", VMX_API_SECRET=secret)
    try:
        done = vmx(env, "--api-url", f"https://127.0.0.1:{server.port}", "--ca-cert",
                   str(certs.ca), "account", "balance")  # fmt: skip
    finally:
        server.close()
    assert done.returncode == 9, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    # The handshake failed on the client's side: no request, no header, no secret was sent.
    assert server.received and all(data == b"" for data in server.received)


def test_an_https_url_never_falls_back_to_plain_http(tmp_path: Path) -> None:
    """A plain listener at an https URL only ever sees TLS handshakes, never the request."""
    server = RawListener()
    secret = "never-in-clear-0123456789"
    env = clean_env(tmp_path / "home", VMX_API_KEY="vmxk_x", VMX_API_SECRET=secret)
    try:
        done = vmx(env, "--api-url", f"https://127.0.0.1:{server.port}", "account", "balance")
    finally:
        server.close()
    assert done.returncode == 9, done.stderr
    assert server.received
    for data in server.received:
        assert data[:1] == b"\x16"  # a TLS handshake record: a ClientHello
        assert secret.encode() not in data and b"X-API" not in data and b"GET " not in data


# ---------------------------------------------------------------- bad certificate or key files


def _encrypted_copy(key: Path, target: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    target.write_bytes(
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return target


def test_bad_certificate_or_key_files_are_clean_errors(certs: Certs, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    encrypted = _encrypted_copy(certs.key, tmp_path / "encrypted.key")
    missing = tmp_path / "missing.pem"
    cases = [
        (missing, certs.key, missing, "cannot read the TLS certificate"),
        (certs.cert, tmp_path, tmp_path, "is a directory"),
        (garbage, certs.key, garbage, "cannot be read as a PEM certificate"),
        (certs.key, certs.key, certs.key, "holds no PEM certificate"),
        (certs.cert, certs.cert, certs.cert, "holds no PEM private key"),
        (certs.cert, certs.expired_key, certs.expired_key, "does not match the certificate"),
        (certs.cert, encrypted, encrypted, "is encrypted with a passphrase"),
    ]
    # In process: every file is refused before anything binds (the subprocess tests above show
    # the same path ends the real command with the same code).
    from typer.testing import CliRunner

    from velocimex_cli.cli.app import app

    runner = CliRunner()
    env = {"VMX_HOME": str(tmp_path / "home")}
    for cert, key, named, problem in cases:
        args = ["engine", "serve", "--port", "0", "--in-memory"]
        done = runner.invoke(app, [*args, "--tls-cert", str(cert), "--tls-key", str(key)], env=env)
        assert done.exit_code == 2, (problem, done.stderr)
        assert problem in done.stderr and str(named) in done.stderr, done.stderr
        assert done.exception is None or isinstance(done.exception, SystemExit)
        assert "Traceback" not in done.stderr and "listening" not in done.stderr
    half = runner.invoke(app, ["engine", "serve", "--tls-cert", str(certs.cert)], env=env)
    assert half.exit_code == 2 and "--tls-cert needs --tls-key" in half.stderr


# ---------------------------------------------------------------- secrets in the environment


def test_a_served_engine_forgets_the_secrets_of_its_environment(tmp_path: Path) -> None:
    secrets = {
        "VMX_API_KEY": "vmxk_from_the_shell_0001",
        "VMX_API_SECRET": "secret-from-the-shell-0123456789",
        "VMX_ADMIN_TOKEN": "admin-token-from-the-env-0123",
        "VMX_VENUE_PASSWORD": "venue-password-0123456789",
    }
    served = Served(clean_env(tmp_path / "home", **secrets), "--port", "0", "--in-memory",
                    "--no-simulate")  # fmt: skip
    try:
        environ = Path(f"/proc/{served.pid}/environ").read_bytes()
    finally:
        served.stop()
    for value in secrets.values():
        assert value.encode() not in environ
    assert f"VMX_HOME={tmp_path / 'home'}".encode() in environ  # the rest is untouched


def test_scrubbed_secrets_reach_no_child(tmp_path: Path) -> None:
    """What a process started after the scrub inherits, and what Python code still reads."""
    script = (
        "import os, subprocess, sys\n"
        "from velocimex_cli.secret_env import scrub_secret_env\n"
        "removed = scrub_secret_env()\n"
        "child = subprocess.run(['env'], capture_output=True, text=True).stdout\n"
        "print(removed, 'VMX_API_SECRET' in os.environ, 'the-secret' in child,"
        " 'VMX_HOME' in child)\n"
    )
    env = clean_env(tmp_path, VMX_API_KEY="k", VMX_API_SECRET="the-secret")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['VMX_API_KEY', 'VMX_API_SECRET'] False False True"


def test_a_ca_file_that_cannot_be_used_is_a_usage_error(tmp_path: Path, certs: Certs) -> None:
    env = clean_env(tmp_path / "home", VMX_API_KEY="vmxk_x", VMX_API_SECRET="s")
    missing = tmp_path / "missing-ca.pem"
    url = "https://127.0.0.1:9"  # never contacted: the CA is read first
    done = vmx(env, "--api-url", url, "--ca-cert", str(missing), "account", "balance")
    assert done.returncode == 2, done.stderr
    assert f"cannot read the CA certificate {missing} (--ca-cert)" in done.stderr
    from_env = vmx(dict(env, VMX_CA_CERT=str(certs.key)), "--api-url", url, "account", "balance")
    assert from_env.returncode == 2, from_env.stderr
    assert f"the CA certificate {certs.key} (VMX_CA_CERT) holds no PEM certificate" in (
        from_env.stderr
    )


def test_engine_start_passes_no_secret_to_the_engine(tmp_path: Path) -> None:
    secret = "secret-from-the-shell-0123456789"
    env = clean_env(tmp_path / "home", VMX_API_KEY="vmxk_shell", VMX_API_SECRET=secret)
    started = vmx(env, "engine", "start", "--json")
    try:
        assert started.returncode == 0, started.stderr
        pid = json.loads(started.stdout)["pid"]
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        vmx(env, "engine", "stop")
    assert b"VMX_API_SECRET" not in environ and secret.encode() not in environ
    assert b"VMX_API_KEY" not in environ and b"VMX_HOME=" in environ
