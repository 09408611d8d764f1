"""permessage-deflate is offered to a WebSocket peer across a network, never to one on loopback
(engine/api/ws/compression.py), under a real uvicorn served as `vmx engine serve` serves it,
with a real `websockets` client that offers the extension."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.engine.api.conftest import LiveServer, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.api.ws.compression import loopback_peer

SUBSCRIBE = {"action": "subscribe", "channels": ["book"], "instruments": ["NASDAQ:AAPL"]}


def _non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not on loopback (the one its route out would
    use; a UDP socket's connect sends nothing), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never reached
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    if address.startswith("127.") or address == "0.0.0.0":
        return None
    try:  # it must also be bindable here
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return None
    return address


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings(data_dir=tmp_path / "engine"))) as server:
        yield server


def _book_snapshot(ws_url: str) -> tuple[str | None, dict]:
    """The extensions the server accepted (Sec-WebSocket-Extensions), and the first book
    snapshot read through them."""
    with connect(f"{ws_url}/v1/ws/market", compression="deflate", open_timeout=10) as ws:
        assert ws.response is not None
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
        ws.send(json.dumps(SUBSCRIBE))
        for _ in range(200):
            message = json.loads(ws.recv(timeout=10))
            if message["type"] == "book_snapshot":
                return accepted, message
    raise AssertionError("no book snapshot")


def test_a_loopback_client_offering_deflate_gets_no_compression_and_its_stream(
    loopback: LiveServer,
) -> None:
    accepted, snapshot = _book_snapshot(loopback.ws_url)
    assert accepted is None  # offered, not accepted: frames go uncompressed
    assert snapshot["symbol"] == "AAPL" and snapshot["bids"] and snapshot["asks"]


def test_a_client_at_a_non_loopback_address_gets_deflate(tmp_path: Path) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve on")
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with LiveServer(app, host=address) as server:
        accepted, snapshot = _book_snapshot(server.ws_url)
    assert accepted is not None and accepted.startswith("permessage-deflate")
    assert snapshot["symbol"] == "AAPL" and snapshot["bids"] and snapshot["asks"]


@pytest.mark.parametrize(
    ("peer", "on_loopback"),
    [
        (("127.0.0.1", 50000), True),
        (("127.8.9.10", 1), True),
        (("::1", 50000), True),
        (("::ffff:127.0.0.1", 50000), True),  # an IPv4 loopback peer on a dual-stack socket
        (("192.0.2.2", 50000), False),
        (("10.0.0.1", 50000), False),
        (("::ffff:192.0.2.2", 50000), False),
        (("fe80::1%eth0", 50000), False),
        (("2001:db8::1", 50000), False),
        (None, False),  # the transport could not say: compressed, as before
        (("not-an-address", 1), False),
    ],
)
def test_which_peers_count_as_loopback(peer: tuple[str, int] | None, on_loopback: bool) -> None:
    assert loopback_peer(peer) is on_loopback
