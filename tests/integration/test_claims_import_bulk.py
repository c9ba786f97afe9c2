"""The bulk import path against the per-claim path (issue 15): the same log, byte for byte.

Two ledgers on the same fixed clock import the same file: one through ``Claims.submit`` claim by claim (the
``POST /api/v1/claims`` path), one through the bulk path (a chunk of claims and its ``chunk_loaded`` in one
anchored save). The file makes the claims' facts depend on each other inside a chunk (amount histories,
documents shared between claims, policy references within the velocity window), mixes levels, refusals and
duplicates, and names a claim the ledger held before (that chunk goes claim by claim). Every stored entry
must be identical, and every recorded verification must replay from the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson
import pytest

from adapters.batch.workers import BatchWorkers
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.claims.batch.bulk import BulkChunk, BulkLoader, InFlight
from ledger_core.claims.batch.claims_file import ClaimsFile, ClaimsFileStatus
from ledger_core.claims.batch.formats import LineOutcome
from ledger_core.claims.batch.importing import ClaimImport
from ledger_core.claims.batch.lines import ClaimLine
from ledger_core.claims.batch.preparation import LinePreparer
from ledger_core.claims.replay import ReplayCheck
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import LogMoved
from ledger_core.ledger import Ledger

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"
HASHES = [hashlib.sha256(f"document-{n}".encode()).hexdigest() for n in range(4)]
NAME = f"claims_{P}_20260115.jsonl"


def fixed_clock() -> datetime:
    return NOW


def line(number: int) -> dict[str, Any]:
    """Claims whose facts overlap: three claim types, two shared documents, a policy reference."""
    document: dict[str, Any] = {"type": "photo", "hash": HASHES[number % 3]}
    if number % 4 == 0:
        document["metadata"] = {"policyReference": "POL-7"}
    return {
        "partnerClaimId": f"H-{number:05d}",
        "claimType": ("auto", "property", "auto")[number % 3],
        "claimAmount": f"{100 + number * 37 % 900}.{number % 100:02d}",
        "currency": "USD",
        "submittedAt": f"2025-06-{1 + number % 20:02d}T10:00:00Z",
        "documents": [document],
        "verificationLevel": ("enhanced", "standard", "full", "enhanced")[number % 4],
    }


def file_bytes() -> bytes:
    lines: list[Any] = [line(n) for n in range(40)]
    lines[5] = line(2)  # a duplicate within the chunk
    lines[17] = line(3) | {"claimAmount": "1.00"}  # a duplicate with other fields, in a later chunk
    lines[9] = line(9) | {"claimAmount": 1.5}  # a float: invalid
    lines[11] = line(11) | {"documents": [{"type": "photo", "hash": "ab" * 32}]}  # unknown document
    lines[23] = line(23) | {"documents": [{"type": "invoice", "hash": HASHES[0]}]}  # registered as another type
    lines[30] = line(1000)  # held by the ledger before the file: that chunk goes claim by claim
    lines.append(line(41) | {"documents": [], "partnerClaimId": "H-NO-DOCS"})
    return b"".join(orjson.dumps(entry) + b"\n" for entry in lines)


def opened(path: Path) -> Ledger:
    ledger = open_ledger(f"sqlite:///{path}", clock=fixed_clock, master_key=b"k" * 32)
    for digest in HASHES[:3]:
        ledger.documents.register(
            partner_id=P, sha256=digest, document_type="photo", media_type="image/jpeg", size_bytes=10, metadata={}
        )
    fields = line(1000)
    ledger.claims.submit(
        validate_submission(
            partner_id=P,
            partner_claim_id=fields["partnerClaimId"],
            claim_type=fields["claimType"],
            claim_amount=fields["claimAmount"],
            currency=fields["currency"],
            submitted_at=fields["submittedAt"],
            documents=fields["documents"],
            verification_level=fields["verificationLevel"],
        )
    )
    return ledger


def import_file(
    ledger: Ledger, path: Path, *, bulk: bool, loader: BulkLoader | None = None, preparer: LinePreparer | None = None
) -> ClaimImport:
    """Import ``path`` (named :data:`NAME`) in chunks of 8 lines."""
    batches = ClaimImport(ledger.app, ledger.claims, ledger.documents.registry, chunk_size=8, bulk=bulk)
    if loader is not None:
        batches.bulk = loader

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with path.open("rb") as handle:
            yield handle

    assert batches.run(NAME, open_file, preparer=preparer).status is ClaimsFileStatus.COMPLETED
    return batches


def stored_entries(ledger: Ledger) -> list[bytes]:
    return [row.entry for row in ledger.app.log_reader.read_rows(0, 100_000)]


class CountingLoader(BulkLoader):
    """Counts the chunks that went through the bulk path (saved at once, or landed after being decided while
    the chunk before them committed)."""

    saved = 0

    def load(self, file: ClaimsFile, chunk: Sequence[ClaimLine]) -> tuple[ClaimsFile, list[int]] | None:
        saved = super().load(file, chunk)
        self.saved += saved is not None
        return saved

    def land(self, flight: InFlight) -> tuple[ClaimsFile, list[int]] | None:
        landed = super().land(flight)
        self.saved += landed is not None
        return landed


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in" / NAME
    path.parent.mkdir()
    path.write_bytes(file_bytes())
    return path


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    one, two = opened(tmp_path / "one.db"), opened(tmp_path / "two.db")
    yield one, two
    one.close()
    two.close()


def replays(ledger: Ledger, batches: ClaimImport, digest: str) -> list[ReplayCheck]:
    """Every recorded verification of the file's imported claims, recomputed from the log."""
    return [
        check
        for result in batches.results(P, digest)
        if result.claim_id is not None and result.outcome is LineOutcome.IMPORTED
        for check in ledger.claims.explain(UUID(result.claim_id))
    ]


