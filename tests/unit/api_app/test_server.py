"""The server's listening socket: accepted connections have Nagle's algorithm off."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api import server
from api.server import bind
from api.settings import HttpSection, Settings, StorageSection


def test_accepted_connections_inherit_tcp_nodelay() -> None:
    """A connection accepted on the socket ``bind`` makes has TCP_NODELAY set (no 40 ms delayed-ACK stalls)."""
    listener = bind("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()) as client:
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert client.getpeername() == listener.getsockname()


def test_workers_get_the_configured_health_check_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--workers N``: uvicorn's supervisor waits ``worker_healthcheck_seconds`` for a ping's answer before it
    kills a worker (its own 5 s killed busy workers mid-request in the soak), and logs like the workers."""
    runs: list[dict[str, Any]] = []
    logged: list[Settings] = []
    monkeypatch.setattr(os, "environ", {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: runs.append({"app": app, **options}))
    monkeypatch.setattr(server, "configure_logging", logged.append)
    listeners: list[socket.socket] = []

    def bind_and_keep(host: str, port: int) -> socket.socket:
        listeners.append(bind(host, port))
        return listeners[-1]

    monkeypatch.setattr(server, "bind", bind_and_keep)
    settings = Settings(
        storage=StorageSection(redis_url="redis://127.0.0.1:6379/0"),
        http=HttpSection(worker_healthcheck_seconds=45),
    )
    try:
        server.serve(settings, port=0, workers=2)
    finally:
        for listener in listeners:
            listener.close()
    assert [(run["workers"], run["timeout_worker_healthcheck"]) for run in runs] == [(2, 45)]
    assert logged == [settings]
    assert Settings().http.worker_healthcheck_seconds == 30
