"""The ClaimFacts contract: the in-process index and the tables (SQLite and PostgreSQL) answer alike.

Every implementation reads the same log (a list of real envelope bytes behind the ``LogReader`` port) and
must give the answers :class:`~ledger_core.claims.facts.ClaimFactsIndex` gives for the same log prefix:
the recorded risk inputs and the replay of decisions depend on it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.claim_facts_rows import ClaimFact, FactBatch, FactsRead, FactsRequest
from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.storage import StorageConfig, open_fact_tables
from adapters.table_claim_facts import FactTables, TableClaimFacts
from ledger_core.claims.facts import CLAIM_SUBMITTED, DOCUMENT_REGISTERED, ClaimFacts, ClaimFactsIndex, FactsQuery
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft, decode_entry, encode_entry

DIGEST = hashlib.sha256(b"photo").hexdigest()
HASHES = (DIGEST, DIGEST.upper(), hashlib.sha256(b"other").hexdigest(), "not-a-digest")
"""A lowercase SHA-256, its other spelling (a distinct key), another digest and a text that is no digest."""
PARTNERS = ("acme_mutual", "rival_claims", "third_party")
CLAIM_IDS = tuple(f"00000000-0000-4000-8000-{number:012d}" for number in range(8))
MOMENTS = ("2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z", "2026-03-20T09:00:00Z")


class ListLog:
    """A log of envelope bytes behind the ``LogReader`` port (what the stored log returns)."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []

    def append(self, event_type: str, aggregate_id: str, partner_id: str | None, payload: dict[str, Any]) -> None:
        position = len(self.entries)
        draft = EventDraft(f"event-{position}", event_type, "test", aggregate_id, 1, partner_id, payload)
        entry = encode_entry(draft, position=position, prev=None, aggregate_prev_position=None, recorded_at=MOMENTS[0])
        self.entries.append(entry)

    def register(self, partner_id: str, digest: str, metadata: dict[str, str]) -> None:
        payload = {"sha256": digest, "document_type": "photo", "metadata": metadata}
        self.append(DOCUMENT_REGISTERED, f"document-{len(self.entries)}", partner_id, payload)

    def submit(
        self, claim_id: str, partner_id: str, hashes: Sequence[str], amount: str, when: str, policy: str
    ) -> None:
        metadata = {"policyReference": policy} if policy else {}
        payload = {
            "claim_type": "auto",
            "currency": "USD",
            "claim_amount": amount,
            "submitted_at": when,
            "documents": [{"type": "photo", "hash": digest, "metadata": metadata} for digest in hashes],
        }
        self.append(CLAIM_SUBMITTED, claim_id, partner_id, payload)

    def log_size(self) -> int:
        return len(self.entries)

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        rows = []
        for position in range(start, min(start + limit, len(self.entries))):
            envelope = decode_entry(self.entries[position])
            rows.append(
                StoredRow(
                    position, envelope.aggregate_id, 1, envelope.type, envelope.partner_id, self.entries[position], b""
                )
            )
        return rows

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        return [row for row in self.read_rows(0, len(self.entries)) if row.aggregate_id == aggregate_id]

    def index(self) -> ClaimFactsIndex:
        """The reference answer: a fresh index of the whole log."""
        built = ClaimFactsIndex()
        for row in self.read_rows(0, len(self.entries)):
            envelope = decode_entry(row.entry)
            built.feed(row.position, row.type, row.aggregate_id, row.partner_id, envelope.payload)
        return built


@pytest.fixture
def tables(tmp_path: Path, database_url: str) -> Iterator[FactTables]:
    opened = open_fact_tables(StorageConfig(tmp_path, database_url))
    yield opened
    opened.close()


@pytest.fixture
def log() -> ListLog:
    """One log per test (a Hypothesis test grows it across its examples)."""
    return ListLog()


