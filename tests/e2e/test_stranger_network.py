"""A stranger's network and a stranger's arguments against a real engine: real `vmx`
subprocesses, a real in-memory engine on a loopback port, and a loopback proxy that loses the
answer to a placement after the engine has executed it (the connection is reset, as when a
server or a middlebox dies between the request and the response).
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.processes import VMX

pytestmark = pytest.mark.e2e


class Engine:
    def __init__(self, env: dict[str, str], url: str) -> None:
        self.env = env
        self.url = url

    def vmx(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*VMX, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=60
        )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(tmp_path_factory.mktemp("vmx-network") / "home")
    process = subprocess.Popen(
        [*VMX, "engine", "serve", "--in-memory", "--port", "0", "--always-open"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    line = ""
    while "listening on" not in line:
        assert time.monotonic() < deadline and process.poll() is None, line
        line = process.stderr.readline()
    try:
        yield Engine(env, line.split("listening on ")[1].split()[0])
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_symbol_or_id_never_walks_to_another_route(engine: Engine) -> None:
    # `..` segments used to be resolved by URL normalisation: the book of
    # `../../account/balance` became GET /v1/markets/account/balance ("No such route").
    for args in (
        ("book", "BINANCE", "../../account/balance"),
        ("ticker", "BINANCE", "../../../v1/account/balance"),
        ("book", "..", "BTC/USDT"),
    ):
        result = engine.vmx(*args, "--json")
        assert result.returncode == 2, (args, result.stderr)
        error = json.loads(result.stderr.splitlines()[-1])["error"]
        assert error["code"] == "INVALID_PARAMETER", error
        assert error["details"]["value"] == (args[2] if args[1] != ".." else "..")
    # `..` cannot be an order id: refused as such (docs/api.md, "Input bounds"), not looked up.
    shown = engine.vmx("order", "show", "..", "--json")
    assert shown.returncode == 2
    error = json.loads(shown.stderr.splitlines()[-1])["error"]
    assert error["code"] == "INVALID_PARAMETER"
    assert error["details"] == {"parameter": "order_id", "value": ".."}


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (all the engine and httpx send)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head_end = buffer.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:head_end]).split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buffer) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[: head_end + length])
    del buffer[: head_end + length]
    return message


class LosingProxy(socketserver.ThreadingTCPServer):
    """Forwards to the engine; the first order placement is executed by the engine, then its
    answer is thrown away and the client's connection reset."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _LosingHandler)
        self.upstream = upstream
        self.requests: list[bytes] = []
        self.dropped = 0


class _LosingHandler(socketserver.BaseRequestHandler):
    server: LosingProxy

    def handle(self) -> None:
        client: socket.socket = self.request
        upstream = socket.create_connection(self.server.upstream, timeout=30)
        inbound, outbound = bytearray(), bytearray()
        try:
            while (request := _read_message(client, inbound)) is not None:
                self.server.requests.append(request.split(b"\r\n", 1)[0])
                upstream.sendall(request)
                response = _read_message(upstream, outbound)
                if response is None:
                    return
                if request.startswith(b"POST /v1/trading/orders ") and not self.server.dropped:
                    self.server.dropped += 1
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing with linger 0 resets the connection: the answer is lost
                client.sendall(response)
        finally:
            upstream.close()


def test_a_placement_whose_answer_is_lost_is_looked_up_and_never_sent_twice(
    engine: Engine,
) -> None:
    created = engine.vmx("engine", "keys", "create", "--account", "lost", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    host, port = engine.url.removeprefix("http://").split(":")
    proxy = LosingProxy((host, int(port)))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        env = {
            "VMX_API_URL": f"http://127.0.0.1:{proxy.server_address[1]}",
            "VMX_API_KEY": key["api_key"],
            "VMX_API_SECRET": key["api_secret"],
        }
        placed = engine.vmx(
            "buy", "BINANCE", "ETH/USDT", "0.1", "--price", "1000", "--yes",
            "--client-id", "lost-answer-1", "--json", **env,
        )  # fmt: skip
        assert proxy.dropped == 1
        assert placed.returncode == 0, placed.stderr
        order = json.loads(placed.stdout)
        assert order["client_order_id"] == "lost-answer-1" and order["status"] == "open"
        lines = [line.decode() for line in proxy.requests]
        posts = [line for line in lines if line.startswith("POST /v1/trading/orders ")]
        assert len(posts) == 1, lines  # never re-sent while its fate was unknown
        after_post = lines[lines.index(posts[0]) + 1]
        assert after_post.startswith("GET /v1/trading/orders/client_order_id:lost-answer-1 ")
        listed = engine.vmx("order", "list", "--status", "all", "--json", **env)
        assert [o["client_order_id"] for o in json.loads(listed.stdout)["orders"]] == [
            "lost-answer-1"
        ]
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_the_strategy_table_names_parameters_and_json_keeps_them_whole(engine: Engine) -> None:
    table = engine.vmx("strategy", "list")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("sma-cross"))
    assert "fast, slow, order_amount, allow_short" in row
    assert '"name"' not in table.stdout and len(row) < 400  # not the parameters' JSON
    assert "vmx strategy show STRATEGY_ID" in table.stderr
    listed = json.loads(engine.vmx("strategy", "list", "--json").stdout)["strategies"]
    sma = next(s for s in listed if s["strategy_id"] == "sma-cross")
    assert {"name": "fast", "default": 10, "min": 1}.items() <= sma["params"][0].items()


def test_a_deployment_shows_its_parameters_as_name_value(engine: Engine) -> None:
    deployed = engine.vmx(
        "strategy", "deploy", "sma-cross", "-e", "BINANCE", "-s", "BTC/USDT", "-p", "fast=5",
        "--json",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    deployment_id = json.loads(deployed.stdout)["deployment_id"]
    try:
        shown = engine.vmx("strategy", "status", deployment_id)
        assert shown.returncode == 0, shown.stderr
        line = next(x for x in shown.stdout.splitlines() if x.startswith("params"))
        assert "fast=5, slow=30, order_amount=0.001, allow_short=False" in line, line
    finally:
        engine.vmx("strategy", "stop", deployment_id)


def test_an_unknown_deployment_points_at_the_deployments(engine: Engine) -> None:
    for args in (("status", "dep-404"), ("stop", "dep-404"), ("logs", "dep-404")):
        result = engine.vmx("strategy", *args)
        assert result.returncode == 7, result.stderr
        assert "`vmx strategy status`" in result.stderr
        assert "vmx order list" not in result.stderr  # an order hint for a deployment id
