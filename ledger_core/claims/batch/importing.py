"""Importing a historical claims file (seed 000 §3.2 Pattern B): every valid line becomes the same events as
``POST /api/v1/claims`` (:meth:`Claims.submit`, same idempotency by ``partnerClaimId``).

Two passes over the file: a scan (digest, UTF-8, header; a file that fails it is rejected whole, nothing
loads), then the load, chunk by chunk: a chunk of new claims goes through the bulk path
(:mod:`~ledger_core.claims.batch.bulk`: the same entries as submitting each claim, the chunk and its
``claimsfile.chunk_loaded`` in one save); otherwise each claim is submitted as the API submits it, then the
chunk's ``claimsfile.chunk_loaded`` event records what became of each line. Restartable: a file is its digest, a
second run resumes after the last recorded chunk. A claim the killed run already created is recognised by
its first log position (after the file's last recorded event) and reported as imported, so every claim is
in the ledger once and the results are those of an uninterrupted run. A finished file run again records
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO
from uuid import UUID

from ledger_core.claims.batch.bulk import BulkLoader, InFlight
from ledger_core.claims.batch.claim_rows import rows_reader
from ledger_core.claims.batch.claims_file import ClaimsFile, ClaimsFileStatus, LineResult, claims_file_id
from ledger_core.claims.batch.formats import (
    BatchFileRejected,
    BatchFormat,
    BatchKind,
    LineOutcome,
    parse_claims_name,
)
from ledger_core.claims.batch.lines import ClaimLine, ClaimReader, scan
from ledger_core.claims.batch.preparation import LinePreparer, record_chunks
from ledger_core.claims.documents import DocumentService
from ledger_core.claims.errors import DuplicateClaim
from ledger_core.claims.submission import ClaimSubmission
from ledger_core.claims.use_cases import Claims
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.ports import PartnerLogReader
from ledger_core.shared.chunks import chunked
from ledger_core.shared.service_support import save
from ledger_core.shared.vocabulary import ClaimStatus, VerificationLevel

OpenFile = Callable[[], AbstractContextManager[IO[bytes]]]
"""Opens the file's bytes afresh (called once per pass)."""
Progress = Callable[[int], None]
"""``progress(lines done)``, called after each chunk."""

RESULT_ROWS_PAGE = 8
"""A claims file's entries read at a time for its results (:meth:`ClaimImport.results`)."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Where a claims file stands after a run."""

    partner_id: str
    file_name: str
    digest: str
    status: ClaimsFileStatus
    counts: dict[LineOutcome, int]
    lines: int
    rejection: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, file: ClaimsFile) -> ImportReport:
        return cls(
            partner_id=str(file.partner_id),
            file_name=file.file_name,
            digest=file.digest,
            status=file.status,
            counts=dict(file.counts),
            lines=file.lines_through,
            rejection=None if file.rejection is None else file.rejection.value,
            message=file.message,
        )


@dataclass
class _Run:
    """One run over a file: its partner, and the log positions that tell this file's claims apart (where the
    file started, where this run resumed)."""

    partner_id: str
    file_start: int
    resume_from: int


