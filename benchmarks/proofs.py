"""Proofs at scale: sealing rate, proof latency and verification rate at N entries, vs pymerkle 7.

For each backend (SQLite, PostgreSQL; a fresh temp file / a fresh schema each) in one run:

1. **Fill (setup, not measured).** N synthetic log rows go straight into ``ledger_log`` (SQLite:
   ``executemany`` in transactions of 100k rows; PostgreSQL: ``COPY``, then ``VACUUM ANALYZE`` and a
   ``CHECKPOINT``, as autovacuum would leave it). Entries are real version-1 envelopes (RFC 8785 canonical
   JSON, ~350 B, hash-chained through ``prev``; 1,024 aggregates interleaved), deterministic from
   ``--seed``; ``leaf_hash`` is SHA-256(0x00 || entry). The first 1,000 are decoded and re-encoded with
   ``ledger_core.engine.envelope`` to check they are byte-exact envelopes.
2. **Sealing (measured).** The real ``Sealer`` (``SealPolicy(max_batch_entries=--seal-batch)``, an Ed25519
   key from ``adapters.files.signing_key``) integrates the backlog as N / batch signed checkpoints. The latest
   checkpoint's signature is verified and its root compared across backends and with pymerkle's.
3. **Proof generation (measured).** Through ``ProofService`` in the case's process after a warm-up:
   ``--samples`` inclusion proofs of random positions against the latest checkpoint, and ``--samples``
   consistency proofs between two random checkpoints (old < new). Latency per call, p50/p99.
4. **Verification (measured).** ``proofs.verify_inclusion`` / ``proofs.verify_consistency`` over those
   proofs, one thread, repeated for at least ``VERIFY_SECONDS``: proofs per second.

Baseline: pymerkle 7 ``SqliteTree`` fed the same entries with its bulk path (``append_entries``, one
transaction per 100k) at ``--pymerkle-entries`` (default N); append rate, the first (cold) inclusion
proof, then ``--pymerkle-samples`` warm inclusion and consistency proofs (the same checkpoint sizes).

Each case runs in its own spawned process (fills too), so its peak RSS (``ru_maxrss``) is its own.

Targets: proof generation p99 <= 2 ms (defined at 1M entries), sealing >= 50,000 entries/s,
verification >= 20,000 proofs/s.

Usage: ``python benchmarks/proofs.py [--quick] [--entries N] [--backends sqlite,postgresql]
[--seal-batch B] [--samples S] [--pymerkle-entries M (0: skip)] [--pymerkle-samples K]``.
A table goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import base_parser as common_parser
from _common import (
    emit_json,
    fmt_mib,
    fmt_rate,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    measure_phase,
    parse_backends,
    peak_rss_kib,
    print_table,
    run_in_subprocess,
    utc_now,
)

from adapters.files.signing_key import ensure_signing_key
from adapters.log_recorder import system_clock
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.envelope import EventDraft, decode_entry, encode_entry
from ledger_core.engine.right_edge import RightEdge
from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs.checkpoint import verify_checkpoint  # submodules: mypy sees `proofs` as this file
from proofs.note import vkey_from_public_key
from proofs.verify import verify_consistency, verify_inclusion

FULL_ENTRIES = 1_000_000
QUICK_ENTRIES = 50_000
SEAL_BATCH = 100_000  # SealPolicy.max_batch_entries: entries per checkpoint
QUICK_SEAL_BATCH = 5_000  # quick runs still get 10 checkpoints to prove consistency between
SAMPLES = 2_000  # inclusion and consistency proofs timed per backend
WARMUP = 200  # proofs of each kind before timing
VERIFY_SECONDS = 1.0  # least time spent verifying, per kind
PYMERKLE_SAMPLES = 50
QUICK_PYMERKLE_SAMPLES = 20
FILL_CHUNK = 100_000  # rows per fill transaction (and per pymerkle append_entries call)
CHECKED_ENTRIES = 1_000  # entries re-encoded with ledger_core.engine.envelope to prove the template exact

TARGET_P99_MS = 2.0
TARGET_P99_AT = 1_000_000
TARGET_SEAL = 50_000.0
TARGET_VERIFY = 20_000.0

LOG_COLUMNS = "position, event_id, originator_id, originator_version, topic, partner_id, recorded_at, entry, leaf_hash"
Row = tuple[int, str, str, int, str, str | None, str, bytes, bytes]


# -- synthetic log --------------------------------------------------------------------------------------
AGGREGATE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Claim", ("ClaimSubmitted", "ClaimDocumentAttached", "ClaimReviewed", "ClaimApproved", "ClaimPaid")),
    ("Member", ("MemberEnrolled", "MemberAddressChanged", "MemberPlanChanged")),
    ("Subscription", ("SubscriptionStarted", "SubscriptionRenewed", "SubscriptionPaymentRecorded")),
)
OPEN_AGGREGATES_BITS = 10
OPEN_AGGREGATES = 1 << OPEN_AGGREGATES_BITS  # aggregates interleaved in the log at any time
# RFC 8785 canonical JSON of a version-1 envelope (keys in sorted order, no whitespace); checked against
# ledger_core.engine.envelope.encode_entry for the first CHECKED_ENTRIES entries of every fill.
ENTRY_TEMPLATE = (
    '{"aggregate":{"id":"%s","prevPosition":%s,"type":"%s","version":%d},"eventId":"%s","partnerId":%s,'
    '"payload":{"amount":"%d.%02d","currency":"USD","reference":"REF-%010X"},'
    '"position":%d,"prev":%s,"recordedAt":"%s","type":"%s","v":1}'
)
BASE_SECOND = 1_767_225_600  # 2026-01-01T00:00:00Z
MICROS_PER_ENTRY = 250  # synthetic arrival rate: 4,000 entries/s


@dataclass(slots=True)
class _Aggregate:
    id: str
    kind: int
    partner: str | None
    events_left: int
    version: int = 0
    last_position: int = -1


class EntryFactory:
    """Deterministic synthetic log rows, in position order, hash-chained like the real log."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.position = 0
        self.prev_hex: str | None = None
        self.open = [self._new_aggregate() for _ in range(OPEN_AGGREGATES)]
        self._second = -1
        self._second_text = ""

    def _uuid(self) -> str:
        """A random (seeded) version-4 UUID string, without the cost of ``uuid.UUID``."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _new_aggregate(self) -> _Aggregate:
        rng = self.rng
        partner = None if rng.random() < 0.1 else f"partner-{rng.randrange(500):04d}"
        return _Aggregate(self._uuid(), rng.randrange(len(AGGREGATE_KINDS)), partner, rng.randint(1, 12))

    def _recorded_at(self, position: int) -> str:
        micros = position * MICROS_PER_ENTRY
        second = BASE_SECOND + micros // 1_000_000
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{micros % 1_000_000:06d}Z"

    def rows(self, count: int) -> list[Row]:
        """The next ``count`` rows: (position, event_id, aggregate_id, version, type, partner, at, entry, leaf)."""
        getrandbits, sha256, template = self.rng.getrandbits, hashlib.sha256, ENTRY_TEMPLATE
        out: list[Row] = []
        for _ in range(count):
            position = self.position
            slot = getrandbits(OPEN_AGGREGATES_BITS)
            aggregate = self.open[slot]
            aggregate.version += 1
            kind, events = AGGREGATE_KINDS[aggregate.kind]
            event_type = events[min(aggregate.version, len(events)) - 1]
            event_id = self._uuid()
            recorded_at = self._recorded_at(position)
            prev_position = "null" if aggregate.last_position < 0 else str(aggregate.last_position)
            partner = "null" if aggregate.partner is None else f'"{aggregate.partner}"'
            prev = "null" if self.prev_hex is None else f'"{self.prev_hex}"'
            entry = (
                template
                % (
                    aggregate.id,
                    prev_position,
                    kind,
                    aggregate.version,
                    event_id,
                    partner,
                    getrandbits(17),
                    getrandbits(6),
                    getrandbits(40),
                    position,
                    prev,
                    recorded_at,
                    event_type,
                )
            ).encode()
            leaf = sha256(b"\x00" + entry).digest()
            out.append(
                (
                    position,
                    event_id,
                    aggregate.id,
                    aggregate.version,
                    event_type,
                    aggregate.partner,
                    recorded_at,
                    entry,
                    leaf,
                )
            )
            aggregate.last_position = position
            aggregate.events_left -= 1
            if aggregate.events_left == 0:
                self.open[slot] = self._new_aggregate()
            self.prev_hex = leaf.hex()
            self.position = position + 1
        return out


def check_rows(rows: Sequence[Row]) -> None:
    """Decode each entry and re-encode it with the ledger's own encoder: the bytes must be identical."""
    for position, event_id, aggregate_id, version, event_type, partner, recorded_at, entry, leaf in rows:
        env = decode_entry(entry)
        draft = EventDraft(env.event_id, env.type, env.aggregate_type, env.aggregate_id, version, partner, env.payload)
        again = encode_entry(
            draft,
            position=position,
            prev=None if env.prev is None else bytes.fromhex(env.prev),
            aggregate_prev_position=env.aggregate_prev_position,
            recorded_at=recorded_at,
        )
        if again != entry or (env.event_id, env.aggregate_id, env.type) != (event_id, aggregate_id, event_type):
            raise RuntimeError(f"synthetic entry {position} is not a canonical envelope:\n{entry!r}\n{again!r}")
        if leaf != hashlib.sha256(b"\x00" + entry).digest():
            raise RuntimeError(f"leaf hash of entry {position} is wrong")


