"""The server's listening socket: accepted connections have Nagle's algorithm off."""

from __future__ import annotations

import socket

from api.server import bind


def test_accepted_connections_inherit_tcp_nodelay() -> None:
    """A connection accepted on the socket ``bind`` makes has TCP_NODELAY set (no 40 ms delayed-ACK stalls)."""
    listener = bind("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()) as client:
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert client.getpeername() == listener.getsockname()
