"""An inbound claims file as an aggregate: received, loaded chunk by chunk, completed, or rejected whole.

The id is ``derive_id("claims_file", partner_id, sha256 of the file)`` (as every partner file's:
:mod:`ledger_core.shared.partner_file`): the same file run again finds its aggregate and records nothing,
and a run killed midway resumes after the last recorded chunk. Each ``claimsfile.chunk_loaded`` event
records, per line of the chunk, what became of it (:class:`~.formats.LineOutcome`, the claim id when there
is one, the field and reason when refused): the results file is written from the log, so a resumed run
writes the same results as an uninterrupted one. Claims carry no personal data; a reason may quote the
partner's own claim fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.claims.batch.formats import BatchFileRejection, LineOutcome
from ledger_core.engine.aggregate import derive_id
from ledger_core.shared.partner_file import PartnerFile
from ledger_core.shared.validation import check_sha256_hex


class ClaimsFileStatus(StrEnum):
    LOADING = "loading"
    COMPLETED = "completed"
    """Every line has an outcome (some may be refusals: see the counts)."""
    REJECTED = "rejected"
    """Rejected whole: nothing of it loaded."""


CLAIMS_FILE = "claims_file"


def claims_file_id(partner_id: str, digest: str) -> UUID:
    return derive_id(CLAIMS_FILE, partner_id, digest)


@dataclass(frozen=True, slots=True)
class LineResult:
    """What became of one line (recorded in the log, never a personal value)."""

    line: int
    outcome: LineOutcome
    partner_claim_id: str | None = None
    claim_id: str | None = None
    field: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        optional = {
            "partnerClaimId": self.partner_claim_id,
            "claimId": self.claim_id,
            "field": self.field,
            "reason": self.reason,
        }
        return {"line": self.line, "outcome": self.outcome.value} | {k: v for k, v in optional.items() if v is not None}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> LineResult:
        return cls(
            line=int(document["line"]),
            outcome=LineOutcome(document["outcome"]),
            partner_claim_id=document.get("partnerClaimId"),
            claim_id=document.get("claimId"),
            field=document.get("field"),
            reason=document.get("reason"),
        )


class ClaimsFile(PartnerFile[ClaimsFileStatus, BatchFileRejection]):
    """One partner's claims file, identified by its SHA-256."""

    AGGREGATE_TYPE: ClassVar[str] = "ClaimsFile"
    FILE_KIND: ClassVar[str] = CLAIMS_FILE
    STATUS: ClassVar[type[StrEnum]] = ClaimsFileStatus
    REJECTION: ClassVar[type[StrEnum]] = BatchFileRejection

    class Event(PartnerFile.Event):
        pass

    class Created(Event, PartnerFile.Created):
        pass

    class Received(Created, PartnerFile.Received):
        EVENT_TYPE: ClassVar[str] = "claimsfile.received"
        default_level: str

    class Rejected(Created, PartnerFile.Rejected):
        EVENT_TYPE: ClassVar[str] = "claimsfile.rejected"

    class ChunkLoaded(Event):
        EVENT_TYPE: ClassVar[str] = "claimsfile.chunk_loaded"
        lines_through: int
        results: list[dict[str, Any]]

        def apply(self, aggregate: ClaimsFile) -> None:
            aggregate.lines_through = self.lines_through
            for result in self.results:
                outcome = LineOutcome(result["outcome"])
                aggregate.counts[outcome] = aggregate.counts.get(outcome, 0) + 1

    class Completed(Event):
        EVENT_TYPE: ClassVar[str] = "claimsfile.completed"
        lines: int
        counts: dict[str, int]
        report_sha256: str | None = None
        """Reconciliation: the SHA-256 of the report file written for the partner."""

        def apply(self, aggregate: ClaimsFile) -> None:
            aggregate.status = ClaimsFileStatus.COMPLETED
            aggregate.lines_through = self.lines
            aggregate.counts = {LineOutcome(name): count for name, count in self.counts.items()}
            aggregate.report_sha256 = self.report_sha256

    def __init__(
        self,
        partner_id: str | None,
        file_name: str,
        digest: str,
        size: int,
        default_level: str = "",
        rejection: str | None = None,
        message: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(partner_id, file_name, digest, size, rejection, message, line)
        self.default_level = default_level
        self.lines_through = 0
        self.counts: dict[LineOutcome, int] = {}
        self.report_sha256: str | None = None

    @classmethod
    def receive(cls, partner_id: str, file_name: str, digest: str, size: int, default_level: str) -> ClaimsFile:
        return cls._received(partner_id, file_name, digest, size, default_level=default_level)

    @classmethod
    def reject(
        cls,
        partner_id: str,
        file_name: str,
        digest: str,
        size: int,
        rejection: BatchFileRejection,
        message: str,
        line: int | None,
    ) -> ClaimsFile:
        return cls._rejected(partner_id, file_name, digest, size, rejection, message, line)

    def record_chunk(self, lines_through: int, results: list[LineResult]) -> None:
        """Lines up to ``lines_through`` are done; ``results`` says what became of each of them."""
        self._require_loading("record_chunk", stale=lines_through <= self.lines_through)
        self.trigger_event(self.ChunkLoaded, lines_through=lines_through, results=[r.as_json() for r in results])

    def complete(
        self, lines: int, counts: dict[LineOutcome, int] | None = None, report_sha256: str | None = None
    ) -> None:
        """Close the file. ``counts`` (reconciliation, which records no chunks) replaces the chunks' counts."""
        self._require_loading("complete")
        final = self.counts if counts is None else counts
        self.trigger_event(
            self.Completed,
            lines=lines,
            counts={outcome.value: count for outcome, count in sorted(final.items())},
            report_sha256=None if report_sha256 is None else check_sha256_hex(report_sha256, "report_sha256"),
        )

    @property
    def refused(self) -> int:
        return sum(count for outcome, count in self.counts.items() if not outcome.has_claim)