def test_the_bulk_path_writes_the_same_log_as_submitting_claim_by_claim(
    pair: tuple[Ledger, Ledger], source: Path
) -> None:
    by_claim, in_bulk = pair
    assert stored_entries(by_claim) == stored_entries(in_bulk)  # the same starting log
    reference = import_file(by_claim, source, bulk=False)
    loader = CountingLoader(in_bulk.app, in_bulk.claims.verification.facts, in_bulk.claims.verification)
    bulk = import_file(in_bulk, source, bulk=True, loader=loader)
    assert loader.saved == 4  # chunks 1, 2, 5, 6; chunks 3 and 4 name claims already in the ledger

    expected, actual = stored_entries(by_claim), stored_entries(in_bulk)
    assert len(actual) == len(expected)
    for position, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got == want, f"entry {position} differs:\n{want.decode()}\n{got.decode()}"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    results = list(bulk.results(P, digest))
    assert results == list(reference.results(P, digest))
    outcomes = {result.outcome for result in results}
    assert outcomes >= {
        LineOutcome.IMPORTED,
        LineOutcome.DUPLICATE_IN_FILE,
        LineOutcome.INVALID,
        LineOutcome.UNKNOWN_DOCUMENT,
        LineOutcome.ALREADY_IN_LEDGER,
    }
    checks = replays(in_bulk, bulk, digest)
    assert len(checks) >= 30
    recorded = {(check.recorded["status"], check.recorded["riskLevel"]) for check in checks}
    assert len(recorded) >= 4, recorded  # decisions differ: the facts matter
    assert all(check.matches for check in checks), [check.to_json() for check in checks if not check.matches]
    assert in_bulk.verify().size == len(actual)


def test_records_prepared_in_a_worker_process_write_the_same_log(
    pair: tuple[Ledger, Ledger], source: Path, tmp_path: Path
) -> None:
    """The bulk path with the file's records parsed and checked in a worker (``BatchWorkers.prepare``): the same
    entries and results as with the records read in the loading process."""
    in_loader, in_worker = pair
    reference = import_file(in_loader, source, bulk=True)
    workers = BatchWorkers(StorageConfig(tmp_path, f"sqlite:///{tmp_path / 'two.db'}"))
    try:
        prepared = import_file(in_worker, source, bulk=True, preparer=workers)
    finally:
        workers.close()
    assert stored_entries(in_worker) == stored_entries(in_loader)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert list(prepared.results(P, digest)) == list(reference.results(P, digest))
    assert workers.taken_back < 6  # of the file's 6 chunks, some were prepared in the worker


