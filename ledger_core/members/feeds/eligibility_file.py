"""An inbound eligibility file as an aggregate: received, loaded batch by batch, completed, or rejected whole.

The id is ``derive_id("eligibility_file", partner_id, sha256 of the file)`` (as every partner file's:
:mod:`ledger_core.shared.partner_file`), so the same file processed again finds its aggregate and records
nothing (seed 001 §2.2 "deduplicate"), and a file whose processing was killed resumes after its last
recorded batch. Each ``eligibilityfile.batch_loaded`` event is saved in the SAME save as the member events
of its batch (:meth:`MemberBatches.upsert_batch`), after them, so the log says exactly which rows are
done: the row position is durable with the data.

Events carry counts and :class:`~ledger_core.members.feeds.formats.RowProblem` entries (row, line, field,
fixed reason, the partner's member id when valid) and the partner member ids of the batch's new members who
opted in to email (``notify``): never a personal value. ``eligibilityfile.rejected``
and an alerting ``eligibilityfile.completed`` become ``audit.alert`` webhooks
(:mod:`ledger_core.webhooks.events`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import derive_id
from ledger_core.members.feeds.formats import FileRejection, RowProblem
from ledger_core.shared.partner_file import PartnerFile


class FileStatus(StrEnum):
    """Where an inbound file stands; the last three are final."""

    LOADING = "loading"
    ACCEPTED = "accepted"
    """Every record loaded (or was already up to date)."""
    PARTIAL = "partial"
    """Some records were skipped and reported; every valid one loaded."""
    REJECTED = "rejected"
    """Rejected whole: nothing of it loaded."""


ELIGIBILITY_FILE = "eligibility_file"


def eligibility_file_id(partner_id: str, digest: str) -> UUID:
    return derive_id(ELIGIBILITY_FILE, partner_id, digest)


class EligibilityFile(PartnerFile[FileStatus, FileRejection]):
    """One partner's eligibility file, identified by its SHA-256."""

    AGGREGATE_TYPE: ClassVar[str] = "EligibilityFile"
    FILE_KIND: ClassVar[str] = ELIGIBILITY_FILE
    STATUS: ClassVar[type[StrEnum]] = FileStatus
    REJECTION: ClassVar[type[StrEnum]] = FileRejection

    class Event(PartnerFile.Event):
        pass

    class Created(Event, PartnerFile.Created):
        pass

    class Received(Created, PartnerFile.Received):
        EVENT_TYPE: ClassVar[str] = "eligibilityfile.received"
        rows: int

    class Rejected(Created, PartnerFile.Rejected):
        EVENT_TYPE: ClassVar[str] = "eligibilityfile.rejected"

    class BatchLoaded(Event):
        EVENT_TYPE: ClassVar[str] = "eligibilityfile.batch_loaded"
        rows_through: int
        created: int
        updated: int
        unchanged: int
        refused: int
        member_events: int
        problems: list[dict[str, Any]]
        notify: list[str] | None = None
        """Partner member ids registered by this batch who opted in to email (to be sent "you're eligible")."""

        def apply(self, aggregate: EligibilityFile) -> None:
            aggregate.rows_through = self.rows_through
            aggregate.created += self.created
            aggregate.updated += self.updated
            aggregate.unchanged += self.unchanged
            aggregate.refused += self.refused

    class Completed(Event):
        EVENT_TYPE: ClassVar[str] = "eligibilityfile.completed"
        status: str
        rows: int
        accepted: int
        refused: int
        alert: bool

        def apply(self, aggregate: EligibilityFile) -> None:
            aggregate.status = FileStatus(self.status)
            aggregate.alert = self.alert

    def __init__(
        self,
        partner_id: str | None,
        file_name: str,
        digest: str,
        size: int,
        rows: int = 0,
        rejection: str | None = None,
        message: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(partner_id, file_name, digest, size, rejection, message, line)
        self.rows = rows
        self.rows_through = 0
        self.created = self.updated = self.unchanged = self.refused = 0
        self.alert = rejection is not None

    @classmethod
    def receive(cls, partner_id: str, file_name: str, digest: str, size: int, rows: int) -> EligibilityFile:
        return cls._received(partner_id, file_name, digest, size, rows=rows)

    @classmethod
    def reject(
        cls,
        partner_id: str,
        file_name: str,
        digest: str,
        size: int,
        rejection: FileRejection,
        message: str,
        line: int | None,
    ) -> EligibilityFile:
        return cls._rejected(partner_id, file_name, digest, size, rejection, message, line)

    def record_batch(
        self,
        *,
        rows_through: int,
        created: int,
        updated: int,
        unchanged: int,
        member_events: int,
        problems: list[RowProblem],
        notify: list[str] | None = None,
    ) -> None:
        """Rows up to ``rows_through`` are done; ``member_events`` events of the same save precede this one."""
        self._require_loading("record_batch", stale=rows_through <= self.rows_through)
        self.trigger_event(
            self.BatchLoaded,
            rows_through=rows_through,
            created=created,
            updated=updated,
            unchanged=unchanged,
            refused=len(problems),
            member_events=member_events,
            problems=[problem.as_json() for problem in problems],
            notify=list(notify or ()),
        )

    def complete(self, alert_share: float) -> None:
        """Close the file: ``partial`` when any record was skipped; ``alert`` when more than ``alert_share``
        of its records were."""
        self._require_loading("complete")
        status = FileStatus.PARTIAL if self.refused else FileStatus.ACCEPTED
        alert = self.rows > 0 and self.refused / self.rows > alert_share
        self.trigger_event(
            self.Completed,
            status=status.value,
            rows=self.rows,
            accepted=self.accepted,
            refused=self.refused,
            alert=alert,
        )

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged
