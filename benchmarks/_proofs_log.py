"""The proofs benchmark's synthetic log (benchmarks/proofs.py) and its fills.

:class:`EntryFactory` makes deterministic log rows (version-1 envelopes, RFC 8785 canonical JSON, hash-chained
through ``prev``, 1,024 aggregates interleaved); :func:`check_rows` proves them byte-exact envelopes with the
ledger's own encoder. :func:`fill_sqlite` / :func:`fill_postgres` write them straight into ``ledger_log``
(setup, not measured; each in its own process).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.envelope import EventDraft, decode_entry, encode_entry

FILL_CHUNK = 100_000  # rows per fill transaction (and per pymerkle append_entries call)
CHECKED_ENTRIES = 1_000  # entries re-encoded with ledger_core.engine.envelope to prove the template exact

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