@contextmanager
def implementations(log: ListLog, tables: FactTables) -> Iterator[list[ClaimFacts]]:
    """The memory index and the tables (small chunks: several batches per catch-up): answered from a tail
    alone, and written to the tables every few entries, in the asking thread or in the background (several
    processes' tails over the same tables, each finding the others have written some of its entries). Each is
    closed afterwards (a write in flight waited for), the shared tables left open."""
    shared = SharedTables(tables)
    table_facts = [
        TableClaimFacts(log, shared, chunk=4),
        TableClaimFacts(log, shared, chunk=4, flush_entries=3),
        TableClaimFacts(log, shared, chunk=2, flush_entries=5),
        TableClaimFacts(log, shared, chunk=4, flush_entries=3, flush_in_background=True),
        TableClaimFacts(log, shared, chunk=2, flush_entries=5, flush_in_background=True),
    ]
    try:
        yield [LogDerivedClaimFacts(log, chunk=4), *table_facts]
    finally:
        for facts in table_facts:
            facts.close()


class SharedTables:
    """Tables shared by several readers: closing a reader leaves them open (the fixture closes them)."""

    def __init__(self, tables: FactTables) -> None:
        self.tables = tables

    def progress(self) -> int:
        return self.tables.progress()

    def take_in(self, batch: FactBatch) -> int:
        return self.tables.take_in(batch)

    def read(self, as_of: int, request: FactsRequest) -> FactsRead:
        return self.tables.read(as_of, request)

    def close(self) -> None:
        """Left to the tables' owner."""


def query(claim_id: str, partner_id: str, hashes: Sequence[str], **overrides: Any) -> FactsQuery:
    fields: dict[str, Any] = {
        "claim_id": claim_id,
        "partner_id": partner_id,
        "claim_type": "auto",
        "currency": "USD",
        "hashes": tuple(hashes),
        "reference": ("policyReference", "POL-1"),
        "submitted_at": MOMENTS[0],
        "history_size": 3,
        "velocity_window_seconds": 86_400,
    }
    return FactsQuery(**{**fields, **overrides})


def test_every_implementation_answers_like_the_index(tables: FactTables, log: ListLog) -> None:
    """Registrations (first by the partner, metadata ``{}``), uses, amounts, references, a repeated claim."""
    log.register("acme_mutual", DIGEST, {})
    log.register("acme_mutual", DIGEST, {"policyReference": "later"})  # not the first: never answered
    log.register("rival_claims", DIGEST.upper(), {"policyReference": "POL-1"})
    for number, partner in enumerate(("acme_mutual", "acme_mutual", "rival_claims", "acme_mutual")):
        log.submit(CLAIM_IDS[number], partner, [DIGEST, DIGEST], f"{100 + number}.50", MOMENTS[number % 2], "POL-1")
    log.submit(CLAIM_IDS[0], "acme_mutual", [HASHES[2]], "999.00", MOMENTS[0], "")  # repeated claim id: ignored
    log.submit(CLAIM_IDS[5], "acme_mutual", [DIGEST.upper()], "7", MOMENTS[2], "POL-1")
    questions = [
        query(CLAIM_IDS[1], "acme_mutual", [DIGEST, DIGEST.upper(), HASHES[3]]),  # verified again
        query(CLAIM_IDS[7], "acme_mutual", [DIGEST], history_size=10, velocity_window_seconds=30 * 86_400),
        query(CLAIM_IDS[7], "rival_claims", [DIGEST.upper()], history_size=0, reference=None),
    ]
    expected = log.index().bulk_snapshot(questions)
    with implementations(log, tables) as readers:
        for facts in readers:
            assert facts.bulk_snapshot(questions) == expected
            assert [facts.snapshot(question) for question in questions] == list(expected.snapshots)
            assert facts.claims_listing("acme_mutual", DIGEST) == log.index().claims_listing("acme_mutual", DIGEST)
    assert expected.snapshots[0].registrations[DIGEST].metadata == {}
    assert expected.snapshots[0].usage[DIGEST].other_claims == 6  # three other claims, twice each
    assert expected.existing == {CLAIM_IDS[1]}