# -- fills (setup, each in its own process) ----------------------------------------------------------------
def fill_sqlite(path: str, entries: int, seed: int) -> dict[str, Any]:
    """Create the ledger's tables (via the tree store) and bulk-insert ``entries`` synthetic rows."""
    with tempfile.TemporaryDirectory(prefix="bench-proofs-") as data_dir:
        open_tree_store(StorageConfig(Path(data_dir), f"sqlite://{path}")).close()
    factory = EntryFactory(seed)
    entry_bytes = 0
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # setup only: the measured store opens its own connections
        conn.execute("PRAGMA cache_size=-262144")
        sql = f"INSERT INTO ledger_log ({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        for first in range(0, entries, FILL_CHUNK):
            rows = factory.rows(min(FILL_CHUNK, entries - first))
            if first == 0:
                check_rows(rows[:CHECKED_ENTRIES])
            entry_bytes += sum(len(row[7]) for row in rows)
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"seconds": time.perf_counter() - start, "entry_bytes_mean": entry_bytes / max(entries, 1)}


def fill_postgres(url: str, entries: int, seed: int) -> dict[str, Any]:
    """Create the ledger's tables (via the tree store) and ``COPY`` ``entries`` synthetic rows in."""
    import psycopg

    with tempfile.TemporaryDirectory(prefix="bench-proofs-") as data_dir:
        open_tree_store(StorageConfig(Path(data_dir), url)).close()
    factory = EntryFactory(seed)
    entry_bytes = 0
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, entries, FILL_CHUNK):
            rows = factory.rows(min(FILL_CHUNK, entries - first))
            if first == 0:
                check_rows(rows[:CHECKED_ENTRIES])
            entry_bytes += sum(len(row[7]) for row in rows)
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(f"COPY ledger_log ({LOG_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        conn.execute("VACUUM ANALYZE ledger_log")
        with contextlib.suppress(psycopg.Error):  # needs superuser or pg_checkpoint; only a nicety
            conn.execute("CHECKPOINT")  # so the measured phases do not pay for the fill's WAL
    return {"seconds": time.perf_counter() - start, "entry_bytes_mean": entry_bytes / max(entries, 1)}


def database_mib(url: str) -> float | None:
    """Size on disk of the ledger's tables (with indexes): the SQLite file, or the PostgreSQL relations."""
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite://"))
        files = [path, Path(f"{path}-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('ledger_log') + pg_total_relation_size('merkle_tiles')"
            " + pg_total_relation_size('checkpoints')"
        ).fetchone()
    return None if row is None else round(int(row[0]) / 2**20, 1)


NODE_ROWS_SCHEMA = {  # the one-row-per-node layout tiles replaced (issue 13), as it was created
    "sqlite": "CREATE TABLE node_rows_baseline (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "postgresql": "CREATE TABLE node_rows_baseline (level SMALLINT NOT NULL, idx BIGINT NOT NULL,"
    " hash BYTEA NOT NULL, PRIMARY KEY (level, idx))",
}


def tree_storage(url: str, store: Any, entries: int) -> dict[str, Any]:
    """Bytes on disk of the tree per entry: the tiles as stored, and the same tree as one row per node (level >= 1,
    the old layout: a table created, filled with every node the tiles imply, measured and dropped), same ledger."""
    nodes = _upper_nodes(store, entries)  # streamed: the case's peak RSS stays the proofs' own
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)
        try:
            conn.execute(NODE_ROWS_SCHEMA["sqlite"])
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO node_rows_baseline VALUES (?, ?, ?)", nodes)
            conn.execute("COMMIT")
            sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
            conn.execute("DROP TABLE node_rows_baseline")
        finally:
            conn.close()
        tiles = sizes.get("merkle_tiles", 0) + sizes.get("sqlite_autoindex_merkle_tiles_1", 0)
        rows = sizes.get("node_rows_baseline", 0)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute(NODE_ROWS_SCHEMA["postgresql"])
            with pg.cursor() as cursor, cursor.copy("COPY node_rows_baseline FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int2", "int8", "bytea"])
                for row in nodes:
                    copy.write_row(row)
            pg.execute("VACUUM ANALYZE node_rows_baseline")
            found = pg.execute(
                "SELECT pg_total_relation_size('merkle_tiles'), pg_total_relation_size('node_rows_baseline')"
            ).fetchone()
            pg.execute("DROP TABLE node_rows_baseline")
        tiles, rows = (int(found[0]), int(found[1])) if found else (0, 0)
    return {
        "tiles_bytes_per_entry": round(tiles / entries, 2),
        "node_rows_bytes_per_entry": round(rows / entries, 2),
        "node_rows": entries - entries.bit_count(),
    }


def _upper_nodes(store: Any, entries: int) -> Iterator[tuple[int, int, bytes]]:
    for start in range(0, entries, 65_536):
        completed = store.nodes_completed_in(start, min(entries, start + 65_536))
        yield from ((level, index, digest) for (level, index), digest in completed.items() if level > 0)


# -- measuring -------------------------------------------------------------------------------------------
@dataclass
class Timings:
    """Per-call wall and thread-CPU latencies (ns) of a run of calls, their results, and machine load."""

    wall_ns: list[int]
    cpu_ns: list[int]
    results: list[Any]
    machine_busy: float | None

    def summary(self) -> dict[str, Any]:
        """Count, p50/p99 (nearest rank), mean and max wall latency in ms; p50/p99 of this thread's CPU time.

        CPU time is what the call cost this process (SQLite works in-process; PostgreSQL's server time is
        not in it): a wall p99 well above the CPU p99 is waiting (database server, other processes).
        """
        if not self.wall_ns:
            return {"samples": 0, "p50_ms": None, "p99_ms": None}
        wall, cpu = sorted(self.wall_ns), sorted(self.cpu_ns)
        return {
            "samples": len(wall),
            "p50_ms": _rank(wall, 0.50),
            "p99_ms": _rank(wall, 0.99),
            "mean_ms": round(sum(wall) / len(wall) / 1e6, 4),
            "max_ms": round(wall[-1] / 1e6, 4),
            "cpu_p50_ms": _rank(cpu, 0.50),
            "cpu_p99_ms": _rank(cpu, 0.99),
            "machine_busy": None if self.machine_busy is None else round(self.machine_busy, 2),
        }


def _rank(ordered: Sequence[int], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted ns values, in ms."""
    return round(ordered[max(math.ceil(q * len(ordered)) - 1, 0)] / 1e6, 4)


def timed_calls(calls: Sequence[Callable[[], Any]]) -> Timings:
    """Run each call once, timing it (wall and this thread's CPU)."""
    wall: list[int] = []
    cpu: list[int] = []
    results: list[Any] = []
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    with measure_phase() as phase:
        for call in calls:
            start, start_cpu = clock(), thread_clock()
            results.append(call())
            cpu.append(thread_clock() - start_cpu)
            wall.append(clock() - start)
    return Timings(wall, cpu, results, phase.machine_busy)


def rate(items: Sequence[tuple[Any, ...]], check: Callable[..., Any], min_seconds: float) -> dict[str, Any]:
    """Calls of ``check(*item)`` over ``items``, repeated for at least ``min_seconds``, in one thread.

    ``per_s`` is per wall second; ``per_cpu_s`` per second of this thread's CPU time (what one core does
    when nothing else competes for it); ``machine_busy`` the share of all cores busy meanwhile.
    """
    if not items:
        return {"per_s": None, "per_cpu_s": None, "machine_busy": None}
    done = 0
    with measure_phase() as phase:
        start, start_cpu = time.perf_counter(), time.thread_time()
        while True:
            for item in items:
                check(*item)
            done += len(items)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        cpu = time.thread_time() - start_cpu
    return {
        "per_s": round(done / elapsed, 1),
        "per_cpu_s": round(done / cpu, 1) if cpu > 0 else None,
        "machine_busy": None if phase.machine_busy is None else round(phase.machine_busy, 2),
    }


@dataclass(frozen=True)
class CaseParams:
    entries: int
    seal_batch: int
    samples: int
    verify_seconds: float
    seed: int


def ledger_case(url: str, params: CaseParams) -> dict[str, Any]:
    """Seal the filled log at ``url``, then time proofs and verification (one process, one store)."""
    rng = random.Random(params.seed + 1)
    with tempfile.TemporaryDirectory(prefix="bench-proofs-") as data_dir:
        signer = ensure_signing_key(Path(data_dir))
        vkey = vkey_from_public_key(signer.name, signer.private_key.public_key())
        store = open_tree_store(StorageConfig(Path(data_dir), url))
        try:
            rss_start = peak_rss_kib()
            # -- sealing
            edge = RightEdge()  # as the embedded sealer keeps it: proofs of the newest entries from memory
            policy = SealPolicy(max_batch_entries=params.seal_batch)
            sealer = Sealer(store, signer, system_clock, policy=policy, edge=edge)
            batch_seconds: list[float] = []
            nodes_written = 0
            with measure_phase() as seal:
                while True:
                    started = time.perf_counter()
                    result = sealer.seal_once()
                    if result is None:
                        break
                    batch_seconds.append(time.perf_counter() - started)
                    nodes_written += result.nodes_written
            latest = store.latest_checkpoint()
            if latest is None or latest.size != params.entries:
                raise RuntimeError(f"sealed {None if latest is None else latest.size} entries, not {params.entries}")
            verify_checkpoint(latest.note, vkey)
            checkpoints = list(store.checkpoints(0, params.entries + 1))
            roots = {c.size: c.root_hash for c in checkpoints}
            size = latest.size

            # -- inclusion proofs against the latest checkpoint
            service = ProofService(store)
            started = time.perf_counter()
            service.inclusion(rng.randrange(size))
            first_ms = (time.perf_counter() - started) * 1000
            for _ in range(WARMUP):
                service.inclusion(rng.randrange(size))
            positions = [rng.randrange(size) for _ in range(params.samples)]
            inclusion = timed_calls([lambda p=p: service.inclusion(p) for p in positions])  # type: ignore[misc]
            inclusion_items: list[tuple[Any, ...]] = []
            for proof, record in inclusion.results:
                if record.size != size:
                    raise RuntimeError("the latest checkpoint moved during the benchmark")
                inclusion_items.append((proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.path, roots[size]))

            # -- inclusion proofs of the newest entries (a write's proof): nodes from the store vs from memory
            recent = [size - 1 - rng.randrange(min(edge.window, size)) for _ in range(WARMUP + params.samples)]
            recent_timings = {}
            for source, recent_service in (("store", service), ("memory", ProofService(store, edge=edge))):
                for position in recent[:WARMUP]:
                    recent_service.prove_many([position], size)
                recent_timings[source] = timed_calls(
                    [lambda p=p, s=recent_service: s.prove_many([p], size) for p in recent[WARMUP:]]  # type: ignore[misc]
                )
            if recent_timings["store"].results != recent_timings["memory"].results:
                raise RuntimeError("proofs from memory differ from proofs from the store")

            # -- consistency proofs between two random checkpoints
            sizes = sorted(roots)
            consistency = Timings([], [], [], None)
            consistency_items: list[tuple[Any, ...]] = []
            if len(sizes) >= 2:
                pairs = [tuple(sorted(rng.sample(sizes, 2))) for _ in range(WARMUP + params.samples)]
                for old, new in pairs[:WARMUP]:
                    service.consistency(old, new)
                consistency = timed_calls(
                    [lambda a=a, b=b: service.consistency(a, b) for a, b in pairs[WARMUP:]]  # type: ignore[misc]
                )
                for proof, _, _ in consistency.results:
                    consistency_items.append(
                        (proof.from_size, proof.to_size, roots[proof.from_size], roots[proof.to_size], proof.path)
                    )

            # -- verification: pure CPU, this thread only; the first pass checks every proof
            verify_inclusion_rate = rate(inclusion_items, verify_inclusion, params.verify_seconds)
            verify_consistency_rate = rate(consistency_items, verify_consistency, params.verify_seconds)
            storage = tree_storage(url, store, params.entries)
        finally:
            store.close()
        db_mib = database_mib(url)
    seal_rate = params.entries / seal.seconds if seal.seconds > 0 else 0.0
    return {
        "entries": params.entries,
        "root": roots[size].hex(),
        "checkpoint_verified": True,
        "db_mib": db_mib,
        "tree_storage": storage,
        "sealing": {
            "entries_per_s": round(seal_rate, 1),
            "seconds": round(seal.seconds, 3),
            "checkpoints": len(batch_seconds),
            "max_batch_entries": params.seal_batch,
            "batch_s_min": round(min(batch_seconds), 3) if batch_seconds else None,
            "batch_s_max": round(max(batch_seconds), 3) if batch_seconds else None,
            "nodes_written": nodes_written,
            "process_cpu_util": round(seal.cpu_seconds / seal.seconds, 2) if seal.seconds > 0 else None,
            "machine_busy": None if seal.machine_busy is None else round(seal.machine_busy, 2),
            "rss_peak_mib": round(seal.rss_peak_kib / 1024, 1),
        },
        "inclusion": {
            **inclusion.summary(),
            "first_ms": round(first_ms, 3),
            "against": "latest checkpoint",
            "path_hashes_mean": round(sum(len(i[3]) for i in inclusion_items) / max(len(inclusion_items), 1), 1),
        },
        "recent_inclusion": {
            "positions": f"the newest {min(edge.window, size)} entries (the right edge in memory)",
            "store": recent_timings["store"].summary(),
            "memory": recent_timings["memory"].summary(),
        },
        "consistency": {
            **consistency.summary(),
            "pairs": "two random checkpoints, old < new",
            "path_hashes_mean": round(sum(len(i[4]) for i in consistency_items) / max(len(consistency_items), 1), 1)
            if consistency_items
            else None,
        },
        "verify": {"inclusion": verify_inclusion_rate, "consistency": verify_consistency_rate, "all_valid": True},
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_peak_mib": round(peak_rss_kib() / 1024, 1),
    }


def pymerkle_case(
    path: str, entries: int, seed: int, samples: int, sizes: list[int], verify_s: float
) -> dict[str, Any]:
    """pymerkle 7 ``SqliteTree``: bulk append the same entries, then cold and warm proofs."""
    import pymerkle

    rng = random.Random(seed + 2)
    factory = EntryFactory(seed)
    tree = pymerkle.SqliteTree(path)
    append_seconds = 0.0
    try:
        with measure_phase() as append:
            for first in range(0, entries, FILL_CHUNK):
                chunk = [row[7] for row in factory.rows(min(FILL_CHUNK, entries - first))]
                started = time.perf_counter()
                tree.append_entries(chunk)  # its bulk path: hash + executemany, one transaction per call
                append_seconds += time.perf_counter() - started
                del chunk
    finally:
        tree.close()
    tree = pymerkle.SqliteTree(path)  # a new instance: empty subroot cache (the file is in the page cache)
    try:
        size = int(tree.get_size())
        started = time.perf_counter()
        tree.prove_inclusion(rng.randrange(size) + 1, size)  # pymerkle counts leaves from 1
        first_ms = (time.perf_counter() - started) * 1000
        indexes = [rng.randrange(size) + 1 for _ in range(samples)]
        inclusion = timed_calls([lambda i=i: tree.prove_inclusion(i, size) for i in indexes])  # type: ignore[misc]
        usable = sorted({s for s in sizes if 0 < s <= size} | {size})
        consistency = Timings([], [], [], None)
        consistency_items: list[tuple[Any, ...]] = []
        if len(usable) >= 2:
            pairs = [tuple(sorted(rng.sample(usable, 2))) for _ in range(samples)]
            consistency = timed_calls(
                [lambda a=a, b=b: tree.prove_consistency(a, b) for a, b in pairs]  # type: ignore[misc]
            )
            consistency_items = [
                (tree.get_root(a), tree.get_root(b), proof)
                for (a, b), proof in zip(pairs, consistency.results, strict=True)
            ]
        root = bytes(tree.get_root(size))
        inclusion_items = [(tree.get_leaf(i), root, proof) for i, proof in zip(indexes, inclusion.results, strict=True)]
        verify_inclusion_rate = rate(inclusion_items, pymerkle.verify_inclusion, verify_s)
        verify_consistency_rate = rate(consistency_items, pymerkle.verify_consistency, verify_s)
    finally:
        tree.close()
    return {
        "entries": entries,
        "root": root.hex(),
        "db_mib": round(Path(path).stat().st_size / 2**20, 1),
        "append": {
            "entries_per_s": round(entries / append_seconds, 1) if append_seconds > 0 else None,
            "seconds": round(append_seconds, 3),
            "method": f"SqliteTree.append_entries, {FILL_CHUNK:,} entries per call (one transaction each)",
            "rss_peak_mib": round(append.rss_peak_kib / 1024, 1),
        },
        "inclusion": {**inclusion.summary(), "first_ms": round(first_ms, 1), "first": "cold subroot cache"},
        "consistency": consistency.summary(),
        "verify": {"inclusion": verify_inclusion_rate, "consistency": verify_consistency_rate},
        "rss_peak_mib": round(peak_rss_kib() / 1024, 1),
    }


# -- driver -------------------------------------------------------------------------------------------------
def run_backend(backend: str, params: CaseParams, postgres_url: str) -> dict[str, Any]:
    """Fill a fresh database (one process), then seal and prove (another process)."""
    if backend == "sqlite":
        with fresh_sqlite_file("ledger.db") as path:
            fill = run_in_subprocess(fill_sqlite, str(path.resolve()), params.entries, params.seed)
            log(f"{'':<12} filled in {fill['seconds']:.1f} s; sealing and proving ...")
            result: dict[str, Any] = run_in_subprocess(ledger_case, f"sqlite://{path.resolve()}", params)
    else:
        with fresh_postgres_schema(postgres_url, prefix="bench_proofs") as schema:
            fill = run_in_subprocess(fill_postgres, schema.url, params.entries, params.seed)
            log(f"{'':<12} filled in {fill['seconds']:.1f} s; sealing and proving ...")
            result = run_in_subprocess(ledger_case, schema.url, params)
    result["fill"] = {
        "seconds": round(fill["seconds"], 2),
        "entries_per_s": round(params.entries / fill["seconds"], 1),
        "entry_bytes_mean": round(fill["entry_bytes_mean"], 1),
        "measured": False,
    }
    return result


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    targets: dict[str, Any] = {
        "proof_p99_ms_max": TARGET_P99_MS,
        "proof_p99_defined_at_entries": TARGET_P99_AT,
        "sealing_min_entries_per_s": TARGET_SEAL,
        "verify_min_proofs_per_s": TARGET_VERIFY,
    }
    for backend, r in results.items():
        inc, con, ver = r["inclusion"]["p99_ms"], r["consistency"]["p99_ms"], r["verify"]
        targets[backend] = {
            "at_entries": r["entries"],
            "inclusion_p99_met": None if inc is None else inc <= TARGET_P99_MS,
            "consistency_p99_met": None if con is None else con <= TARGET_P99_MS,
            "sealing_met": r["sealing"]["entries_per_s"] >= TARGET_SEAL,
            "verify_inclusion_met": _at_least(ver["inclusion"]["per_s"], TARGET_VERIFY),
            "verify_consistency_met": _at_least(ver["consistency"]["per_s"], TARGET_VERIFY),
        }
    return targets


def _ms(summary: dict[str, Any]) -> str:
    if not summary.get("samples"):
        return "-"
    return f"{summary['p50_ms']:.3f} / {summary['p99_ms']:.3f}"


def _cpu(summary: dict[str, Any]) -> str:
    if not summary.get("samples"):
        return "-"
    return f"{summary['cpu_p50_ms']:.3f} / {summary['cpu_p99_ms']:.3f}"


def _per_s(figures: dict[str, Any]) -> str:
    return "-" if figures["per_s"] is None else f"{fmt_rate(figures['per_s'])} ({fmt_rate(figures['per_cpu_s'])})"


def _busy(summary: dict[str, Any]) -> str:
    busy = summary.get("machine_busy")
    return "-" if busy is None else f"{busy:.0%}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("PASS" if met else "FAIL")


def report(results: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, targets: dict[str, Any]) -> None:
    backends = list(results)
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    headers = ["", *(names[b] for b in backends)] + (
        [f"pymerkle SqliteTree (N={baseline['entries']:,})"] if baseline else []
    )

    def row(label: str, cell: Callable[[dict[str, Any]], str], base: str = "") -> list[str]:
        return [label, *(cell(results[b]) for b in backends)] + ([base] if baseline else [])

    b = baseline or {}
    rows = [
        row("entries (N)", lambda r: f"{r['entries']:,}", f"{b.get('entries', 0):,}"),
        row("entry bytes (mean)", lambda r: f"{r['fill']['entry_bytes_mean']:.0f}", "same entries"),
        row("fill, setup, unmeasured (s)", lambda r: f"{r['fill']['seconds']:.1f}"),
        row(
            "sealing entries/s (checkpoints)",
            lambda r: f"{fmt_rate(r['sealing']['entries_per_s'])} ({r['sealing']['checkpoints']})",
        ),
        row(
            "  sealer CPU util / machine busy",
            lambda r: f"{r['sealing']['process_cpu_util']:.2f} / {_busy(r['sealing'])}",
        ),
        row("pymerkle append entries/s", lambda r: "", fmt_rate(b.get("append", {}).get("entries_per_s"))),
        row(
            "inclusion p50 / p99 ms (samples)",
            lambda r: f"{_ms(r['inclusion'])} ({r['inclusion']['samples']})",
            f"{_ms(b['inclusion'])} ({b['inclusion']['samples']})" if baseline else "",
        ),
        row(
            "  client CPU p50 / p99 ms",
            lambda r: _cpu(r["inclusion"]),
            _cpu(b["inclusion"]) if baseline else "",
        ),
        row(
            "  machine busy (all cores)",
            lambda r: _busy(r["inclusion"]),
            _busy(b["inclusion"]) if baseline else "",
        ),
        row(
            "first (cold) inclusion ms",
            lambda r: f"{r['inclusion']['first_ms']:.2f}",
            f"{b['inclusion']['first_ms']:,.0f}" if baseline else "",
        ),
        row("newest entries: inclusion from store p50 / p99 ms", lambda r: _ms(r["recent_inclusion"]["store"])),
        row("  client CPU p50 / p99 ms", lambda r: _cpu(r["recent_inclusion"]["store"])),
        row("newest entries: from memory p50 / p99 ms", lambda r: _ms(r["recent_inclusion"]["memory"])),
        row("  client CPU p50 / p99 ms", lambda r: _cpu(r["recent_inclusion"]["memory"])),
        row(
            "consistency p50 / p99 ms (samples)",
            lambda r: f"{_ms(r['consistency'])} ({r['consistency']['samples']})",
            f"{_ms(b['consistency'])} ({b['consistency']['samples']})" if baseline else "",
        ),
        row(
            "  client CPU p50 / p99 ms",
            lambda r: _cpu(r["consistency"]),
            _cpu(b["consistency"]) if baseline else "",
        ),
        row(
            "verify inclusion/s: wall (per CPU s)",
            lambda r: _per_s(r["verify"]["inclusion"]),
            _per_s(b["verify"]["inclusion"]) if baseline else "",
        ),
        row(
            "verify consistency/s: wall (per CPU s)",
            lambda r: _per_s(r["verify"]["consistency"]),
            _per_s(b["verify"]["consistency"]) if baseline else "",
        ),
        row(
            "peak RSS MiB (sealing / whole case)",
            lambda r: f"{r['sealing']['rss_peak_mib']:.0f} / {r['rss_peak_mib']:.0f}",
            f"{b['append']['rss_peak_mib']:.0f} / {b['rss_peak_mib']:.0f}" if baseline else "",
        ),
        row("database MiB", lambda r: f"{r['db_mib']:,.0f}", f"{b['db_mib']:,.0f}" if baseline else ""),
        row(
            "tree bytes/entry: tiles / node rows",
            lambda r: "{tiles_bytes_per_entry:.1f} / {node_rows_bytes_per_entry:.1f}".format(**r["tree_storage"]),
        ),
    ]

    def target_row(label: str, key: str) -> list[str]:
        return row(label, lambda r: _verdict(targets[_backend_of(results, r)][key]))

    rows += [
        target_row(f"inclusion p99 <= {TARGET_P99_MS:g} ms", "inclusion_p99_met"),
        target_row(f"consistency p99 <= {TARGET_P99_MS:g} ms", "consistency_p99_met"),
        target_row(f"sealing >= {TARGET_SEAL:,.0f}/s", "sealing_met"),
        target_row(f"verify inclusion >= {TARGET_VERIFY:,.0f}/s", "verify_inclusion_met"),
        target_row(f"verify consistency >= {TARGET_VERIFY:,.0f}/s", "verify_consistency_met"),
    ]
    sizes = {r["entries"] for r in results.values()}
    note = "" if sizes == {TARGET_P99_AT} else f" (the p99 target is defined at {TARGET_P99_AT:,}; this run is {sizes})"
    print_table(
        headers,
        rows,
        title="\nProofs: sealing, proof generation (ProofService, warm, random) and verification."
        "\nLatency is wall time per call; client CPU is the calling thread's CPU time (PostgreSQL's server"
        " work is not in it);\nmachine busy is the share of all cores busy meanwhile (other processes included)."
        f"\nPeak RSS: ru_maxrss of the case's own process (fill excluded).{note}",
    )


def _backend_of(results: dict[str, dict[str, Any]], result: dict[str, Any]) -> str:
    return next(name for name, r in results.items() if r is result)


def main() -> None:
    parser = common_parser(__doc__.splitlines()[0] if __doc__ else "proofs benchmark")
    parser.add_argument(
        "--entries", type=int, default=None, help=f"log size N (default {FULL_ENTRIES:,}; quick {QUICK_ENTRIES:,})"
    )
    parser.add_argument(
        "--seal-batch",
        type=int,
        default=None,
        help=f"entries per checkpoint (default {SEAL_BATCH:,}; quick {QUICK_SEAL_BATCH:,})",
    )
    parser.add_argument("--samples", type=int, default=SAMPLES, help="timed proofs of each kind (default %(default)s)")
    parser.add_argument(
        "--pymerkle-entries", type=int, default=None, help="pymerkle baseline size (default N; 0 skips it)"
    )
    parser.add_argument(
        "--pymerkle-samples",
        type=int,
        default=None,
        help=f"pymerkle proofs of each kind (default {PYMERKLE_SAMPLES}; quick {QUICK_PYMERKLE_SAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=20260101, help="synthetic log seed (default %(default)s)")
    args = parser.parse_args()
    backends = parse_backends(args.backends)
    entries = args.entries or (QUICK_ENTRIES if args.quick else FULL_ENTRIES)
    seal_batch = args.seal_batch or (QUICK_SEAL_BATCH if args.quick else SEAL_BATCH)
    params = CaseParams(
        entries, seal_batch, args.samples, VERIFY_SECONDS / 2 if args.quick else VERIFY_SECONDS, args.seed
    )
    pm_entries = entries if args.pymerkle_entries is None else args.pymerkle_entries
    pm_samples = args.pymerkle_samples or (QUICK_PYMERKLE_SAMPLES if args.quick else PYMERKLE_SAMPLES)

    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for backend in backends:
        log(f"{backend:<12} {entries:,} entries: filling (setup) ...")
        results[backend] = run_backend(backend, params, args.postgres_url)
        r = results[backend]
        log(
            f"{'':<12} sealing {fmt_rate(r['sealing']['entries_per_s'])}/s, inclusion p99"
            f" {r['inclusion']['p99_ms']} ms, peak RSS {fmt_mib(int(r['rss_peak_mib'] * 1024))} MiB"
        )
    baseline: dict[str, Any] | None = None
    if pm_entries > 0:
        log(f"{'pymerkle':<12} {pm_entries:,} entries: append_entries, then {pm_samples} proofs of each kind ...")
        sizes = list(range(seal_batch, pm_entries, seal_batch))
        with fresh_sqlite_file("pymerkle.db") as path:
            baseline = run_in_subprocess(
                pymerkle_case, str(path.resolve()), pm_entries, args.seed, pm_samples, sizes, params.verify_seconds
            )
        log(
            f"{'':<12} append {fmt_rate(baseline['append']['entries_per_s'])}/s,"
            f" inclusion p99 {baseline['inclusion']['p99_ms']} ms"
        )
    roots = {name: r["root"] for name, r in results.items() if r["entries"] == entries}
    if baseline is not None and baseline["entries"] == entries:
        roots["pymerkle"] = baseline["root"]
    roots_agree = len(set(roots.values())) <= 1
    if not roots_agree:
        raise SystemExit(f"roots differ for the same {entries:,} entries: {roots}")
    targets = verdicts(results)
    report(results, baseline, targets)
    log(f"total wall time {time.perf_counter() - started:.1f} s")
    document: dict[str, Any] = {
        "benchmark": "proofs",
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "date": utc_now(),
        "quick": bool(args.quick),
        "workload": {
            "entries": entries,
            "seal_max_batch_entries": seal_batch,
            "samples": args.samples,
            "warmup": WARMUP,
            "verify_seconds": params.verify_seconds,
            "seed": args.seed,
            "entry": "version-1 envelope, RFC 8785 JSON, hash-chained, 1024 interleaved aggregates",
            "inclusion": "ProofService.inclusion(random position) against the latest checkpoint",
            "consistency": "ProofService.consistency(old, new), two random checkpoints, old < new",
            "pymerkle": None
            if baseline is None
            else {"version": "7.0.0", "entries": baseline["entries"], "samples": pm_samples},
        },
        "roots_agree": roots_agree,
        "compared_roots": sorted(roots),
    }
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            document[backend] = results[backend]
    if baseline is not None:
        document["pymerkle"] = baseline
    document["targets"] = targets
    emit_json(document, args.json_out)


if __name__ == "__main__":
    main()
