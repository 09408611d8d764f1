"""A stored secret goes only to the API it was saved for: real `vmx` against loopback servers
that record the headers they get."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.processes import vmx

pytestmark = pytest.mark.e2e

SECRET = "the-stored-secret-0123456789abcdef"
BALANCE = {"status": "ok", "data": {"balances": []}}


class Recorder:
    """A loopback HTTP server that answers every GET with an empty balance and keeps headers."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.headers.append({k.lower(): v for k, v in self.headers.items()})
                body = json.dumps(BALANCE).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def secrets_seen(self) -> list[str]:
        return [h["x-api-secret"] for h in self.headers if "x-api-secret" in h]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    saved_for, elsewhere = Recorder(), Recorder()
    yield saved_for, elsewhere
    saved_for.close()
    elsewhere.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(tmp_path / "home")
    return env


def test_the_stored_secret_is_sent_only_to_the_url_it_was_saved_for(
    env: dict[str, str], servers: tuple[Recorder, Recorder]
) -> None:
    saved_for, elsewhere = servers
    login = vmx(
        env, "auth", "login", "--profile", "prod", "--api-url", saved_for.url,
        "--api-key", "key-prod", "--api-secret-stdin", input=SECRET + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    used = vmx(env, "--profile", "prod", "account", "balance", "--json")
    assert used.returncode == 0, used.stderr
    assert saved_for.secrets_seen() == [SECRET, SECRET]  # login's check, then the command

    by_flag = vmx(env, "--profile", "prod", "--api-url", elsewhere.url, "account", "balance")
    by_env = vmx({**env, "VMX_API_URL": elsewhere.url}, "--profile", "prod", "account", "balance")
    for refused in (by_flag, by_env):
        assert refused.returncode == 3
        assert "not sending the stored key of profile 'prod'" in refused.stderr
        assert saved_for.url in refused.stderr and elsewhere.url in refused.stderr
        assert "VMX_API_KEY" in refused.stderr and "vmx auth login" in refused.stderr
    assert "--api-url" in by_flag.stderr and "VMX_API_URL" in by_env.stderr
    assert elsewhere.headers == []  # not even a request without the secret

    status = vmx(env, "--profile", "prod", "--api-url", elsewhere.url, "auth", "status", "--json")
    assert status.returncode == 3 and "not sending the stored key" in status.stderr
    assert elsewhere.headers == []

    explicit = {**env, "VMX_API_KEY": "key-other", "VMX_API_SECRET": "other-secret"}
    sent = vmx(explicit, "--profile", "prod", "--api-url", elsewhere.url, "account", "balance")
    assert sent.returncode == 0, sent.stderr
    assert elsewhere.secrets_seen() == ["other-secret"]
    assert [h["x-api-key"] for h in elsewhere.headers] == ["key-other"]
    assert SECRET not in "".join(r.stdout + r.stderr for r in (by_flag, by_env, status, sent))


def test_a_key_without_its_secret_in_the_environment_is_an_error(
    env: dict[str, str], servers: tuple[Recorder, Recorder]
) -> None:
    saved_for, _ = servers
    half = {**env, "VMX_API_URL": saved_for.url}
    only_key = vmx({**half, "VMX_API_KEY": "k"}, "account", "balance")
    assert only_key.returncode == 3
    assert "VMX_API_KEY is set but VMX_API_SECRET is not" in only_key.stderr
    only_secret = vmx({**half, "VMX_API_SECRET": "s"}, "account", "balance", "--json")
    assert only_secret.returncode == 3
    error = json.loads(only_secret.stderr)["error"]
    assert "VMX_API_SECRET is set but VMX_API_KEY is not" in error["message"]
    assert saved_for.headers == []


def test_auth_status_of_an_unreachable_profile_exits_9(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = {**env, "VMX_API_URL": f"http://127.0.0.1:{port}", "VMX_API_KEY": "k"}
    result = vmx({**down, "VMX_API_SECRET": "s"}, "auth", "status", "--json")
    assert result.returncode == 9
    assert "cannot reach the API" in result.stderr
    info = json.loads(result.stdout)
    assert info["accepted"] is None and "cannot reach" in info["problem"]