def test_processes_share_the_tables_and_take_each_entry_in_once(
    tmp_path: Path, database_url: str, log: ListLog
) -> None:
    """Four readers with their own connections (other processes) catching up at once: each fact taken in
    once, the same answers."""
    for number in range(40):
        log.submit(f"{CLAIM_IDS[number % 8]}-{number}", PARTNERS[number % 3], [DIGEST], f"{number}.00", MOMENTS[0], "P")
    opened = [open_fact_tables(StorageConfig(tmp_path, database_url)) for _ in range(4)]
    readers = [TableClaimFacts(log, tables, chunk=7) for tables in opened]
    try:
        with ThreadPoolExecutor(len(readers)) as pool:  # .result(): a reader's failure fails the test
            assert [done.result() for done in [pool.submit(reader.catch_up) for reader in readers]] == [40] * 4
        question = query(CLAIM_IDS[0], "acme_mutual", [DIGEST], reference=("policyReference", "P"), history_size=50)
        expected = log.index().snapshot(question)
        assert expected.usage[DIGEST].other_claims == 40
        assert all(reader.snapshot(question) == expected for reader in readers)
        assert opened[0].progress() == 40
    finally:
        for tables in opened:
            tables.close()


def test_a_failed_catch_up_leaves_the_tables_as_they_were(tables: FactTables, log: ListLog) -> None:
    """A batch that fails half-way (here: a duplicate row) inserts nothing and does not advance."""
    log.submit(CLAIM_IDS[0], "acme_mutual", [DIGEST], "1.00", MOMENTS[0], "")
    facts = TableClaimFacts(log, tables)
    assert facts.catch_up() == 1
    clash = ClaimFact(1, CLAIM_IDS[1], "acme_mutual", (DIGEST,), "auto", "USD", "2.00", None, None)
    twin = ClaimFact(1, CLAIM_IDS[2], "acme_mutual", (DIGEST,), "auto", "USD", "3.00", None, None)
    with pytest.raises(IntegrityError):
        tables.take_in(FactBatch(1, 2, (clash, twin), ()))
    assert tables.progress() == 1
    answer = facts.snapshot(query(CLAIM_IDS[3], "acme_mutual", [DIGEST]))
    assert (answer.as_of, answer.usage[DIGEST].other_claims, answer.amounts) == (1, 1, ("1.00",))


registration = st.tuples(st.just("register"), st.sampled_from(PARTNERS), st.sampled_from(HASHES), st.booleans())
claim = st.tuples(
    st.just("submit"),
    st.sampled_from(CLAIM_IDS),
    st.sampled_from(PARTNERS),
    st.lists(st.sampled_from(HASHES), min_size=1, max_size=3),
    st.sampled_from(("10.00", "10", "250.75", "1e3")),
    st.sampled_from(MOMENTS),
    st.sampled_from(("", "POL-1", "POL-2")),
)
questions = st.builds(
    query,
    st.sampled_from(CLAIM_IDS),
    st.sampled_from(PARTNERS),
    st.lists(st.sampled_from(HASHES), max_size=3),
    reference=st.sampled_from((None, ("policyReference", "POL-1"), ("policyReference", "POL-2"))),
    submitted_at=st.sampled_from(MOMENTS),
    history_size=st.sampled_from((0, 1, 2, 5)),
    velocity_window_seconds=st.sampled_from((0, 3_600, 30 * 86_400)),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],  # a shared, loaded machine
)
@given(
    steps=st.lists(st.one_of(registration, claim), min_size=1, max_size=12),
    asked=st.lists(questions, min_size=1, max_size=4),
)
def test_random_logs_get_the_same_answers(
    tables: FactTables, log: ListLog, steps: list[tuple[Any, ...]], asked: list[FactsQuery]
) -> None:
    """Random registrations and claims (shared hashes, several partners, references, repeated claim ids),
    appended to one log across examples (each catch-up takes in only the new entries): every answer equal."""
    for step in steps:
        if step[0] == "register":
            log.register(step[1], step[2], {"policyReference": "POL-1"} if step[3] else {})
        else:
            log.submit(*step[1:])
    expected = log.index().bulk_snapshot(asked)
    with implementations(log, tables) as readers:
        for facts in readers:
            assert facts.bulk_snapshot(asked) == expected
    listing = log.index().claims_listing(asked[0].partner_id, HASHES[0])
    assert TableClaimFacts(log, tables).claims_listing(asked[0].partner_id, HASHES[0]) == listing