class ClaimImport:
    """The historical import use case (``ledger.batches``)."""

    def __init__(
        self,
        app: LedgerApplication,
        claims: Claims,
        documents: DocumentService,
        chunk_size: int = 500,
        *,
        bulk: bool = True,
    ) -> None:
        """``bulk``: import chunks of new claims through :class:`BulkLoader` (one anchored save per chunk, the
        same entries); False submits every claim through :meth:`Claims.submit` (the reference path)."""
        self.app = app
        self.rows = partner_rows(app)
        self.claims = claims
        self.documents = documents
        self.chunk_size = chunk_size
        self.bulk = BulkLoader(app, claims.verification.facts, claims.verification) if bulk else None

    def run(
        self,
        file_name: str,
        open_file: OpenFile,
        *,
        default_level: str = "standard",
        progress: Progress | None = None,
        preparer: LinePreparer | None = None,
    ) -> ImportReport:
        """Import ``file_name`` (``claims_<partner>_<YYYYMMDD>[-<label>].jsonl|csv``); see the module docstring.

        ``default_level``: the verification level of a line that names none. ``preparer``: parses and checks
        the records of a JSON Lines import elsewhere (:mod:`~ledger_core.claims.batch.preparation`; the same
        lines, so the same log), while this process decides and saves."""
        name = parse_claims_name(file_name)
        if name.kind is BatchKind.RECONCILE:
            raise InvalidCommand(
                "a reconciliation file is reconciled, not run (ledger.reconciliation)", field="file_name"
            )
        level = VerificationLevel(default_level).value
        try:
            with open_file() as stream:
                found = scan(stream, name.format, name.kind)
        except BatchFileRejected as rejected:
            return reject_file(self.app, name.partner_id, file_name, open_file, rejected)
        file_id = claims_file_id(name.partner_id, found.digest)
        file = self._existing(file_id)
        if file is None:
            file = ClaimsFile.receive(name.partner_id, file_name, found.digest, found.size, level)
            save(self.app, file)
        if file.status is not ClaimsFileStatus.LOADING:
            return ImportReport.of(file)
        rows = self.app.log_reader.read_aggregate_rows(str(file.id))
        positions = _Run(name.partner_id, file_start=rows[0].position, resume_from=rows[-1].position + 1)
        with open_file() as stream:
            reader = ClaimReader(stream, name.format, name.partner_id, file.default_level, name.kind)
            chunks = _chunks(reader, file.lines_through, self.chunk_size)
            if name.kind is BatchKind.IMPORT and self.bulk is not None:
                if preparer is not None and name.format is BatchFormat.JSON_LINES:
                    records = record_chunks(reader.json_records(), file.lines_through, self.chunk_size)
                    chunks = preparer.prepare(name.partner_id, file.default_level, records)
                file = self._import_overlapped(file, chunks, self.bulk, positions, progress)
            else:
                load = self._load_chunk if name.kind is BatchKind.IMPORT else self._verify_chunk
                for chunk in chunks:
                    file = self._record(file, chunk, load, None, positions, progress)
        file.complete(file.lines_through)
        save(self.app, file)
        return ImportReport.of(file)

    def files(self, partner_id: str, limit: int = 20) -> list[ClaimsFile]:
        """The partner's newest claims files (read-only), newest first (``ledger batch status``)."""
        types = (ClaimsFile.Received.EVENT_TYPE, ClaimsFile.Rejected.EVENT_TYPE)
        rows = self.rows.partner_rows_of_types(
            partner_id, types, start=0, stop=self.app.log_reader.log_size(), limit=limit, descending=True
        )
        return [self.app.view(ClaimsFile, UUID(row.aggregate_id), "claims_file") for row in rows]

    def file(self, partner_id: str, digest: str) -> ClaimsFile:
        """The recorded claims file (read-only), or :class:`NotFound`."""
        return self.app.view(ClaimsFile, claims_file_id(partner_id, digest), "claims_file")

    def results(self, partner_id: str, digest: str) -> Iterator[LineResult]:
        """What became of every line of the file, in line order (from the log, :data:`RESULT_ROWS_PAGE` of the
        file's entries at a time: a file of 1,000,000 lines has 2,000 ``chunk_loaded`` entries of ~75 KB)."""
        reader = rows_reader(self.app.log_reader)
        file_id = str(claims_file_id(partner_id, digest))
        version = 0
        while rows := reader.aggregate_rows_after(file_id, version, RESULT_ROWS_PAGE):
            for row in rows:
                if row.type == ClaimsFile.ChunkLoaded.EVENT_TYPE:
                    yield from (LineResult.from_json(result) for result in decode_entry(row.entry).payload["results"])
            version = rows[-1].aggregate_version

    # -- internals -------------------------------------------------------------------------------------
    def _import_overlapped(
        self,
        file: ClaimsFile,
        chunks: Iterator[list[ClaimLine]],
        bulk: BulkLoader,
        positions: _Run,
        progress: Progress | None,
    ) -> ClaimsFile:
        """Import ``chunks`` through the bulk path, each chunk decided while the save of the one before it
        commits (:meth:`BulkLoader.decide_after`); a chunk that cannot go that way goes through
        :meth:`_record` once the one before has landed. Returns the file as saved."""
        flight: InFlight | None = None
        for chunk in chunks:
            decided = bulk.decide_after(chunk, flight)
            if flight is not None:
                file, landed = self._land(bulk, flight, positions, progress)
                decided = decided if landed else None  # decided on a save that was refused: decide again
                flight = None
            if decided is not None:
                flight = bulk.submit(file, chunk, decided)
            else:
                file = self._record(file, chunk, self._load_chunk, bulk, positions, progress)
        if flight is not None:
            file, _ = self._land(bulk, flight, positions, progress)
        return file

    def _land(
        self, bulk: BulkLoader, flight: InFlight, positions: _Run, progress: Progress | None
    ) -> tuple[ClaimsFile, bool]:
        """Wait for ``flight``'s save; when it was refused (the log moved), record its chunk again as
        :meth:`_record` does. Returns the file as saved and whether the flight's own save landed."""
        saved = bulk.land(flight)
        if saved is None:
            chunk = list(flight.chunk)
            return self._record(flight.file_before, chunk, self._load_chunk, bulk, positions, progress), False
        file, written = saved
        self._advance(file, written, positions, progress)
        return file, True

    def _record(
        self,
        file: ClaimsFile,
        chunk: list[ClaimLine],
        load: Callable[[list[ClaimLine], _Run], list[LineResult]],
        bulk: BulkLoader | None,
        positions: _Run,
        progress: Progress | None,
    ) -> ClaimsFile:
        """Record ``chunk``: through ``bulk`` when it can (:meth:`BulkLoader.load`), else line by line
        (``load``) and its ``chunk_loaded``. Returns the file as saved."""
        saved = None if bulk is None else bulk.load(file, chunk)
        if saved is None:
            file.record_chunk(chunk[-1].line, load(chunk, positions))
            written: Sequence[int] = save(self.app, file)
        else:
            file, written = saved
        self._advance(file, written, positions, progress)
        return file

    @staticmethod
    def _advance(file: ClaimsFile, written: Sequence[int], positions: _Run, progress: Progress | None) -> None:
        positions.resume_from = written[-1] + 1
        if progress is not None:
            progress(file.lines_through)

    def _existing(self, file_id: UUID) -> ClaimsFile | None:
        try:
            return self.app.load(ClaimsFile, file_id, "claims_file")
        except NotFound:
            return None

    def _load_chunk(self, chunk: list[ClaimLine], positions: _Run) -> list[LineResult]:
        seen: set[str] = set()
        results = []
        for line in chunk:
            if line.submission is None:
                results.append(
                    LineResult(line.line, LineOutcome.INVALID, line.partner_claim_id, None, line.field, line.reason)
                )
                continue
            results.append(self._load_claim(line.line, line.submission, positions, seen))
            seen.add(line.submission.partner_claim_id)
        return results

    def _load_claim(self, line: int, submission: ClaimSubmission, positions: _Run, seen: set[str]) -> LineResult:
        pcid = submission.partner_claim_id
        for index, document in enumerate(submission.documents):
            try:
                self.documents.get(submission.partner_id, document.hash)
            except NotFound:
                reason = f"document {document.hash} is not registered for the partner"
                return LineResult(line, LineOutcome.UNKNOWN_DOCUMENT, pcid, None, f"documents[{index}].hash", reason)
        claim_id = submission.claim_id_text
        try:
            outcome = self.claims.submit(submission)
        except DuplicateClaim as conflict:
            first = self._first_position(claim_id)
            if first >= positions.file_start:
                return LineResult(
                    line, LineOutcome.DUPLICATE_IN_FILE, pcid, claim_id, None, "an earlier line has this partnerClaimId"
                )
            fields = ", ".join(conflict.details.get("differing_fields", []) or [])
            return LineResult(
                line, LineOutcome.CONFLICT, pcid, claim_id, None, f"the ledger holds it with other {fields}"
            )
        if outcome.created:
            return LineResult(line, LineOutcome.IMPORTED, pcid, claim_id)
        first = self._first_position(claim_id)
        if first >= positions.resume_from and pcid not in seen:
            return LineResult(line, LineOutcome.IMPORTED, pcid, claim_id)  # created before this run was killed
        if first >= positions.file_start:
            return LineResult(
                line, LineOutcome.DUPLICATE_IN_FILE, pcid, claim_id, None, "an earlier line has this partnerClaimId"
            )
        return LineResult(line, LineOutcome.ALREADY_IN_LEDGER, pcid, claim_id)

    def _verify_chunk(self, chunk: list[ClaimLine], positions: _Run) -> list[LineResult]:
        """Bulk verification: each named claim verified again as ``POST /api/v1/claims/{id}/verify`` does."""
        seen: set[UUID] = set()
        results = []
        for line in chunk:
            if line.claim_id is None:
                results.append(
                    LineResult(line.line, LineOutcome.INVALID, line.partner_claim_id, None, line.field, line.reason)
                )
                continue
            results.append(self._verify_claim(line.line, line.claim_id, line.partner_claim_id, positions, seen))
            seen.add(line.claim_id)
        return results

    def _verify_claim(
        self, line: int, claim_id: UUID, pcid: str | None, positions: _Run, seen: set[UUID]
    ) -> LineResult:
        try:
            outcome = self.claims.verify(claim_id, positions.partner_id)
        except NotFound:  # unknown, or another partner's: the same answer (no existence leak)
            return LineResult(line, LineOutcome.NOT_FOUND, pcid, None, None, "no such claim")
        claim, reference = outcome.claim, pcid or outcome.claim.partner_claim_id
        if outcome.positions or (outcome.head >= positions.resume_from and claim_id not in seen):
            return LineResult(line, LineOutcome.REVERIFIED, reference, str(claim_id))  # (or by the killed run)
        open_claim = claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.PENDING) and not claim.awaiting_review
        return LineResult(line, LineOutcome.UNCHANGED if open_claim else LineOutcome.DECIDED, reference, str(claim_id))

    def _first_position(self, claim_id: str) -> int:
        return self.app.log_reader.read_aggregate_rows(claim_id)[0].position


def partner_rows(app: LedgerApplication) -> PartnerLogReader:
    """The application's log reader as the partner reads batches need (every storage backend offers them)."""
    if not isinstance(app.log_reader, PartnerLogReader):
        raise TypeError("the log reader must read a partner's entries by type")
    return app.log_reader


def reject_file(
    app: LedgerApplication, partner_id: str, file_name: str, open_file: OpenFile, rejected: BatchFileRejected
) -> ImportReport:
    """Record ``claimsfile.rejected`` for a file that cannot be read (once per file: its digest names it)."""
    with open_file() as stream:
        digest, size = _digest(stream)
    file_id = claims_file_id(partner_id, digest)
    try:
        file = app.load(ClaimsFile, file_id, "claims_file")
    except NotFound:
        file = ClaimsFile.reject(partner_id, file_name, digest, size, rejected.rejection, str(rejected), rejected.line)
        save(app, file)
    return ImportReport.of(file)


def _chunks(reader: ClaimReader, done: int, size: int) -> Iterator[list[ClaimLine]]:
    """The file's lines after line ``done``, ``size`` at a time."""
    return chunked((line for line in reader if line.line > done), size)


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 20):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size
