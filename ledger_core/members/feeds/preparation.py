"""Preparing an eligibility file's batches: the per-row work of the bulk path that needs no log (issue 14 item 9).

Each record is checked with the API's rules (:func:`~ledger_core.members.member.check_record`, on the date of
the load) and the valid ones are sealed under their members' keys (:meth:`MemberBatches.seal_records`: one
key-store call per batch). What comes back holds no plaintext: the sealed and plain fields, and a
:class:`~ledger_core.members.feeds.formats.RowProblem` per refused record (never its personal value).

This is most of the bulk path's CPU and is independent from batch to batch, so it may run elsewhere:
:class:`LocalPreparer` runs it in the loading process; ``adapters.feed_preparation`` runs it in
worker processes with their own key-store connection, several batches ahead of the loader. Either way the
loader receives the batches in file order and plans and saves them there; the log is written only by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ledger_core.engine.errors import InvalidCommand, LedgerError
from ledger_core.members.errors import NotEligible
from ledger_core.members.feeds.formats import RowProblem, RowRefusal
from ledger_core.members.feeds.parsing import RawRecord
from ledger_core.members.member_batches import MemberBatches, SealedRecord
from ledger_core.members.member_record import CheckedRecord, EligibilityRecord, check_record
from ledger_core.members.privacy import PersonalDataVault


@dataclass(frozen=True, slots=True)
class RowBatch:
    """One batch of a file as read: ``rows`` to check and seal (each with fields, none superseded), the
    problems the reader found in the batch already, and the last row of the batch (``through``)."""

    rows: list[RawRecord]
    problems: list[RowProblem]
    through: int


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A :class:`RowBatch` prepared: ``records`` the valid rows sealed, in file order, with their ``places``
    (row, line) beside them; ``problems`` every refused row of the batch (the reader's and the checks')."""

    records: list[SealedRecord]
    places: list[tuple[int, int | None]]
    problems: list[RowProblem]
    through: int


def refusal_of(error: LedgerError) -> tuple[RowRefusal, str | None, str]:
    """How a refused record is reported: the refusal, the field and the reason (never the value)."""
    field = error.details.get("field")
    if isinstance(error, NotEligible):
        return RowRefusal.NOT_ELIGIBLE, str(field) if field else None, error.message
    if error.message.startswith("missing required fields"):
        return RowRefusal.MISSING, str(field) if field else None, "required field is empty or absent"
    return RowRefusal.INVALID, str(field) if field else None, error.message


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """A :class:`RowBatch` checked (:func:`check_batch`), not sealed yet: ``records`` the valid rows in
    plaintext (as the rows themselves, it crosses only to a preparation worker of this deployment), with their
    ``places`` beside them; ``problems`` every refused row of the batch (the reader's and the checks')."""

    records: list[CheckedRecord]
    places: list[tuple[int, int | None]]
    problems: list[RowProblem]
    through: int


def check_batch(on: date, batch: RowBatch) -> CheckedBatch:
    """Check every row of ``batch`` with the API's rules on the date ``on`` (:func:`check_record`); a refused
    row becomes a :class:`RowProblem` (never its personal value)."""
    problems = list(batch.problems)
    checked: list[CheckedRecord] = []
    places: list[tuple[int, int | None]] = []
    for record in batch.rows:
        fields = record.fields or {}
        try:
            checked.append(check_record(EligibilityRecord.from_row(fields), on))
        except (InvalidCommand, NotEligible) as error:
            refusal, field, reason = refusal_of(error)
            known = fields.get("partner_member_id") if field != "partner_member_id" else None
            problems.append(RowProblem(record.row, record.line, known, refusal, field, reason))
            continue
        places.append((record.row, record.line))
    return CheckedBatch(checked, places, problems, batch.through)


def seal_checked(vault: PersonalDataVault, partner_id: str, batch: CheckedBatch) -> PreparedBatch:
    """Seal the valid rows of a checked batch under their members' keys (:meth:`MemberBatches.seal_records`)."""
    records = MemberBatches.seal_records(vault, partner_id, batch.records)
    return PreparedBatch(records, batch.places, batch.problems, batch.through)


def prepare_batch(vault: PersonalDataVault, partner_id: str, on: date, batch: RowBatch | CheckedBatch) -> PreparedBatch:
    """Check every row of ``batch`` on the date ``on`` (unless it is checked already) and seal the valid ones
    (see the module docstring)."""
    checked = batch if isinstance(batch, CheckedBatch) else check_batch(on, batch)
    return seal_checked(vault, partner_id, checked)


class RowPreparer(Protocol):
    """Prepares a file's batches (:func:`prepare_batch`) and yields them in the order given."""

    def prepare(self, partner_id: str, on: date, batches: Iterable[RowBatch]) -> Iterator[PreparedBatch]:
        """:func:`prepare_batch` of each of ``batches``, in order; may read ahead of what was taken."""
        ...


class LocalPreparer:
    """A :class:`RowPreparer` in the calling process, one batch at a time (the default)."""

    def __init__(self, vault: PersonalDataVault) -> None:
        self.vault = vault

    def prepare(self, partner_id: str, on: date, batches: Iterable[RowBatch]) -> Iterator[PreparedBatch]:
        for batch in batches:
            yield prepare_batch(self.vault, partner_id, on, batch)
