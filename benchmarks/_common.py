"""Shared helpers for the benchmarks in this directory.

* :func:`base_parser`: the common command line (``--quick``, ``--postgres-url``, ``--backends``, ``--json-out``).
* :func:`measure_phase`: wall time and peak RSS (``ru_maxrss``) of one measured phase. Run each case in
  its own process (:func:`run_in_subprocess`) so the peak belongs to that case alone.
* :func:`run_in_subprocess` / :func:`run_workers`: run module-level functions in fresh ``spawn`` processes
  and get their (picklable) results back; a failure in a child is re-raised in the parent with its traceback.
* :func:`fresh_postgres_schema` / :func:`fresh_sqlite_file`: a database nobody else uses, removed afterwards.
* :func:`machine_info`, :func:`print_table`, :func:`emit_json`: reporting. The JSON document is always the
  last line of stdout; everything human-readable goes to stderr.

Importing this module also fixes ``sys.path`` for the scripts (see :func:`_put_this_directory_last`): every
script imports it before any module that is not in the standard library (the ``benchmark-path`` isort
section in pyproject.toml keeps it there).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import multiprocessing
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")

P = ParamSpec("P")
R = TypeVar("R")

_SPAWN = multiprocessing.get_context("spawn")

HERE = Path(__file__).resolve().parent
# Scripts here named by their issues after a module they measure: benchmarks/http.py shadows the standard
# library's ``http`` (httpx, litestar and asyncssh import it), benchmarks/proofs.py the project's ``proofs``.
SHADOWING = ("http", "proofs")


# -- sys.path -----------------------------------------------------------------------------------------
def _put_this_directory_last() -> None:
    """Make ``import http`` and ``import proofs`` load the standard library's and the project's packages.

    ``python benchmarks/<name>.py`` puts this directory first on ``sys.path``. This moves it to the end, so
    the helpers here (``_common``, ``_servers``, ...) still import and ``http`` is the standard library's,
    and loads ``proofs`` while the directory is off the path: the editable install's finder comes after the
    path finder, which would find ``proofs.py`` at any place on the path. Spawned children inherit the
    parent's ``sys.path`` and import this module again, which changes nothing more.

    Raises ImportError if a shadowing script was already imported as a module: something imported ``http``
    or ``proofs`` before this module, and whatever imported it holds the wrong module.
    """
    for name in SHADOWING:
        loaded = getattr(sys.modules.get(name), "__file__", None)
        if loaded is not None and Path(loaded).resolve().parent == HERE:
            raise ImportError(f"{loaded} was imported as {name!r}: import _common before anything imports it")
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
    importlib.import_module("proofs")
    sys.path.append(str(HERE))


_put_this_directory_last()
warnings.filterwarnings("ignore", message="DSA is deprecated")  # asyncssh imports DSA support; never used


# -- command line -------------------------------------------------------------------------------------
def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark understands."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small counts: the whole run in well under a minute")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL server URL; each case gets a fresh schema in it (default: %(default)s)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of: " + ", ".join(BACKENDS) + " (default: both)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON result to this file")
    return parser


def parse_backends(text: str) -> list[str]:
    """Validate a ``--backends`` value."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown or not chosen:
        raise SystemExit(f"--backends: unknown {unknown or 'empty'}; choose from {', '.join(BACKENDS)}")
    return chosen


