"""The CPU time of the PostgreSQL backends serving this process (benchmarks/batch.py ``--reconcile-only``)."""

from __future__ import annotations

import os

from _servers import pid_cpu_seconds


class ServerCpu:
    """The CPU time of the PostgreSQL backends that serve this process (same machine: ``/proc/<pid>/stat``),
    found in ``pg_stat_activity`` by client address and port (this process's sockets). None on SQLite (the
    engine runs in the process, its CPU is already counted)."""

    def __init__(self, url: str) -> None:
        self.url = url if url.startswith("postgresql") else None
        self.before: dict[int, float] = {}

    def _backends(self) -> dict[int, float]:
        import psycopg  # only on PostgreSQL

        ports = _own_tcp_ports()
        with psycopg.connect(self.url or "", autocommit=True) as conn:
            query = "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL"
            rows = conn.execute(query).fetchall()
        return {int(pid): pid_cpu_seconds(int(pid)) for pid, port in rows if port in ports}

    def start(self) -> None:
        if self.url is not None:
            self.before = self._backends()

    def stop(self) -> float | None:
        if self.url is None:
            return None
        after = self._backends()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())


def _own_tcp_ports() -> set[int]:
    """The local TCP ports of this process's sockets (``/proc/self/fd`` inodes matched in ``/proc/net/tcp*``)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for line in handle:
                parts = line.split()
                if parts[9] in inodes:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports
