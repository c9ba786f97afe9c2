"""Preparing a JSON Lines claims file's records away from the loader (issue 15): parsing and the API's checks.

Reading a record (JSON with the duplicate-key and float hooks, :func:`~.lines.parse_json_record`) and checking
it (:meth:`~.lines.LineChecks.record`, :func:`~ledger_core.claims.submission.validate_submission`) needs
nothing but the record, the file's partner and its default level: it is independent of the log and of the
other lines. So the loader may read the file's records as text (:meth:`~.lines.ClaimReader.json_records`, cut
into chunks by :func:`record_chunks` exactly where :class:`~.importing.ClaimImport` cuts its chunks of lines)
and hand the chunks to a :class:`LinePreparer` that prepares them elsewhere (``adapters.batch.workers``: a
worker process) and gives back the same :class:`~.lines.ClaimLine`, in file order. The risk decisions, which
depend on the partner's history, stay in the loader, in order.

What crosses between processes is plain data: the records' text one way, :func:`pack_line` tuples the other
(unpickling the dataclasses and enums themselves cost about half of what the checks cost;
:func:`unpack_line` rebuilds them from the values, equal to what the checks built).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

from ledger_core.claims.batch.formats import BatchKind
from ledger_core.claims.batch.lines import ClaimLine, LineChecks, RawRecord, parse_json_record
from ledger_core.claims.submission import ClaimDocument, ClaimSubmission
from ledger_core.shared.chunks import chunked
from ledger_core.shared.money import Currency
from ledger_core.shared.vocabulary import ClaimType, DocumentType, VerificationLevel

PackedLine = tuple[Any, ...]
"""A :class:`ClaimLine` of an import file as plain values (:func:`pack_line`, :func:`unpack_line`)."""

_CLAIM_TYPES = {member.value: member for member in ClaimType}
_CURRENCIES = {member.value: member for member in Currency}
_DOCUMENT_TYPES = {member.value: member for member in DocumentType}
_LEVELS = {member.value: member for member in VerificationLevel}


def prepare_records(partner_id: str, default_level: str, records: Sequence[RawRecord]) -> list[PackedLine]:
    """The packed :class:`ClaimLine` of each of an import file's ``records``, in order."""
    checks = LineChecks(partner_id, default_level, BatchKind.IMPORT)
    return [
        pack_line(checks.record(*parse_json_record(number, text, overlong, BatchKind.IMPORT)))
        for number, text, overlong in records
    ]


def pack_line(line: ClaimLine) -> PackedLine:
    """An import file's line as plain values (its ``claim_id`` and ``expected`` are None: import lines have none)."""
    claim = line.submission
    if claim is None:
        return (line.line, None, line.partner_claim_id, line.field, line.reason)
    documents = tuple((document.type.value, document.hash, document.metadata) for document in claim.documents)
    return (
        line.line,
        (
            claim.partner_id,
            claim.partner_claim_id,
            claim.claim_type.value,
            str(claim.claim_amount),  # a Decimal's string gives back the same digits and exponent
            claim.currency.value,
            claim.submitted_at,
            documents,
            claim.verification_level.value,
        ),
    )


def unpack_line(packed: PackedLine) -> ClaimLine:
    """The :class:`ClaimLine` :func:`pack_line` packed (equal to it)."""
    if packed[1] is None:
        number, _, partner_claim_id, field, reason = packed
        return ClaimLine(number, None, partner_claim_id, field, reason)
    number, (partner_id, partner_claim_id, claim_type, amount, currency, submitted_at, documents, level) = packed
    submission = ClaimSubmission(
        partner_id,
        partner_claim_id,
        _CLAIM_TYPES[claim_type],
        Decimal(amount),
        _CURRENCIES[currency],
        submitted_at,
        tuple(ClaimDocument(_DOCUMENT_TYPES[kind], digest, metadata) for kind, digest, metadata in documents),
        _LEVELS[level],
    )
    return ClaimLine(number, submission, partner_claim_id)


def record_chunks(records: Iterable[RawRecord], done: int, size: int) -> Iterator[list[RawRecord]]:
    """``records`` after line ``done``, ``size`` at a time: the chunks of lines the import cuts (a record is
    one line, refused or not)."""
    return chunked((record for record in records if record[0] > done), size)


class LinePreparer(Protocol):
    """Prepares an import file's chunks of records (:func:`prepare_records`) and yields their lines in order."""

    def prepare(
        self, partner_id: str, default_level: str, chunks: Iterable[list[RawRecord]]
    ) -> Iterator[list[ClaimLine]]:
        """The lines of each of ``chunks``, in order; may read ahead of what was taken."""
        ...


class LocalLinePreparer:
    """A :class:`LinePreparer` in the calling process, through the packed form (what a worker's gives back)."""

    def prepare(
        self, partner_id: str, default_level: str, chunks: Iterable[list[RawRecord]]
    ) -> Iterator[list[ClaimLine]]:
        for chunk in chunks:
            yield [unpack_line(packed) for packed in prepare_records(partner_id, default_level, chunk)]