def test_questions_write_nothing_until_the_tail_is_long(tables: FactTables, log: ListLog) -> None:
    """Answers come from the tables plus the process's tail: the progress row moves only when the tail spans
    ``flush_entries`` entries, then to the end of what was read, and the answers stay the index's."""
    facts = TableClaimFacts(log, tables, chunk=3, flush_entries=6)
    question = query(CLAIM_IDS[7], "acme_mutual", [DIGEST], history_size=10)
    moves = []
    for number in range(14):
        log.submit(f"{CLAIM_IDS[number % 8]}-{number}", "acme_mutual", [DIGEST], f"{number}.00", MOMENTS[0], "POL-1")
        assert facts.snapshot(question) == log.index().snapshot(question)
        moves.append(tables.progress())
    assert moves == [0] * 5 + [6] * 6 + [12] * 3
    assert facts.catch_up() == tables.progress() == 14


class WatchedTables(SharedTables):
    """Shared tables whose writes are watched: the thread of each ``take_in``, and a failure to raise on the
    first."""

    def __init__(self, tables: FactTables, fail_first: bool = False) -> None:
        super().__init__(tables)
        self.writers: list[str] = []
        self.fail_first = fail_first

    def take_in(self, batch: FactBatch) -> int:
        self.writers.append(threading.current_thread().name)
        if self.fail_first:
            self.fail_first = False
            raise ConnectionError("the database went away")
        return self.tables.take_in(batch)


def test_background_writes_go_on_while_questions_are_answered(tables: FactTables, log: ListLog) -> None:
    """With ``flush_in_background`` the tail is written on the facts' own thread while questions go on, and
    every answer stays the index's (the tail being written is answered from memory until it is in)."""
    watched = WatchedTables(tables)
    facts = TableClaimFacts(log, watched, chunk=3, flush_entries=4, flush_in_background=True)
    question = query(CLAIM_IDS[7], "acme_mutual", [DIGEST], history_size=10)
    for number in range(30):
        log.submit(f"{CLAIM_IDS[number % 8]}-{number}", "acme_mutual", [DIGEST], f"{number}.00", MOMENTS[0], "POL-1")
        assert facts.snapshot(question) == log.index().snapshot(question)
    assert "ledger-facts-flush_0" in watched.writers
    assert facts.catch_up() == tables.progress() == 30
    facts.close()


def test_a_failed_background_write_is_raised_and_loses_nothing(tables: FactTables, log: ListLog) -> None:
    """The background write fails: the next wait for it raises the failure, nothing is written, and the facts
    are read again from the log, so the answers and the tables end as without the failure."""
    watched = WatchedTables(tables, fail_first=True)
    facts = TableClaimFacts(log, watched, chunk=3, flush_entries=4, flush_in_background=True)
    question = query(CLAIM_IDS[7], "acme_mutual", [DIGEST], history_size=10)
    for number in range(5):
        log.submit(f"{CLAIM_IDS[number]}-{number}", "acme_mutual", [DIGEST], f"{number}.00", MOMENTS[0], "POL-1")
    assert facts.snapshot(question) == log.index().snapshot(question)  # the tail spans 5: written behind
    with pytest.raises(ConnectionError, match="went away"):
        facts.catch_up()
    assert tables.progress() == 0
    log.submit(f"{CLAIM_IDS[6]}-6", "acme_mutual", [DIGEST], "6.00", MOMENTS[0], "POL-1")
    assert facts.snapshot(question) == log.index().snapshot(question)
    assert facts.catch_up() == tables.progress() == 6
    facts.close()