def test_a_chunk_decided_on_a_log_that_moved_is_decided_again(pair: tuple[Ledger, Ledger], source: Path) -> None:
    """Another save lands between a chunk's facts and its save: the anchored save is refused and the chunk
    decided again on the log as it now is (its claims' ``asOfPosition`` says so, and they replay)."""
    _, ledger = pair
    loader = BulkLoader(ledger.app, ledger.claims.verification.facts, ledger.claims.verification)
    decide = loader.decide
    moved: list[int] = []

    def decide_then_another_save_lands(chunk: Sequence[ClaimLine]) -> BulkChunk | None:
        decided = decide(chunk)
        if not moved:
            ledger.documents.register(
                partner_id=P, sha256=HASHES[3], document_type="photo", media_type="image/png", size_bytes=1, metadata={}
            )
            moved.append(ledger.size())
        return decided

    loader.decide = decide_then_another_save_lands  # type: ignore[method-assign]
    batches = import_file(ledger, source, bulk=True, loader=loader)

    checks = replays(ledger, batches, hashlib.sha256(source.read_bytes()).hexdigest())
    assert checks[0].recorded_inputs["asOfPosition"] == moved[0]
    assert all(check.matches for check in checks)
    assert ledger.verify().size == ledger.size()


class HeldLoader(BulkLoader):
    """Holds every queued save until its chunk lands, so the next chunk is always decided on a log without it
    (on a fast local database the save has often landed by then). ``before_release`` runs first."""

    overlapped = 0
    refused = 0
    before_release: Callable[[], None] | None = None

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger.app, ledger.claims.verification.facts, ledger.claims.verification)
        self.held: list[Callable[[], None]] = []

    def decide_after(self, chunk: Sequence[ClaimLine], flight: InFlight | None) -> BulkChunk | None:
        decided = super().decide_after(chunk, flight)
        self.overlapped += flight is not None and decided is not None and not flight.positions.done()
        return decided

    def submit(self, file: ClaimsFile, chunk: Sequence[ClaimLine], decided: BulkChunk) -> InFlight:
        app = self.app
        queue = app.submit_anchored
        held: Future[list[int]] = Future()

        def later(drafts: Sequence[EventDraft], *aggregates: LedgerAggregate, anchored_at: int) -> Future[list[int]]:
            self.held.append(lambda: _settle(held, queue(drafts, *aggregates, anchored_at=anchored_at)))
            return held

        app.submit_anchored = later  # type: ignore[method-assign]
        try:
            return super().submit(file, chunk, decided)
        finally:
            del app.submit_anchored  # the class's method again

    def land(self, flight: InFlight) -> tuple[ClaimsFile, list[int]] | None:
        if self.before_release is not None:
            self.before_release()
        while self.held:
            self.held.pop(0)()
        landed = super().land(flight)
        self.refused += landed is None
        return landed


def _settle(held: Future[list[int]], queued: Future[list[int]]) -> None:
    try:
        held.set_result(queued.result())
    except LogMoved as refused:
        held.set_exception(refused)


def test_chunks_decided_while_the_one_before_commits_write_the_same_log(
    pair: tuple[Ledger, Ledger], source: Path
) -> None:
    """Each chunk decided on the log without the chunk before it (still committing) plus that chunk's claims:
    the same entries as claim by claim."""
    by_claim, in_bulk = pair
    import_file(by_claim, source, bulk=False)
    loader = HeldLoader(in_bulk)
    bulk = import_file(in_bulk, source, bulk=True, loader=loader)
    assert loader.overlapped >= 2  # chunks 2 and 6, decided before 1 and 5 landed
    assert stored_entries(in_bulk) == stored_entries(by_claim)
    checks = replays(in_bulk, bulk, hashlib.sha256(source.read_bytes()).hexdigest())
    assert all(check.matches for check in checks)


def test_a_refused_save_drops_the_chunk_decided_on_it(pair: tuple[Ledger, Ledger], source: Path) -> None:
    """Another save lands before the first chunk's: that save is refused, and the second chunk, decided on it,
    is decided again after the first (both on the log as it now is); every claim once, every decision replays."""
    _, ledger = pair
    loader = HeldLoader(ledger)
    moved: list[int] = []

    def another_save() -> None:
        if not moved:
            ledger.documents.register(
                partner_id=P, sha256=HASHES[3], document_type="photo", media_type="image/png", size_bytes=1, metadata={}
            )
            moved.append(ledger.size())

    loader.before_release = another_save
    batches = import_file(ledger, source, bulk=True, loader=loader)
    assert loader.refused == 1
    assert loader.overlapped >= 1  # the second chunk was decided on the refused one, then again

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    checks = replays(ledger, batches, digest)
    assert checks[0].recorded_inputs["asOfPosition"] == moved[0]
    assert all(check.matches for check in checks)
    imported = [result.claim_id for result in batches.results(P, digest) if result.outcome is LineOutcome.IMPORTED]
    assert len(imported) == len(set(imported)) >= 25
    assert ledger.verify().size == ledger.size()
