"""Loading an eligibility file (seed 001 §2.2), the bulk path: two streaming passes, batches end to end.

1. **Scan** (:func:`~ledger_core.members.feeds.parsing.scan`): digest, UTF-8, header, number of records and
   the rows a later row of the same member supersedes (the last occurrence wins). A file rejected here is
   recorded as ``eligibilityfile.rejected`` and nothing of it loads.
2. **Load**: every record is checked with the same rules as the API (:meth:`MemberService.check`), then
   up to ``batch_size`` records go through :meth:`MemberBatches.upsert_batch`: one key-store call for the
   batch's data keys, one save of all its events through the group commit, ending with the file's
   ``eligibilityfile.batch_loaded`` event (row position, the batch's problems and its new members who opted
   in to email: ``notify``), and one counter update.

Restartable: a file is its digest; a second run finds ``EligibilityFile`` and resumes after the last batch the
log holds (a batch is in the log whole or not at all), first settling the counters of a batch whose save
committed just before a crash. A finished file processed again records nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO
from uuid import UUID

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, LedgerError
from ledger_core.members.feeds.eligibility_file import EligibilityFile, FileStatus, eligibility_file_id
from ledger_core.members.feeds.formats import (
    EligibilityFileName,
    FileRejected,
    FileRejection,
    RowProblem,
    RowRefusal,
    parse_eligibility_name,
)
from ledger_core.members.feeds.notifications import EligibilityNotice
from ledger_core.members.feeds.parsing import FileScan, RawRecord, RecordReader, scan
from ledger_core.members.feeds.ports import InlineSaves, SaveQueue
from ledger_core.members.feeds.preparation import LocalPreparer, PreparedBatch, RowBatch, RowPreparer
from ledger_core.members.member import MemberService
from ledger_core.members.member_batches import BatchChange, BatchOutcome, MemberBatches
from ledger_core.members.outcome_projection import BATCH_MARK, OutcomeProjection
from ledger_core.shared.service_support import today

OpenFile = Callable[[], AbstractContextManager[IO[bytes]]]
"""Opens the file's bytes afresh (called once per pass)."""
Progress = Callable[[int, int], None]
"""``progress(rows done, rows in the file)``, called after each batch."""


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """A deployment's eligibility-feed settings (the server's and the CLI's come from ``LEDGER_FEEDS_*``)."""

    batch_size: int = 1000
    alert_share: float = 0.05
    """An ``audit.alert`` fires when more than this share of a file's records is skipped (and on rejection)."""
    workers: int = 0
    """Worker processes that check and seal the rows of files of more than two batches, beside the process
    that writes the log (0: that process does it all)."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.workers < 0:
            raise InvalidCommand("feed batch size must be 1 or more and feed workers 0 or more", field="feeds")


class FileChanged(LedgerError):
    """The file's bytes changed between the scan and the load (it must not be written while processed)."""

    code = "FEED_FILE_CHANGED"


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What processing an eligibility file did. ``already_processed``: the same bytes were processed before
    and nothing was recorded this time (the figures are those of the first run)."""

    partner_id: str
    file_name: str
    file_id: UUID
    digest: str
    status: FileStatus
    rows: int
    created: int
    updated: int
    unchanged: int
    refused: int
    alert: bool
    already_processed: bool
    rejection: FileRejection | None = None
    message: str | None = None
    line: int | None = None

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


def _readable(record: RawRecord, scanned: FileScan, problems: list[RowProblem]) -> bool:
    """Whether ``record`` goes to the checks; if not, its problem is appended to ``problems`` (unreadable, or
    superseded by a later row of the same member)."""
    if record.problem is not None or record.fields is None:
        refusal, field, reason = record.problem or (RowRefusal.MALFORMED, None, "unreadable record")
        problems.append(RowProblem(record.row, record.line, None, refusal, field, reason))
        return False
    later = scanned.superseded.get(record.row)
    if later is not None:
        reason = f"partner_member_id appears again in row {later}; the last row wins"
        pmid = record.fields.get("partner_member_id")
        problems.append(RowProblem(record.row, record.line, pmid, RowRefusal.DUPLICATE, "partner_member_id", reason))
        return False
    return True


class EligibilityLoader:
    """Processes eligibility files for the members context (the use case behind ``ledger feeds load``)."""

    def __init__(
        self,
        app: LedgerApplication,
        members: MemberService,
        outcomes: OutcomeProjection,
        *,
        present: Callable[[Sequence[UUID]], Collection[UUID]] | None = None,
        preparer: RowPreparer | None = None,
    ) -> None:
        """``preparer`` checks and seals the batches of files of more than two batches (e.g. in worker
        processes); smaller files, and every file without it, are prepared here (:class:`LocalPreparer`)."""
        self.app = app
        self.members = members
        self.batches = MemberBatches(members)
        self.outcomes = outcomes
        self.present = present
        self.local = LocalPreparer(members.vault)
        self.preparer = preparer

    def load(
        self,
        partner_id: str,
        file_name: str,
        open_file: OpenFile,
        *,
        policy: FeedPolicy | None = None,
        progress: Progress | None = None,
        saves: SaveQueue | None = None,
    ) -> LoadResult:
        """Process one file (see the module docstring); never raises for a bad file (a rejected file is a
        result), only for storage failures or :class:`FileChanged`. ``saves`` runs the batches' saves
        (default: each at once); every save is done when this returns or raises."""
        policy = policy or FeedPolicy()
        try:
            name = parse_eligibility_name(file_name, partner_id)
        except FileRejected as rejected:
            return self._rejected(partner_id, file_name, open_file, rejected)
        with open_file() as stream:
            try:
                scanned = scan(stream, name.format)
            except FileRejected as rejected:
                return self._rejected(partner_id, file_name, open_file, rejected)
        file = self.app.find(EligibilityFile, eligibility_file_id(partner_id, scanned.digest))
        if file is not None and file.status is not FileStatus.LOADING:
            return _result(file, already_processed=True)
        if file is None:
            file = EligibilityFile.receive(partner_id, file_name, scanned.digest, scanned.size, scanned.rows)
            self.app.save(file)
        self._settle_open_batches(file)
        queue = saves or InlineSaves()
        try:
            self._load_rows(file, name, scanned, open_file, policy, progress, queue)
        finally:
            queue.drain()
        file.complete(policy.alert_share)
        self.app.save(file)
        return _result(file, already_processed=False)

    def _rejected(
        self,
        partner_id: str,
        file_name: str,
        open_file: OpenFile,
        rejected: FileRejected,
    ) -> LoadResult:
        with open_file() as stream:
            digest, size = _digest(stream)
        file = self.app.find(EligibilityFile, eligibility_file_id(partner_id, digest))
        if file is not None:
            return _result(file, already_processed=True)
        file = EligibilityFile.reject(
            partner_id, file_name, digest, size, rejected.rejection, rejected.message, rejected.line
        )
        self.app.save(file)
        return _result(file, already_processed=False)

    def _settle_open_batches(self, file: EligibilityFile) -> None:
        """A crash after a batch's save and before its counters: settle them now, from the log."""
        prefix = f"{BATCH_MARK}{file.id}:"
        for change in self.outcomes.store.open_changes():
            if change.partner_member_id.startswith(prefix):
                self.outcomes.recover_batch(change)

    def _load_rows(
        self,
        file: EligibilityFile,
        name: EligibilityFileName,
        scanned: FileScan,
        open_file: OpenFile,
        policy: FeedPolicy,
        progress: Progress | None,
        saves: SaveQueue,
    ) -> None:
        """Batches of ``policy.batch_size`` rows: read here, prepared by the preparer (checks, keys, sealing:
        :mod:`~ledger_core.members.feeds.preparation`), then planned here and saved through ``saves``, in
        file order."""
        batches = self._row_batches(file, name, scanned, open_file, policy)
        on = today(self.members.clock)
        big = scanned.rows - file.rows_through > 2 * policy.batch_size
        preparer: RowPreparer = self.preparer if self.preparer is not None and big else self.local
        for prepared in preparer.prepare(str(file.partner_id), on, batches):
            saves.submit(self._save(file, prepared))
            if progress is not None:
                progress(prepared.through, scanned.rows)
        if progress is not None:
            progress(scanned.rows, scanned.rows)

    def _row_batches(
        self,
        file: EligibilityFile,
        name: EligibilityFileName,
        scanned: FileScan,
        open_file: OpenFile,
        policy: FeedPolicy,
    ) -> Iterator[RowBatch]:
        """The file's rows after ``file.rows_through``, in batches; raises :class:`FileChanged` at the end when
        the bytes are not those scanned."""
        rows: list[RawRecord] = []
        problems: list[RowProblem] = []
        done = last_row = file.rows_through  # the last row of the last batch read (the file's own figure
        # moves when that batch's save runs, which may be later, on the save queue's thread)
        with open_file() as stream:
            reader = RecordReader(stream, name.format)
            for record in reader:
                if record.row <= done:
                    continue
                last_row = record.row
                if _readable(record, scanned, problems):
                    rows.append(record)
                if record.row - done >= policy.batch_size:
                    yield RowBatch(rows, problems, record.row)
                    rows, problems, done = [], [], record.row
            if last_row > done:
                yield RowBatch(rows, problems, last_row)
            if reader.digest != scanned.digest:
                raise FileChanged("the file changed while it was processed", file_name=file.file_name)

    def _save(self, file: EligibilityFile, prepared: PreparedBatch) -> Callable[[], object]:
        """Plan the batch now; return its save (the batch's events and its ``batch_loaded``, one save)."""
        planned = self.batches.plan_sealed(str(file.partner_id), prepared.records, present=self.present)
        return lambda: self.batches.save_batch(planned, self._closer(file, prepared))

    @staticmethod
    def _closer(
        file: EligibilityFile, prepared: PreparedBatch
    ) -> Callable[[int, Sequence[BatchOutcome]], EligibilityFile]:
        """The batch's ``close_batch``: records ``batch_loaded`` on ``file`` with the batch's figures."""
        places = {
            record.partner_member_id: place for record, place in zip(prepared.records, prepared.places, strict=True)
        }
        opted_in = {record.partner_member_id for record in prepared.records if record.email_opt_in}

        def close_batch(member_events: int, outcomes: Sequence[BatchOutcome]) -> EligibilityFile:
            counts = dict.fromkeys(BatchChange, 0)
            refused = list(prepared.problems)
            notify = [
                outcome.partner_member_id
                for outcome in outcomes
                if outcome.change is BatchChange.CREATED and outcome.partner_member_id in opted_in
            ]
            for outcome in outcomes:
                counts[outcome.change] += 1
                if outcome.change is BatchChange.ERASED:
                    row, line = places[outcome.partner_member_id]
                    reason = "the member was erased and is not registered again"
                    refused.append(RowProblem(row, line, outcome.partner_member_id, RowRefusal.ERASED, None, reason))
            refused.sort(key=lambda problem: problem.row)
            file.record_batch(
                rows_through=prepared.through,
                created=counts[BatchChange.CREATED],
                updated=counts[BatchChange.UPDATED],
                unchanged=counts[BatchChange.UNCHANGED],
                member_events=member_events,
                problems=refused,
                notify=notify,
            )
            return file

        return close_batch

    def notices(self, partner_id: str, digest: str) -> list[EligibilityNotice]:
        """The members the file with ``digest`` registered who opted in to email, in file order (from its
        batch events); whether each was emailed already is the member's own record
        (:meth:`Member.record_eligibility_email`)."""
        file_id = eligibility_file_id(partner_id, digest)
        found: list[EligibilityNotice] = []
        for envelope in self.app.history(file_id):
            if envelope.type == EligibilityFile.BatchLoaded.EVENT_TYPE:
                found.extend(EligibilityNotice(pmid, file_id) for pmid in envelope.payload.get("notify") or ())
        return found

    def problems(self, partner_id: str, digest: str) -> list[RowProblem]:
        """Every problem recorded for the file with ``digest``, by row (from its batch events in the log)."""
        found: list[RowProblem] = []
        for envelope in self.app.history(eligibility_file_id(partner_id, digest)):
            if envelope.type == EligibilityFile.BatchLoaded.EVENT_TYPE:
                found.extend(RowProblem.from_json(problem) for problem in envelope.payload.get("problems", []))
        return found


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _result(file: EligibilityFile, *, already_processed: bool) -> LoadResult:
    if file.status is FileStatus.LOADING:
        raise InvalidTransition("eligibility_file", file.status.value, "result")
    return LoadResult(
        partner_id=str(file.partner_id),
        file_name=file.file_name,
        file_id=file.id,
        digest=file.digest,
        status=file.status,
        rows=file.rows,
        created=file.created,
        updated=file.updated,
        unchanged=file.unchanged,
        refused=file.refused,
        alert=file.alert,
        already_processed=already_processed,
        rejection=file.rejection,
        message=file.message,
        line=file.line,
    )