# -- measuring ----------------------------------------------------------------------------------------
def peak_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def current_rss_kib() -> int:
    """This process's resident set size now, in KiB (falls back to the peak off Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_kib()
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def process_cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """``(pid, command name, the fields after the name)`` of every live process, from ``/proc/<pid>/stat``
    (``fields[1]`` is the parent's pid, ``fields[11]`` and ``fields[12]`` the user and system ticks)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        yield int(entry.name), head.partition("(")[2], rest.split()


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of the live processes named ``postgres`` (the local server: its backends and
    its background processes); a backend that exits takes its CPU with it."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, name, fields in proc_stats() if name == "postgres")
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat; (0, 0) where unavailable."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass
class Phase:
    """What :func:`measure_phase` recorded: wall and CPU time, RSS at the start and the peak RSS at the end.

    ``cpu_seconds`` is this process's CPU time (all threads); ``machine_busy`` is the fraction of all
    cores busy during the phase (any process: the database server, sibling workers, ...).
    """

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    machine_busy: float | None = None
    machine_cpu_seconds: float = 0.0
    """CPU seconds of the whole machine (every core, every process) during the phase."""
    postgres_cpu_seconds: float = 0.0
    """CPU seconds of the local PostgreSQL server's processes during the phase (:func:`postgres_cpu_seconds`)."""
    rss_start_kib: int = 0
    rss_peak_kib: int = 0
    started_at: float = 0.0  # time.monotonic(): comparable across processes on one Linux machine
    ended_at: float = 0.0

    @property
    def rss_growth_kib(self) -> int:
        return max(self.rss_peak_kib - self.rss_start_kib, 0)


@contextmanager
def measure_phase() -> Iterator[Phase]:
    """Time the body; record CPU use, the RSS before it and the peak RSS after it."""
    phase = Phase(rss_start_kib=current_rss_kib())
    busy_before, total_before = machine_cpu_ticks()
    postgres_before = postgres_cpu_seconds()
    cpu_before = process_cpu_seconds()
    phase.started_at = time.monotonic()
    start = time.perf_counter()
    try:
        yield phase
    finally:
        phase.seconds = time.perf_counter() - start
        phase.ended_at = time.monotonic()
        phase.cpu_seconds = process_cpu_seconds() - cpu_before
        busy_after, total_after = machine_cpu_ticks()
        phase.postgres_cpu_seconds = postgres_cpu_seconds() - postgres_before
        phase.machine_cpu_seconds = (busy_after - busy_before) / os.sysconf("SC_CLK_TCK")
        if total_after > total_before:
            phase.machine_busy = (busy_after - busy_before) / (total_after - total_before)
        phase.rss_peak_kib = peak_rss_kib()


@dataclass
class CaseResult:
    """One benchmark case's figures (picklable, so children can return it)."""

    events: int
    seconds: float
    rss_peak_kib: int
    rss_growth_kib: int
    cpu_seconds: float = 0.0
    machine_busy: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.events_per_s, 1),
            "rss_peak_mib": round(self.rss_peak_kib / 1024, 1),
            "rss_growth_mib": round(self.rss_growth_kib / 1024, 1),
            "cpu_s": round(self.cpu_seconds, 3),
            "cpu_us_per_event": round(self.cpu_seconds / self.events * 1e6, 1) if self.events else None,
            "process_cpu_util": round(self.cpu_seconds / self.seconds, 2) if self.seconds > 0 else None,
            "machine_busy": None if self.machine_busy is None else round(self.machine_busy, 2),
            **self.extra,
        }


def case_result(events: int, phase: Phase, **extra: Any) -> CaseResult:
    """A :class:`CaseResult` for ``events`` written during ``phase``."""
    return CaseResult(
        events,
        phase.seconds,
        phase.rss_peak_kib,
        phase.rss_growth_kib,
        phase.cpu_seconds,
        phase.machine_busy,
        dict(extra),
    )


# -- processes ----------------------------------------------------------------------------------------
def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = fn(*args)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    else:
        conn.send(("ok", result))
    finally:
        conn.close()


