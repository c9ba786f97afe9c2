"""RSS and CPU of every process of the soak's deployment, read from Linux /proc.

A *subject* is a label and a way to find its pids at each sample: one fixed pid (the sealer), the children
of a pid (each uvicorn worker is labelled ``api worker N`` by start order; multiprocessing's resource
tracker is left out), or a query (the PostgreSQL backends whose ``application_name`` is this run's, summed).
Each sample records per label ``(t, rss KiB, RssAnon KiB, CPU s, processes)``; a worker that restarts shows
as a new pid (:attr:`ProcessSampler.pid_changes`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcStat:
    rss_kib: int
    anon_kib: int
    cpu_s: float


def read_proc(pid: int) -> ProcStat | None:
    """RSS, RssAnon and user+system CPU seconds of ``pid``; ``None`` when it is gone or unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon"):
            values[name] = int(rest.split()[0])
    return ProcStat(values.get("VmRSS", 0), values.get("RssAnon", 0), (int(stat[11]) + int(stat[12])) / _TICKS)


def children_of(pid: int) -> list[int]:
    """Live child pids of ``pid``, in start order (pid order is good enough within one run)."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return sorted(int(child) for child in listed)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Series:
    """Samples of one label."""

    judged: bool = True
    """False for what the RSS verdict leaves out: a service other users of the machine share (Redis), and the
    test harness's receiver (it keeps every event id it saw, to count distinct deliveries)."""
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    anon_kib: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)


class ProcessSampler:
    """Samples labelled groups of processes; :meth:`sample` once per interval."""

    def __init__(self) -> None:
        self._finders: dict[str, Callable[[], list[int]]] = {}
        self.series: dict[str, Series] = {}
        self.pid_changes: list[str] = []
        self.load_average: list[float] = []

    def add(self, label: str, pid: int, *, judged: bool = True) -> None:
        self.add_finder(label, lambda: [pid], judged=judged)

    def add_finder(self, label: str, finder: Callable[[], list[int]], *, judged: bool = True) -> None:
        self._finders[label] = finder
        self.series.setdefault(label, Series(judged=judged))

    def add_uvicorn(self, supervisor: int) -> None:
        """The supervisor and each of its worker children (not the resource tracker)."""
        self.add("api supervisor", supervisor)
        workers = [child for child in children_of(supervisor) if "resource_tracker" not in cmdline(child)]
        for index in range(len(workers)):
            self.add_finder(f"api worker {index + 1}", _nth_worker(supervisor, index))

    def remove(self, label: str) -> None:
        self._finders.pop(label, None)

    def sample(self) -> None:
        now = time.monotonic()
        self.load_average.append(os.getloadavg()[0])
        for label, finder in self._finders.items():
            pids = finder()
            stats = [stat for stat in (read_proc(pid) for pid in pids) if stat is not None]
            series = self.series[label]
            if series.pids and set(pids) - series.pids and len(pids) == 1:
                self.pid_changes.append(f"{label}: pid {sorted(series.pids)} -> {pids}")
            if len(pids) == 1:
                series.pids.update(pids)
            if not stats:
                continue
            series.times.append(now)
            series.rss_kib.append(sum(stat.rss_kib for stat in stats))
            series.anon_kib.append(sum(stat.anon_kib for stat in stats))
            series.cpu_s.append(sum(stat.cpu_s for stat in stats))
            series.processes.append(len(stats))


def _nth_worker(supervisor: int, index: int) -> Callable[[], list[int]]:
    def find() -> list[int]:
        workers = [child for child in children_of(supervisor) if "resource_tracker" not in cmdline(child)]
        return [workers[index]] if index < len(workers) else []

    return find


def postgres_backends(server_url: str, application_name: str) -> Callable[[], list[int]]:
    """A finder of the backends whose ``application_name`` is ``application_name`` (over one monitoring
    connection, kept open: the server may have no slot to spare later)."""
    import psycopg
    from _servers import postgres_backends as backends_of

    probe = psycopg.connect(server_url, autocommit=True)

    def find() -> list[int]:
        return [int(pid) for pid in backends_of(probe, application_name)]

    return find


def redis_pid(redis_url: str) -> int | None:
    """The Redis server's pid (``INFO server``), when it runs on this machine."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        info = client.info("server")
    finally:
        client.close()
    pid = info.get("process_id")
    return int(pid) if isinstance(pid, int) and Path(f"/proc/{pid}").exists() else None
