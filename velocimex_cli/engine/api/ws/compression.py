"""Which WebSocket peers the engine offers permessage-deflate (RFC 7692) to: those across a network.

Compression is negotiated: a client offers it in its handshake and the server may accept. It
costs CPU on both sides for every frame (zlib on the engine for each book delta, trade and
ticker it sends, zlib again in the client to inflate it; on the mirror benchmark, about 7% of
the engine's CPU) and keeps a compressor's state per connection. It pays where bandwidth is
scarce, which a loopback connection never is: its frames never leave the machine. So a peer at
a loopback address (127.0.0.0/8, ::1, or an IPv4 loopback address mapped into IPv6) is not
offered it, and a peer at any other address is, whatever address the engine listens on (an
engine bound to 0.0.0.0 serves its own machine's `vmx watch` uncompressed and a remote
client compressed). The decision is per connection, by the peer's address as the socket
reports it (uvicorn trusts no X-Forwarded-For here: engine/api/server.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any


def loopback_peer(client: tuple[str, int] | None) -> bool:
    """Whether a connection's peer (host, port), as the transport reports it, is on this
    machine's loopback interface. An unknown peer (None, not an IP address) is not."""
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client[0].split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def websocket_protocol() -> type[Any]:
    """uvicorn's `websockets` WebSocket protocol, offering permessage-deflate only to a peer
    that is not on loopback (see the module docstring). Import it only to serve: it loads
    uvicorn and websockets (whose deprecation warnings engine/api/server.py silences first)."""
    from uvicorn.protocols.utils import get_remote_addr
    from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

    class PeerCompressedProtocol(WebSocketProtocol):
        def connection_made(self, transport: Any) -> None:
            if loopback_peer(get_remote_addr(transport)):
                # What the handshake may accept of the client's offers (websockets' legacy
                # server passes it to the handshake its connection_made starts).
                self.available_extensions = []
            super().connection_made(transport)

    return PeerCompressedProtocol