def run_in_subprocess(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run module-level ``fn(*args)`` in a fresh spawned process and return its result.

    Each call gets a new interpreter, so ``ru_maxrss`` read in the child measures that call alone.
    """
    if kwargs:
        raise TypeError("run_in_subprocess takes positional arguments only")
    parent_end, child_end = _SPAWN.Pipe(duplex=False)
    process = _SPAWN.Process(target=_child, args=(child_end, fn, args))
    process.start()
    child_end.close()
    try:
        status, payload = parent_end.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} died (exit code {process.exitcode})") from None
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in a subprocess:\n{payload}")
    result: R = payload
    return result


def _worker(conn: Any, fn: Callable[..., Any], index: int, barrier: Barrier, args: tuple[Any, ...]) -> None:
    try:
        result = fn(index, barrier, *args)
    except BaseException:
        barrier.abort()  # release the siblings instead of leaving them waiting forever
        conn.send(("error", traceback.format_exc()))
    else:
        conn.send(("ok", result))
    finally:
        conn.close()


def run_workers(fn: Callable[..., R], processes: int, *args: Any) -> list[R]:
    """Run ``fn(index, barrier, *args)`` in ``processes`` spawned processes at once; return their results.

    ``barrier`` is a ``multiprocessing.Barrier(processes)``: workers set up, then ``barrier.wait()``
    so their measured phases start together.
    """
    barrier = _SPAWN.Barrier(processes)
    pipes = []
    children = []
    for index in range(processes):
        parent_end, child_end = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(target=_worker, args=(child_end, fn, index, barrier, args))
        process.start()
        child_end.close()
        pipes.append(parent_end)
        children.append(process)
    outcomes: list[tuple[str, Any]] = []
    for pipe, process in zip(pipes, children, strict=True):
        try:
            outcomes.append(pipe.recv())
        except EOFError:
            outcomes.append(("error", f"worker died (exit code {process.exitcode})"))
    for process in children:
        process.join()
    errors = [payload for status, payload in outcomes if status != "ok"]
    if errors:
        raise RuntimeError("worker process failed:\n" + "\n".join(errors))
    return [payload for _, payload in outcomes]


# -- databases ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PostgresSchema:
    """A throw-away schema: its name and a URL whose connections use it as ``search_path``."""

    name: str
    url: str
    server_url: str


def with_search_path(server_url: str, schema: str) -> str:
    """``server_url`` with ``options=-csearch_path=<schema>`` appended (URL-encoded)."""
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_postgres_schema(server_url: str, prefix: str = "bench") -> Iterator[PostgresSchema]:
    """Create a new schema, yield it, then ``DROP SCHEMA ... CASCADE`` it (even on error)."""
    import psycopg  # only when a benchmark uses PostgreSQL

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield PostgresSchema(name, with_search_path(server_url, name), server_url)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextmanager
def fresh_sqlite_file(name: str = "bench.db") -> Iterator[Path]:
    """A path to a SQLite file in a new temporary directory (removed afterwards with its WAL files)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        yield Path(directory) / name


# -- reporting ----------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def postgres_info(server_url: str) -> dict[str, Any]:
    """Server version and the settings that decide commit cost."""
    import psycopg

    try:
        with psycopg.connect(server_url, autocommit=True) as conn:
            info: dict[str, Any] = {"server_version": conn.execute("SHOW server_version").fetchone()[0]}  # type: ignore[index]
            for setting in ("synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "max_connections"):
                row = conn.execute(f"SHOW {setting}").fetchone()
                info[setting] = None if row is None else row[0]
            return info
    except psycopg.Error as error:
        return {"error": str(error)}


def speed_reference(runs: int = 3) -> dict[str, float]:
    """How fast this machine runs Python today, to compare figures taken on different machines.

    The machines of this project differ by up to 2x per core between sessions (the same code loaded 1M
    eligibility rows in 81 s on one and 162 s on another), so a wall-clock target is read against this:
    the CPU milliseconds of a fixed pure-Python loop (integer and dict work, 2,000,000 iterations) and of
    SHA-256 over 64 MiB, each the best of ``runs`` (the least disturbed by whatever else runs).
    """
    loop = min(_cpu_ms(_python_loop) for _ in range(runs))
    block = bytes(1 << 20)

    def hashing() -> None:
        digest = hashlib.sha256()
        for _ in range(64):
            digest.update(block)

    return {
        "python_loop_cpu_ms": round(loop, 1),
        "sha256_64mib_cpu_ms": round(min(_cpu_ms(hashing) for _ in range(runs)), 1),
    }


def _python_loop() -> None:
    table: dict[int, int] = {}
    total = 0
    for i in range(2_000_000):
        total += i * 3 % 7
        table[i & 1023] = total
    if len(table) != 1024:  # keeps the work observable
        raise RuntimeError("speed reference loop")


def _cpu_ms(work: Callable[[], None]) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000


def machine_info(postgres_url: str | None = None) -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and database versions, and :func:`speed_reference`."""
    try:
        meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        memory_gib: float | None = round(int(meminfo[1]) / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        memory_gib = None
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "speed": speed_reference(),
    }
    if postgres_url is not None:
        info["postgresql"] = postgres_info(postgres_url)
    return info


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(message: str) -> None:
    """Progress message on stderr."""
    print(message, file=sys.stderr, flush=True)


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    """A plain aligned table on stderr; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(cells)
        )

    out = sys.stderr
    if title:
        print(title, file=out)
    print(line(headers), file=out)
    print("  ".join("-" * width for width in widths), file=out)
    for row in rows:
        print(line(row), file=out)
    out.flush()


def emit_json(document: dict[str, Any], path: Path | None = None) -> None:
    """Print ``document`` as one line: the last line of stdout. Optionally also write it to ``path``."""
    text = json.dumps(document, separators=(",", ":"))
    if path is not None:
        path.write_text(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()
    print(text, flush=True)
